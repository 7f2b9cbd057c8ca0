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
#include "dnn/explain.h"
#include "dnn/idx.h"
#include "dnn/onnx.h"
#include "dnn/plot.h"
#include "dnn/report.h"
#include "dnn/util.h"
#include "explain_flags.h"
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

/* A --data argument is CSV when it is "-", a glob, or ends in .csv, .tsv or .txt (or those with .gz);
 * anything else is IDX. */
static int is_csv(const char *data)
{
    if (strcmp(data, "-") == 0 || strpbrk(data, "*?[")) return 1;
    size_t n = strlen(data);
    if (n > 3 && strcasecmp(data + n - 3, ".gz") == 0) n -= 3;
    static const char *const ext[] = {".csv", ".tsv", ".txt"};
    for (int i = 0; i < 3; i++)
        if (n >= 4 && strncasecmp(data + n - 4, ext[i], 4) == 0) return 1;
    return 0;
}

/* Apply --header, --delimiter and --label to a CSV source. */
static int csv_flags(dnn_source_config *src, const char *header, const char *delim, const char *const *labels,
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
        dnn_svg_scatter(&t, mt->pred, ds->t, ds->n, mt->n_targets, m->target_names);
    char *path = dnn_path_join(dir, cls ? "confusion.svg" : "predictions.svg");
    dnn_status st = path ? dnn_mkdirs(dir, &err) : dnn_fail_oom(&err, dir, 0);
    if (!st) st = dnn_text_write(&t, path, &err);
    free(path);
    dnn_text_free(&t);
    if (st) fprintf(stderr, "dnneval: %s\n", err.msg);
    return (int)st;
}

/* The input features by name (categorical ones expanded, "colour=red"), and each categorical column's
 * levels. */
static void print_features(const dnn_model *m)
{
    enum { SHOWN = 60 };
    const int d = m->net->n_in;
    if (m->feature_names) {
        printf("features   %d:", d);
        for (int j = 0; j < d && j < SHOWN; j++) printf(" %s", m->feature_names[j]);
        if (d > SHOWN) printf(" ... (%d more)", d - SHOWN);
        printf("\n");
    }
    for (int c = 0; m->enc && c < m->enc->n_cat; c++) {
        const dnn_catcol *col = &m->enc->cols[c];
        printf("categorical %s (%d levels):", col->name, col->n_levels);
        for (int l = 0; l < col->n_levels; l++) printf("%s %s", l ? "," : "", col->levels[l]);
        printf("\n");
    }
}

static int info(const char *path, size_t max_memory)
{
    dnn_model m;
    dnn_train_state s;
    dnn_error err = {0};
    int have_state = 1;
    dnn_status st = dnn_checkpoint_load(path, max_memory, &m, &s, &err);
    have_state = !st && s.opt != NULL;
    if (st) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        return (int)st;
    }
    char *conf = dnn_json_print(m.cfg.json);
    printf("checkpoint %s (written by dnn %s)\n", path, m.written_by[0] ? m.written_by : "?");
    printf("task       %s\n", dnn_task_name(m.cfg.task));
    const dnn_shape in = m.net->in_shape;
    printf("inputs     %d", m.net->n_in);
    if (in.h > 1 || in.w > 1) printf(" (%dx%dx%d)", in.c, in.h, in.w);
    printf("\noutputs    %d\nparameters %zu\n", m.net->n_out, m.net->n_params);
    char *table = dnn_net_summary(m.net);
    printf("layers:\n");
    for (const char *line = table; line && *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        printf("  %.*s\n", len, line);
        line += len + (end != NULL);
    }
    free(table);
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
    print_features(&m);
    if (have_state) {
        printf("epochs     %d (best %d; steps %llu)\n", s.epoch, s.best_epoch, (unsigned long long)s.step);
        print_history(&s);
        dnn_train_state_free(&s);
    }
    printf("config:\n%s", conf ? conf : "(unprintable)\n");
    free(conf);
    dnn_model_free(&m);
    return 0;
}

/* --export: the checkpoint's model as ONNX, nothing scored. */
static int export_onnx(const char *model, const char *path, size_t max_memory, int quiet)
{
    dnn_error err = {0};
    dnn_model m;
    dnn_status st = dnn_checkpoint_load(model, max_memory, &m, NULL, &err);
    if (st) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        return (int)st;
    }
    st = dnn_onnx_save(path, &m, &err);
    if (st)
        fprintf(stderr, "dnneval: %s\n", err.msg);
    else if (!quiet)
        printf("wrote %s: ONNX IR %d, opset %d; input \"input\" float [N, %d], output \"output\" float [N, "
               "%d]\n",
               path, DNN_ONNX_IR_VERSION, DNN_ONNX_OPSET, m.net->n_in,
               m.cfg.task == DNN_TASK_CLASSIFICATION ? m.n_classes : m.net->n_out);
    dnn_model_free(&m);
    return (int)st;
}

