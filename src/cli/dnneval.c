/* dnneval: score a checkpoint on data, print or write the report, and gate on quality. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "dnn/checkpoint.h"
#include "dnn/eval.h"
#include "dnn/idx.h"
#include "dnn/plot.h"
#include "dnn/report.h"
#include "dnn/util.h"
#include "options.h"

typedef struct {
    const char *flag;
    double bound;
    int set, is_min;
} gate;

static void print_history(const dnn_train_state *s)
{
    printf("history:\n  epoch       loss   accuracy   val_loss  val_acc        lr\n");
    for (int i = 0; i < s->n_history; i++) {
        const dnn_epoch_log *e = &s->history[i];
        dnn_fprintf_c(stdout, "  %5d %10.4f %10.4f %10.4f %8.4f %9.3g\n", e->epoch, e->loss, e->accuracy,
                      e->val_loss, e->val_accuracy, e->lr);
    }
}

/* A --data argument is CSV when it is "-" or ends in .csv, .tsv or .txt; anything else is IDX. */
static int is_csv(const char *data)
{
    if (strcmp(data, "-") == 0) return 1;
    const char *dot = strrchr(data, '.');
    return dot &&
           (strcasecmp(dot, ".csv") == 0 || strcasecmp(dot, ".tsv") == 0 || strcasecmp(dot, ".txt") == 0);
}

/* Apply --header, --delimiter and --label to a CSV source. */
static int csv_flags(dnn_source_config *src, const char *header, const char *delim, const char **labels,
                     int n_labels, dnn_colref **refs)
{
    if (header) {
        if (strcmp(header, "true") == 0)
            src->header = 1;
        else if (strcmp(header, "false") == 0)
            src->header = 0;
        else if (strcmp(header, "auto") == 0)
            src->header = -1;
        else {
            fprintf(stderr, "dnneval: --header: expected true, false or auto, got \"%s\"\n", header);
            return -1;
        }
    }
    if (delim) {
        if (strcmp(delim, "auto") == 0)
            src->delimiter = 0;
        else if (strcmp(delim, "tab") == 0 || strcmp(delim, "\\t") == 0 || strcmp(delim, "\t") == 0)
            src->delimiter = '\t';
        else if (strlen(delim) == 1 && strchr(",;| ", delim[0]))
            src->delimiter = delim[0];
        else {
            fprintf(stderr, "dnneval: --delimiter: expected , ; tab | or auto, got \"%s\"\n", delim);
            return -1;
        }
    }
    if (n_labels) {
        *refs = calloc((size_t)n_labels, sizeof **refs);
        if (!*refs) return -1;
        for (int i = 0; i < n_labels; i++) {
            char *end;
            long v = strtol(labels[i], &end, 10);
            if (*labels[i] && !*end)
                (*refs)[i].index = v;
            else
                (*refs)[i].name = (char *)labels[i];
        }
        src->label = *refs;
        src->n_label = n_labels;
    }
    return 0;
}

/* --plot DIR: the confusion matrix, or predictions against targets. */
static int write_plot(const char *dir, const dnn_metrics *mt, const dnn_model *m, const dnn_dataset *ds)
{
    dnn_error err = {0};
    dnn_text t = {0};
    const int cls = mt->task == DNN_TASK_CLASSIFICATION;
    if (cls)
        dnn_svg_confusion(&t, mt, m);
    else
        dnn_svg_scatter(&t, mt->pred, ds->t, ds->n, mt->n_targets,
                        m->target_names ? m->target_names[0] : "target 0");
    char *path = dnn_path_join(dir, cls ? "confusion.svg" : "predictions.svg");
    dnn_status st = path ? dnn_mkdirs(dir, &err) : dnn_fail_oom(&err, dir, 0);
    if (!st) st = dnn_text_write(&t, path, &err);
    free(path);
    dnn_text_free(&t);
    if (st) fprintf(stderr, "dnneval: %s\n", err.msg);
    return (int)st;
}

