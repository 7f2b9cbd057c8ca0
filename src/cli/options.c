/* Option tables of dnntrain, dnneval and dnntune. */
#include "options.h"

const cli_option DNNTRAIN_OPTIONS[] = {
    {"config", required_argument, T_CONFIG, "FILE.json", NULL, "the run's config (required unless --resume)"},
    {"resume", required_argument, T_RESUME, "CKPT", NULL, "continue the run saved in a checkpoint"},
    {"out", required_argument, T_OUT, "DIR", "output.dir, else runs/<config stem>",
     "folder for checkpoints, logs and the report"},
    {"overwrite", no_argument, T_OVERWRITE, NULL, NULL,
     "let a fresh run replace another run's files in its folder (they are removed first)"},
    {"set", required_argument, T_SET, "KEY=VALUE", NULL, "override a config key by dotted path (repeatable)"},
    {"threads", required_argument, T_THREADS, "N", "all cores, or OPENBLAS_NUM_THREADS",
     "threads (a batch's rows split across them)"},
    {"seed", required_argument, T_SEED, "N", "the config's seed, else 0",
     "seed for initialisation, splits, shuffling and dropout"},
    {"max-memory", required_argument, T_MAX_MEMORY, "SIZE", "3/4 of physical memory",
     "refuse data or a network larger than this (e.g. 512M, 8G)"},
    {"until-epoch", required_argument, T_UNTIL_EPOCH, "N", NULL,
     "pause after epoch N (checkpointed, no final report); --resume goes on to training.epochs"},
    {"precision", required_argument, T_PRECISION, "P", "training.precision, else fp32",
     "products in fp32, or bf16 with fp32 accumulation (CPUs with AVX512_BF16)"},
    {"quiet", no_argument, T_QUIET, NULL, NULL, "print nothing but errors"},
    {"verbose", no_argument, T_VERBOSE, NULL, NULL, "print details of data and model"},
    {"help", no_argument, T_HELP, NULL, NULL, "show this help"},
    {"version", no_argument, T_VERSION, NULL, NULL, "show the version and the BLAS in use"},
};

const char DNNTRAIN_USAGE[] =
    "Usage: dnntrain --config FILE.json [--out DIR] [--overwrite] [--set KEY=VALUE]... [--threads N] [--seed "
    "N]\n"
    "                [--precision fp32|bf16]\n"
    "       dnntrain --resume CKPT [--config FILE.json] [--out DIR] [--set KEY=VALUE]...\n"
    "Train the network a JSON config describes; write ckpt.bin, train.jsonl and report.json into one "
    "folder.\n";
const char DNNTRAIN_EXAMPLES[] =
    "  dnntrain --config configs/mlp.json\n"
    "  dnntrain --config configs/mlp.json --set training.epochs=3 --out runs/quick\n"
    "  dnntrain --resume runs/mlp/ckpt.bin --set training.epochs=20\n"
    "  mpirun -np 2 dnntrain --config configs/mlp.json   (data-parallel, with Open MPI)\n";

const int DNNTRAIN_N_OPTIONS = (int)(sizeof DNNTRAIN_OPTIONS / sizeof DNNTRAIN_OPTIONS[0]);