/* --verbose: what was loaded and how the data was matched to the model, on stderr. */
static void describe(const dnn_model *m, const char *model, const dnn_dataset *ds)
{
    fprintf(stderr, "dnneval: %s: a %s model by dnn %s, %d inputs, %d outputs, %zu parameters\n", model,
            dnn_task_name(m->cfg.task), m->written_by[0] ? m->written_by : "?", m->net->n_in, m->net->n_out,
            m->net->n_params);
    if (ds->header_note[0]) fprintf(stderr, "dnneval: %s: %s\n", ds->source, ds->header_note);
    fprintf(stderr, "dnneval: %s: %zu samples of %zu features, taken %s; ", ds->source, ds->n, ds->d,
            ds->feature_names && m->feature_names ? "by column name" : "by position");
    if (ds->label_names) {
        fprintf(stderr, "target column%s", ds->n_labels == 1 ? "" : "s");
        for (int i = 0; i < ds->n_labels; i++)
            fprintf(stderr, "%s\"%s\"", i ? ", " : " ", ds->label_names[i]);
        fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s\n", ds->y || ds->t ? "labels by position" : "no labels");
    }
    if (ds->missing_cells)
        fprintf(stderr, "dnneval: %s: %zu missing cells filled with the training data's values\n", ds->source,
                ds->missing_cells);
}

/* Everything the flags asked for. */
typedef struct {
    const char *model, *data, *labels, *report, *predict, *header, *delimiter, *plot, *export;
    const char *label_cols[64];
    int n_label_cols, json, quiet, verbose, top_k;
    size_t max_memory;
    dnn_precision precision;
    gate gates[5];
    explain_flags ex;
} args;

/* A bound the gate's value can take: accuracy and F1 are fractions (0.95, not 95), R^2 is at most 1, loss
 * and RMSE are not negative. Returns 0, or -1 after a message. */
static int gate_bound_ok(const gate *g)
{
    const int fraction = !strcmp(g->flag, "min-accuracy") || !strcmp(g->flag, "min-f1");
    double lo = fraction || g->is_min == 0 ? 0 : -INFINITY,
           hi = fraction || !strcmp(g->flag, "min-r2") ? 1 : INFINITY;
    if (g->bound >= lo && g->bound <= hi) return 0;
    if (fraction)
        dnn_fprintf_c(stderr, "dnneval: --%s: expected a fraction from 0 to 1 (0.95 for 95%%), got %g\n",
                      g->flag, g->bound);
    else if (hi == 1)
        dnn_fprintf_c(stderr,
                      "dnneval: --%s: expected a number of at most 1 (R^2 is 1 for a perfect fit), got %g\n",
                      g->flag, g->bound);
    else
        dnn_fprintf_c(stderr, "dnneval: --%s: expected a number of at least 0, got %g\n", g->flag, g->bound);
    return -1;
}

/* The value each gate reads, and whether it applies to the task. */
static double gate_value(const dnn_metrics *mt, int i)
{
    const double v[] = {mt->accuracy, mt->loss, mt->macro.f1, mt->r2_all, mt->rmse_all};
    return v[i];
}

static int gate_applies(dnn_task task, int i)
{
    return i == 1 || (task == DNN_TASK_CLASSIFICATION) == (i == 0 || i == 2);
}

/* The data to score: --data (with the checkpoint's CSV options unless flags override them), else the
 * checkpoint's test set. Returns 0, or an exit code after a message. */