static int info(const char *path)
{
    dnn_model m;
    dnn_train_state s;
    dnn_error err = {0};
    int have_state = 1;
    dnn_status st = dnn_checkpoint_load(path, &m, &s, &err);
    if (st == DNN_EIO && strstr(err.msg, "without training state")) {
        have_state = 0;
        st = dnn_checkpoint_load(path, &m, NULL, &err);
    }
    if (st) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        return (int)st;
    }
    char *conf = cJSON_Print(m.cfg.json);
    printf("checkpoint %s (written by dnn %s)\n", path, m.written_by[0] ? m.written_by : "?");
    printf("task       %s\n", dnn_task_name(m.cfg.task));
    printf("inputs     %d\noutputs    %d\nparameters %zu\n", m.net->n_in, m.net->n_out, m.net->n_params);
    printf("layers    ");
    for (int l = 0; l < m.net->n_layers; l++) {
        const dnn_layer *L = &m.net->layers[l];
        if (L->kind == DNN_LAYER_DENSE)
            printf(" dense(%d, %s)", L->out, dnn_act_name(L->act));
        else if (L->kind == DNN_LAYER_DROPOUT)
            dnn_fprintf_c(stdout, " dropout(%g)", L->rate);
        else
            printf(" batchnorm");
    }
    printf("\n");
    if (m.n_classes) {
        printf("classes    %d:", m.n_classes);
        for (int c = 0; c < m.n_classes; c++) {
            if (m.class_names)
                printf(" %s", m.class_names[c]);
            else
                printf(" %d", c);
        }
        printf("\n");
    }
    if (have_state) {
        printf("epochs     %d (best %d; steps %llu)\n", s.epoch, s.best_epoch, (unsigned long long)s.step);
        print_history(&s);
        dnn_train_state_free(&s);
    }
    printf("config:\n%s\n", conf ? conf : "(unprintable)");
    free(conf);
    dnn_model_free(&m);
    return 0;
}