const cli_option DNNEVAL_OPTIONS[] = {
    {"model", required_argument, E_MODEL, "CKPT", NULL, "the checkpoint to score (required)"},
    {"data", required_argument, E_DATA, "SPEC", "the test set of the checkpoint's config",
     "data: an IDX images file, a .csv or .csv.gz file, a quoted glob of CSV parts, or - for CSV on stdin"},
    {"labels", required_argument, E_LABELS, "FILE", "paired by name with --data",
     "IDX labels file for --data"},
    {"header", required_argument, E_HEADER, "B", "as in training, else auto",
     "CSV header line: true, false or auto"},
    {"delimiter", required_argument, E_DELIMITER, "C", "as in training, else auto",
     "CSV delimiter: , ; tab | or auto"},
    {"label", required_argument, E_LABEL, "COL", "as in training, else the last column",
     "CSV label column, by name or index (repeat for several targets)"},
    {"json", no_argument, E_JSON, NULL, NULL, "print the report as JSON on stdout"},
    {"report", required_argument, E_REPORT, "FILE.json", NULL, "also write the JSON report to a file"},
    {"predict", required_argument, E_PREDICT, "FILE|-", NULL, "write one CSV row of predictions per sample"},
    {"plot", required_argument, E_PLOT, "DIR", NULL,
     "write confusion.svg (classification) or predictions.svg (regression) into DIR"},
    {"top-k", required_argument, E_TOPK, "K", NULL, "also report top-K accuracy"},
    {"info", no_argument, E_INFO, NULL, NULL, "print what the checkpoint holds, without data"},
    {"export", required_argument, E_EXPORT, "FILE.onnx", NULL,
     "write the model as ONNX (IR 7, opset 13) for ONNX Runtime, without data"},
    {"min-accuracy", required_argument, E_MIN_ACC, "X", NULL, "gate: exit 6 when accuracy < X"},
    {"max-loss", required_argument, E_MAX_LOSS, "X", NULL, "gate: exit 6 when the mean loss > X"},
    {"min-f1", required_argument, E_MIN_F1, "X", NULL, "gate: exit 6 when macro F1 < X"},
    {"min-r2", required_argument, E_MIN_R2, "X", NULL, "gate: exit 6 when R^2 < X (regression)"},
    {"max-rmse", required_argument, E_MAX_RMSE, "X", NULL, "gate: exit 6 when RMSE > X (regression)"},
    {"threads", required_argument, E_THREADS, "N", "all cores, or OPENBLAS_NUM_THREADS",
     "threads (a batch's rows split across them)"},
    {"max-memory", required_argument, E_MAX_MEMORY, "SIZE", "3/4 of physical memory",
     "refuse data or a network larger than this (e.g. 512M, 8G)"},
    {"precision", required_argument, E_PRECISION, "P", "fp32",
     "products in fp32, or bf16 with fp32 accumulation (CPUs with AVX512_BF16)"},
    {"quiet", no_argument, E_QUIET, NULL, NULL, "print nothing but errors and failed gates"},
    {"verbose", no_argument, E_VERBOSE, NULL, NULL, "print more detail"},
    {"explain", required_argument, E_EXPLAIN, "METHODS", NULL,
     "explain the model: permutation, saliency, integrated_gradients (comma-separated)"},
    {"repeats", required_argument, E_REPEATS, "R", "5", "permutation: shuffles per column"},
    {"scoring", required_argument, E_SCORING, "S", "accuracy, or r2 for regression",
     "permutation: the score whose drop is measured: accuracy, r2 or loss"},
    {"groups", required_argument, E_GROUPS, "FILE.json", NULL,
     "permutation: columns to shuffle together, {\"group\": [\"column\", ...]}"},
    {"steps", required_argument, E_STEPS, "K", "50", "integrated gradients: points of the path integral"},
    {"ig-method", required_argument, E_IG_METHOD, "RULE", "gausslegendre",
     "integrated gradients' quadrature: gausslegendre or riemann_trapezoid"},
    {"baseline", required_argument, E_BASELINE, "B", "zero",
     "integrated gradients' baseline: zero, mean, or a data file (the mean of its samples)"},
    {"target", required_argument, E_TARGET, "CLASS", "the predicted class",
     "saliency, integrated gradients: the class (or regression target) explained, by name or index"},
    {"explain-samples", required_argument, E_EXPLAIN_SAMPLES, "N", "10",
     "saliency, integrated gradients: samples whose attributions are reported and drawn"},
    {"sanity", no_argument, E_SANITY, NULL, NULL,
     "also explain a re-initialised network and report the rank correlation (low is good)"},
    {"help", no_argument, E_HELP, NULL, NULL, "show this help"},
    {"version", no_argument, E_VERSION, NULL, NULL, "show the version and the BLAS in use"},
};