static int data_source(const args *a, const dnn_model *m, dnn_source_config *src, dnn_colref **refs,
                       const dnn_source_config **use)
{
    if (!a->data) {
        if (!m->cfg.has_test) {
            fprintf(stderr, "dnneval: %s: its config names no test set (data.test); give --data\n", a->model);
            return 2;
        }
        *use = &m->cfg.test;
        return 0;
    }
    memset(src, 0, sizeof *src);
    if (is_csv(a->data)) {
        /* CSV is read as in training (header, delimiter, label, missing values), unless flags say otherwise
         */
        if (m->cfg.train.format == DNN_FORMAT_CSV)
            *src = m->cfg.train;
        else
            src->header = -1;
        if (m->label_names) {  /* a file with a header has its targets found by name, not by the training */
            src->label = NULL; /* file's positions */
            src->n_label = 0;
        }
        src->format = DNN_FORMAT_CSV;
        src->path = (char *)a->data;
        if (csv_flags(src, a->header, a->delimiter, a->label_cols, a->n_label_cols, refs)) return 2;
    } else {
        if (a->header || a->delimiter || a->n_label_cols) {
            fprintf(stderr, "dnneval: --header, --delimiter and --label apply to CSV data, and %s is IDX\n",
                    a->data);
            return 2;
        }
        src->format = DNN_FORMAT_IDX;
        src->images = (char *)a->data;
        src->labels = (char *)a->labels;
    }
    src->max_memory = a->max_memory;
    *use = src;
    return 0;
}

/* Print (and write) the report, then check the gates: every failed one gets its line, and the exit is 6. */
static int report_and_gate(const args *a, const dnn_metrics *mt, const dnn_model *m, const dnn_dataset *ds,
                           const dnn_explanation *ex)
{
    static const char *const names[] = {"accuracy", "loss", "macro F1", "R^2", "RMSE"};
    dnn_error err = {0};
    cJSON *rj = dnn_report_json(mt, m, a->model, ds->source);
    if (!rj) return 1;
    if (ex) cJSON_AddItemToObject(rj, "explanation", dnn_explanation_json(ex, m));
    /* the human report goes to stdout, unless the predictions or the JSON report already do */
    const int predict_stdout = a->predict && strcmp(a->predict, "-") == 0;
    int rc = 0;
    if (a->json) {
        char *s = dnn_json_print(rj);
        fprintf(predict_stdout ? stderr : stdout, "%s", s ? s : "\n");
        free(s);
    } else if (!a->quiet) {
        dnn_report_print(predict_stdout ? stderr : stdout, mt, m, a->model, ds->source);
        if (ex) dnn_explanation_print(predict_stdout ? stderr : stdout, ex, m);
    }
    if (a->report && dnn_json_write(a->report, rj, &err)) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        rc = 4;
    }
    cJSON_Delete(rj);
    if (!rc && a->plot && ex && dnn_explanation_plot(a->plot, ex, m, ds, &err)) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        rc = (int)err.code;
    }
    if (!rc && a->plot && mt->labelled)
        rc = write_plot(a->plot, mt, m, ds);
    else if (!rc && a->plot && !ex)
        fprintf(stderr, "dnneval: --plot: the data has no labels, so there is nothing to plot\n");
    for (int i = 0; i < 5 && (rc == 0 || rc == 6); i++) {
        const gate *g = &a->gates[i];
        double v = gate_value(mt, i);
        if (g->set && !mt->labelled) {
            fprintf(stderr, "dnneval: quality gate failed: --%s: the data has no labels to compute %s from\n",
                    g->flag, names[i]);
            rc = 6;
            continue;
        }
        if (!g->set || (mt->labelled && isfinite(v) && (g->is_min ? v >= g->bound : v <= g->bound))) continue;
        dnn_fprintf_c(stderr, "dnneval: quality gate failed: %s %.6g %s --%s %g\n", names[i], v,
                      g->is_min ? "<" : ">", g->flag, g->bound);
        rc = 6;
    }
    return rc;
}

/* Load the data of --baseline FILE as the data to score is loaded. Returns 0, or an exit code after a
 * message. */
static int load_baseline(const args *a, dnn_model *m, dnn_dataset *bd)
{
    args b = *a;
    b.data = a->ex.baseline_file;
    b.labels = NULL;
    b.n_label_cols = 0;
    dnn_source_config src;
    dnn_colref *refs = NULL;
    const dnn_source_config *use = NULL;
    dnn_error err = {0};
    int rc = data_source(&b, m, &src, &refs, &use);
    dnn_schema sc = dnn_model_schema(m, 1);
    dnn_status st = rc ? DNN_OK : dnn_load_source(bd, use, m->cfg.task, &sc, &err);
    if (!rc && !st) st = dnn_model_prepare(m, bd, &err);
    free(refs);
    if (st) fprintf(stderr, "dnneval: --baseline: %s\n", err.msg);
    return rc ? rc : (int)st;
}

/* --explain: resolve the flags against the model, then explain; warn when integrated gradients are not
 * complete to 1%. Returns 0, or an exit code after a message. */