int main(int argc, char **argv)
{
    cli_parser p;
    cli_init(&p, "dnneval", DNNEVAL_OPTIONS, DNNEVAL_N_OPTIONS);
    const char *model = NULL, *data = NULL, *labels = NULL, *report = NULL, *predict = NULL;
    const char *header = NULL, *delimiter = NULL, *plot = NULL;
    static const char *label_cols[65];
    int n_label_cols = 0;
    int json = 0, quiet = 0, want_info = 0, c;
    long threads = 0, top_k = 0;
    gate gates[] = {{"min-accuracy", 0, 0, 1},
                    {"max-loss", 0, 0, 0},
                    {"min-f1", 0, 0, 1},
                    {"min-r2", 0, 0, 1},
                    {"max-rmse", 0, 0, 0}};
    while ((c = cli_next(&p, argc, argv)) != -1) {
        switch (c) {
        case E_MODEL: model = optarg; break;
        case E_DATA: data = optarg; break;
        case E_LABELS: labels = optarg; break;
        case E_HEADER: header = optarg; break;
        case E_DELIMITER: delimiter = optarg; break;
        case E_LABEL:
            if (n_label_cols == 64) {
                fprintf(stderr, "dnneval: more than 64 --label options\n");
                return 2;
            }
            label_cols[n_label_cols++] = optarg;
            break;
        case E_JSON: json = 1; break;
        case E_REPORT: report = optarg; break;
        case E_PREDICT: predict = optarg; break;
        case E_PLOT: plot = optarg; break;
        case E_TOPK:
            if (cli_int(p.prog, "top-k", optarg, 1, 1 << 20, &top_k)) return 2;
            break;
        case E_INFO: want_info = 1; break;
        case E_MIN_ACC:
        case E_MAX_LOSS:
        case E_MIN_F1:
        case E_MIN_R2:
        case E_MAX_RMSE: {
            gate *g = &gates[c - E_MIN_ACC];
            if (cli_double(p.prog, g->flag, optarg, &g->bound)) return 2;
            g->set = 1;
            break;
        }
        case E_THREADS:
            if (cli_int(p.prog, "threads", optarg, 1, 1024, &threads)) return 2;
            break;
        case E_MAX_MEMORY:
            if (cli_max_memory(p.prog, optarg)) return 2;
            break;
        case E_QUIET: quiet = 1; break;
        case E_VERBOSE: break;
        case E_HELP: cli_help(&p, stdout, DNNEVAL_USAGE, DNNEVAL_EXAMPLES); return 0;
        case E_VERSION:
            cli_set_threads(threads);
            cli_version(p.prog);
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dnneval: unexpected argument \"%s\" (options start with --; see --help)\n",
                argv[optind]);
        return 2;
    }
    if (!model) {
        fprintf(stderr, "dnneval: --model CKPT is required; see --help\n");
        return 2;
    }
    if (labels && !data) {
        fprintf(stderr, "dnneval: --labels needs --data\n");
        return 2;
    }
    cli_set_threads(threads);
    if (want_info) return info(model);

    dnn_error err = {0};
    dnn_model m;
    dnn_status st = dnn_checkpoint_load(model, &m, NULL, &err);
    if (st) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        return (int)st;
    }
    dnn_dataset ds = {0};
    dnn_source_config src = {0};
    dnn_colref *refs = NULL;
    const dnn_source_config *use = NULL;
    if (data) {
        if (is_csv(data)) {
            /* CSV read as in training (header, delimiter, label, missing values), unless flags say otherwise
             */
            if (m.cfg.train.format == DNN_FORMAT_CSV)
                src = m.cfg.train;
            else
                src.header = -1;
            src.format = DNN_FORMAT_CSV;
            src.path = (char *)data;
            if (csv_flags(&src, header, delimiter, label_cols, n_label_cols, &refs)) {
                dnn_model_free(&m);
                return 2;
            }
        } else {
            if (header || delimiter || n_label_cols) {
                fprintf(stderr,
                        "dnneval: --header, --delimiter and --label apply to CSV data, and %s is IDX\n",
                        data);
                dnn_model_free(&m);
                return 2;
            }
            src.format = DNN_FORMAT_IDX;
            src.images = (char *)data;
            src.labels = (char *)labels;
        }
        use = &src;
    } else if (m.cfg.has_test) {
        use = &m.cfg.test;
    } else {
        fprintf(stderr, "dnneval: %s: its config names no test set (data.test); give --data\n", model);
        dnn_model_free(&m);
        return 2;
    }
    dnn_schema sc = dnn_model_schema(&m, 1);
    st = dnn_load_source(&ds, use, m.cfg.task, &sc, &err);
    free(refs);
    if (!st) {
        dnn_model_prepare(&m, &ds);
        st = dnn_model_check_data(&m, &ds, &err);
    }
    if (st) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        dnn_dataset_free(&ds);
        dnn_model_free(&m);
        return (int)st;
    }
    if (!quiet && (ds.dropped_label || ds.dropped_feature))
        fprintf(stderr, "dnneval: %s: dropped %zu rows with a missing label and %zu with missing values\n",
                ds.source, ds.dropped_label, ds.dropped_feature);

    FILE *pf = NULL;
    if (predict) {
        pf = strcmp(predict, "-") == 0 ? stdout : fopen(predict, "w");
        if (!pf) {
            fprintf(stderr, "dnneval: %s: cannot write predictions: %s\n", predict, strerror(errno));
            dnn_dataset_free(&ds);
            dnn_model_free(&m);
            return 4;
        }
    }
    dnn_eval_opts eo = {(int)top_k, pf, predict};
    dnn_metrics mt;
    st = dnn_eval(&m, &ds, &eo, &mt, &err);
    if (pf && pf != stdout && fclose(pf) != 0 && !st)
        st = dnn_fail(&err, DNN_EIO, "%s: write failed", predict);
    if (st) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        dnn_dataset_free(&ds);
        dnn_model_free(&m);
        return (int)st;
    }

    int rc = 0;
    cJSON *rj = dnn_report_json(&mt, &m, model, ds.source);
    if (!rj) rc = 1;
    /* the human report goes to stdout, unless the predictions or the JSON report already do */
    FILE *human = predict && strcmp(predict, "-") == 0 ? stderr : stdout;
    if (!rc && json) {
        char *s = cJSON_Print(rj);
        if (predict && strcmp(predict, "-") == 0)
            fprintf(stderr, "%s\n", s ? s : "");
        else
            printf("%s\n", s ? s : "");
        free(s);
    } else if (!rc && !quiet) {
        dnn_report_print(human, &mt, &m, model, ds.source);
    }
    if (!rc && report && dnn_json_write(report, rj, &err)) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        rc = 4;
    }
    if (!rc && plot && mt.labelled)
        rc = write_plot(plot, &mt, &m, &ds);
    else if (!rc && plot)
        fprintf(stderr, "dnneval: --plot: the data has no labels, so there is nothing to plot\n");
    /* quality gates */
    double values[] = {mt.accuracy, mt.loss, mt.macro.f1, mt.r2_all, mt.rmse_all};
    const char *names[] = {"accuracy", "loss", "macro F1", "R^2", "RMSE"};
    int applies[] = {mt.task == DNN_TASK_CLASSIFICATION, 1, mt.task == DNN_TASK_CLASSIFICATION,
                     mt.task == DNN_TASK_REGRESSION, mt.task == DNN_TASK_REGRESSION};
    for (int i = 0; i < 5 && (rc == 0 || rc == 6); i++) {
        if (!gates[i].set) continue;
        if (!applies[i]) {
            fprintf(stderr, "dnneval: --%s does not apply to a %s model\n", gates[i].flag,
                    dnn_task_name(mt.task));
            rc = 2;
            break;
        }
        double v = values[i];
        int fail =
            !mt.labelled || !isfinite(v) || (gates[i].is_min ? v < gates[i].bound : v > gates[i].bound);
        if (fail) {
            dnn_fprintf_c(stderr, "dnneval: quality gate failed: %s %.6g %s --%s %g\n", names[i], v,
                          gates[i].is_min ? "<" : ">", gates[i].flag, gates[i].bound);
            rc = 6;
        }
    }
    cJSON_Delete(rj);
    dnn_metrics_free(&mt);
    dnn_dataset_free(&ds);
    dnn_model_free(&m);
    return rc;
}