const char DNNEVAL_USAGE[] =
    "Usage: dnneval --model CKPT [--data SPEC [--labels FILE]] [--json] [--report FILE.json]\n"
    "               [--predict FILE|-] [--top-k K] [--min-accuracy X] [--max-loss X] ...\n"
    "               [--precision fp32|bf16]\n"
    "               [--explain METHODS [--repeats R] [--steps K] [--baseline B] [--sanity] ...]\n"
    "       dnneval --model CKPT --info | --export FILE.onnx\n"
    "Score a checkpoint on data and report accuracy, loss, per-class metrics and the confusion matrix.\n"
    "A failed quality gate exits with 6, after writing the report.\n";
const char DNNEVAL_EXAMPLES[] =
    "  dnneval --model runs/mlp/ckpt.bin\n"
    "  dnneval --model runs/mlp/ckpt.bin --json --min-accuracy 0.88\n"
    "  dnneval --model m.bin --data t10k-images-idx3-ubyte.gz --report eval.json\n"
    "  dnneval --model m.bin --export m.onnx\n"
    "  cat new.csv | dnneval --model m.bin --data - --predict -\n"
    "  dnneval --model runs/housing/ckpt.bin --explain permutation,integrated_gradients --plot why/\n";

const int DNNEVAL_N_OPTIONS = (int)(sizeof DNNEVAL_OPTIONS / sizeof DNNEVAL_OPTIONS[0]);

const cli_option DNNTUNE_OPTIONS[] = {
    {"config", required_argument, U_CONFIG, "SWEEP.json", NULL,
     "the sweep: base config, search space, objective, sampler, budget, pruner"},
    {"out", required_argument, U_OUT, "DIR", "tune/<sweep stem>", "the study's folder"},
    {"jobs", required_argument, U_JOBS, "N", "1", "trials run at once"},
    {"threads-per-trial", required_argument, U_THREADS_PER_TRIAL, "K", "cores / jobs",
     "BLAS threads of each trial (jobs x K may not pass the cores)"},
    {"resume", required_argument, U_RESUME, "DIR", NULL,
     "continue the study in DIR: finished trials stay, interrupted ones go on from their checkpoints"},
    {"overwrite", no_argument, U_OVERWRITE, NULL, NULL, "start again in a folder that holds a study"},
    {"quiet", no_argument, U_QUIET, NULL, NULL, "print nothing but errors"},
    {"help", no_argument, U_HELP, NULL, NULL, "show this help"},
    {"version", no_argument, U_VERSION, NULL, NULL, "show the version"},
};

const char DNNTUNE_USAGE[] =
    "Usage: dnntune --config SWEEP.json [--out DIR] [--jobs N] [--threads-per-trial K] [--quiet]\n"
    "       dnntune --resume DIR [--jobs N] [--threads-per-trial K] [--quiet]\n"
    "Search hyperparameters: run dnntrain trials over a sweep's search space, prune the weak ones early, "
    "and\n"
    "write DIR/trials.csv, DIR/best.json (the best config) and DIR/report.html.\n";
const char DNNTUNE_EXAMPLES[] =
    "  dnntune --config configs/wine-sweep.json\n"
    "  dnntune --config configs/wine-sweep.json --jobs 2 --threads-per-trial 1 --out tune/wine2\n"
    "  dnntune --resume tune/wine-sweep\n"
    "  dnntrain --config tune/wine-sweep/best.json\n";

const int DNNTUNE_N_OPTIONS = (int)(sizeof DNNTUNE_OPTIONS / sizeof DNNTUNE_OPTIONS[0]);

const cli_command DNN_COMMANDS[] = {
    {"dnntrain", DNNTRAIN_OPTIONS, (int)(sizeof DNNTRAIN_OPTIONS / sizeof DNNTRAIN_OPTIONS[0])},
    {"dnneval", DNNEVAL_OPTIONS, (int)(sizeof DNNEVAL_OPTIONS / sizeof DNNEVAL_OPTIONS[0])},
    {"dnntune", DNNTUNE_OPTIONS, (int)(sizeof DNNTUNE_OPTIONS / sizeof DNNTUNE_OPTIONS[0])},
};
const int DNN_N_COMMANDS = (int)(sizeof DNN_COMMANDS / sizeof DNN_COMMANDS[0]);