static int explain(args *a, dnn_model *m, const dnn_dataset *ds, dnn_explanation *e)
{
    dnn_feature_groups gs = {0};
    dnn_dataset bd = {0};
    dnn_error err = {0};
    int rc = explain_resolve(&a->ex, m, &gs);
    if (!rc && a->ex.baseline_file && !(rc = load_baseline(a, m, &bd))) a->ex.o.baseline_data = &bd;
    if (!rc && dnn_explain(m, ds, &a->ex.o, e, &err)) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        rc = (int)err.code;
    }
    if (!rc && (e->methods & DNN_EXPLAIN_IG) && e->ig.max_rel > 0.01 && !a->quiet)
        dnn_fprintf_c(stderr,
                      "dnneval: warning: integrated gradients are incomplete: their sum misses f(x) - "
                      "f(baseline) by up to %.2f%% (sample %zu); use more --steps\n",
                      100 * e->ig.max_rel, e->ig.worst);
    dnn_groups_free(&gs);
    dnn_dataset_free(&bd);
    return rc;
}

/* Load, score, report. One exit path frees everything. */
static int score(args *a)
{
    dnn_error err = {0};
    dnn_model m;
    dnn_dataset ds = {0};
    dnn_metrics mt = {0};
    dnn_explanation ex = {0};
    dnn_source_config src;
    dnn_colref *refs = NULL;
    const dnn_source_config *use = NULL;
    FILE *pf = NULL;
    int rc = (int)dnn_checkpoint_load(a->model, a->max_memory, &m, NULL, &err);
    /* the checkpoint's weights are fp32 whatever precision trained them: evaluation chooses its own */
    if (!rc && (rc = (int)dnn_net_set_precision(m.net, a->precision, &err))) dnn_model_free(&m);
    if (rc) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        return rc;
    }
    for (int i = 0; i < 5; i++)
        if (a->gates[i].set && !gate_applies(m.cfg.task, i)) {
            fprintf(stderr, "dnneval: --%s does not apply to a %s model\n", a->gates[i].flag,
                    dnn_task_name(m.cfg.task));
            rc = 2;
            goto done;
        }
    m.cfg.test.max_memory = a->max_memory;
    if ((rc = data_source(a, &m, &src, &refs, &use))) goto done;
    dnn_schema sc = dnn_model_schema(&m, 1);
    if (a->n_label_cols) sc.label_names = NULL; /* --label says where the targets are */
    dnn_status st = dnn_load_source(&ds, use, m.cfg.task, &sc, &err);
    if (!st && a->verbose) describe(&m, a->model, &ds);
    if (!st && !a->quiet && ds.label_note[0]) fprintf(stderr, "dnneval: %s\n", ds.label_note);
    if (!st) st = dnn_model_prepare(&m, &ds, &err);
    if (!st) st = dnn_model_check_data(&m, &ds, &err);
    if (!st && a->predict && !(pf = strcmp(a->predict, "-") == 0 ? stdout : fopen(a->predict, "w")))
        st = dnn_fail(&err, DNN_EIO, "%s: cannot write predictions: %s", a->predict, strerror(errno));
    if (!st && !a->quiet && (ds.dropped_label || ds.dropped_feature))
        fprintf(stderr, "dnneval: %s: dropped %zu rows with a missing label and %zu with missing values\n",
                ds.source, ds.dropped_label, ds.dropped_feature);
    if (!st) {
        dnn_eval_opts eo = {a->top_k, pf, a->predict};
        st = dnn_eval(&m, &ds, &eo, &mt, &err);
    }
    if (pf && pf != stdout && fclose(pf) != 0 && !st)
        st = dnn_fail(&err, DNN_EIO, "%s: write failed", a->predict);
    if (st) {
        fprintf(stderr, "dnneval: %s\n", err.msg);
        rc = (int)st;
        goto done;
    }
    if (a->ex.o.methods && (rc = explain(a, &m, &ds, &ex))) goto done;
    rc = report_and_gate(a, &mt, &m, &ds, a->ex.o.methods ? &ex : NULL);
done:
    dnn_explanation_free(&ex);
    free(refs);
    dnn_metrics_free(&mt);
    dnn_dataset_free(&ds);
    dnn_model_free(&m);
    return rc;
}

