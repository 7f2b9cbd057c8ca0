/* libFuzzer target: a study resumed from a journal whose first line is a fixed, valid study and whose other
 * lines are the input (a crash may tear them, a person may edit them). The study then runs to its end against
 * an objective that answers at once. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <ftw.h>
#include <sys/stat.h>

#include "../../src/tune/internal.h"
#include "fuzz_util.h"

static const char HEAD[] =
    "{\"event\":\"study\",\"version\":1,\"sweep_file\":\"/dev/shm/"
    "sweep.json\",\"sweep\":{\"base\":\"b.json\","
    "\"metric\":\"val_loss\",\"trials\":5,\"sampler\":{\"type\":\"tpe\",\"startup_trials\":2},"
    "\"pruner\":{\"type\":\"asha\",\"min_epochs\":1,\"max_epochs\":4,\"reduction_factor\":2},\"space\":{"
    "\"optimizer.learning_rate\":{\"loguniform\":[0.0001,0.1]},\"model.layers.0.units\":{\"choice\":[4,8,16]}"
    ","
    "\"optimizer.momentum\":{\"uniform\":[0.5,0.9],\"if\":{\"optimizer.type\":\"sgd\"}}}},"
    "\"base_file\":\"/dev/shm/b.json\",\"base\":{\"data\":{\"train\":{\"format\":\"csv\",\"path\":\"x.csv\"},"
    "\"validation_split\":0.2},\"model\":{\"layers\":[{\"type\":\"dense\",\"units\":8,\"activation\":"
    "\"relu\"},"
    "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]},\"loss\":\"cross_entropy\","
    "\"optimizer\":{\"type\":\"adam\",\"learning_rate\":0.001},\"training\":{\"epochs\":4}},"
    "\"threads_per_trial\":1,\"t\":0}\n";

typedef struct {
    int trial[4], until[4], n;
} instant;

static dnn_status start(void *ctx, const dnn_tune_job *job, dnn_error *err)
{
    instant *f = ctx;
    (void)err;
    f->trial[f->n] = job->trial;
    f->until[f->n++] = job->until;
    return DNN_OK;
}

static dnn_status wait_one(void *ctx, dnn_tune_outcome *out, dnn_error *err)
{
    instant *f = ctx;
    (void)err;
    memset(out, 0, sizeof *out);
    f->n--;
    out->trial = f->trial[f->n];
    out->epochs = f->until[f->n];
    out->values = malloc(((size_t)out->epochs + 1) * sizeof(double));
    for (int e = 0; e < out->epochs; e++) out->values[e] = 1.0 / (1 + e + out->trial % 3);
    return DNN_OK;
}

static void stop(void *ctx, int force)
{
    (void)ctx;
    (void)force;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static char dir[128];

static void clean_up(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/dev/shm/dnn-fuzz-journal-%ld", (long)getpid());
    atexit(clean_up);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[160];
    clean_up();
    if (mkdir(dir, 0755) != 0) abort();
    snprintf(path, sizeof path, "%s/study.jsonl", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(HEAD, f) < 0 || (size && fwrite(data, 1, size, f) != size) || fclose(f)) abort();
    instant fake = {.n = 0};
    dnn_tune_runner r = {start, wait_one, stop, &fake};
    dnn_tune_opts o = {.resume_dir = dir, .jobs = 2, .runner = &r};
    dnn_tune_result res;
    dnn_error err;
    dnn_tune_run(&o, &res, &err);
    dnn_tune_result_free(&res);
    return 0;
}