int main(int argc, char **argv)
{
    cli_parser p;
    cli_init(&p, "dnneval", DNNEVAL_OPTIONS, DNNEVAL_N_OPTIONS);
    args a = {.gates = {{"min-accuracy", 0, 0, 1},
                        {"max-loss", 0, 0, 0},
                        {"min-f1", 0, 0, 1},
                        {"min-r2", 0, 0, 1},
                        {"max-rmse", 0, 0, 0}}};
    explain_flags_init(&a.ex);
    int want_info = 0, want_version = 0, c;
    long threads = 0, top_k = 0;
    while ((c = cli_next(&p, argc, argv)) != -1) {
        switch (c) {
        case E_MODEL: a.model = optarg; break;
        case E_DATA: a.data = optarg; break;
        case E_LABELS: a.labels = optarg; break;
        case E_HEADER: a.header = optarg; break;
        case E_DELIMITER: a.delimiter = optarg; break;
        case E_LABEL:
            if (a.n_label_cols == 64) {
                fprintf(stderr, "dnneval: more than 64 --label options\n");
                return 2;
            }
            a.label_cols[a.n_label_cols++] = optarg;
            break;
        case E_JSON: a.json = 1; break;
        case E_REPORT: a.report = optarg; break;
        case E_PREDICT: a.predict = optarg; break;
        case E_PLOT: a.plot = optarg; break;
        case E_TOPK:
            if (cli_int(p.prog, "top-k", optarg, 1, 1 << 20, &top_k)) return 2;
            a.top_k = (int)top_k;
            break;
        case E_INFO: want_info = 1; break;
        case E_EXPORT: a.export = optarg; break;
        case E_MIN_ACC:
        case E_MAX_LOSS:
        case E_MIN_F1:
        case E_MIN_R2:
        case E_MAX_RMSE: {
            gate *g = &a.gates[c - E_MIN_ACC];
            if (cli_double(p.prog, g->flag, optarg, &g->bound) || gate_bound_ok(g)) return 2;
            g->set = 1;
            break;
        }
        case E_THREADS:
            if (cli_int(p.prog, "threads", optarg, 1, 1024, &threads)) return 2;
            break;
        case E_MAX_MEMORY:
            if (cli_max_memory(p.prog, optarg, &a.max_memory)) return 2;
            break;
        case E_PRECISION:
            if (cli_precision(p.prog, optarg, &a.precision)) return 2;
            break;
        case E_QUIET: a.quiet = 1; break;
        case E_VERBOSE: a.verbose = 1; break;
        case E_EXPLAIN:
        case E_REPEATS:
        case E_SCORING:
        case E_GROUPS:
        case E_STEPS:
        case E_IG_METHOD:
        case E_BASELINE:
        case E_TARGET:
        case E_EXPLAIN_SAMPLES:
        case E_SANITY:
            if (explain_flag(&a.ex, c, optarg)) return 2;
            break;
        case E_HELP: cli_help(&p, stdout, DNNEVAL_USAGE, DNNEVAL_EXAMPLES); return 0;
        case E_VERSION: want_version = 1; break;
        default: return 2;
        }
    }
    if (want_version) { /* after every flag, so --version --threads 1 reports 1 thread */
        cli_set_threads(threads);
        cli_version(p.prog);
        return 0;
    }
    if (optind < argc) {
        fprintf(stderr, "dnneval: unexpected argument \"%s\" (options start with --; see --help)\n",
                argv[optind]);
        return 2;
    }
    if (!a.model) {
        fprintf(stderr, "dnneval: --model CKPT is required; see --help\n");
        return 2;
    }
    if (a.ex.any && !a.ex.o.methods) {
        fprintf(stderr,
                "dnneval: --repeats, --scoring, --groups, --steps, --ig-method, --baseline, --target, "
                "--explain-samples and --sanity need --explain METHODS\n");
        return 2;
    }
    if (a.labels && !a.data) {
        fprintf(stderr, "dnneval: --labels needs --data\n");
        return 2;
    }
    if (a.export && (want_info || a.ex.o.methods || a.data || a.json || a.report || a.predict || a.plot ||
                     a.top_k || a.n_label_cols || a.header || a.delimiter || a.gates[0].set ||
                     a.gates[1].set || a.gates[2].set || a.gates[3].set || a.gates[4].set)) {
        fprintf(stderr, "dnneval: --export writes the model and scores nothing: it takes --model alone "
                        "(with --quiet)\n");
        return 2;
    }
    cli_set_threads(threads);
    if (a.export) return export_onnx(a.model, a.export, a.max_memory, a.quiet);
    return want_info ? info(a.model, a.max_memory) : score(&a);
}
