/* Evaluation reports: an aligned text report and its JSON twin. */
#include "dnn/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/checkpoint.h"
#include "dnn/util.h"

cJSON *dnn_json_number(double x)
{
    if (!isfinite(x)) return cJSON_CreateNull();
    /* The shortest decimal that reads back as exactly x: cJSON's own printing settles for 15 digits that are
     * merely close, and a gate given a number copied from a report must compare equal to it. */
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        dnn_snprintf_c(buf, sizeof buf, "%.*g", prec, x);
        if (dnn_strtod_c(buf, NULL) == x) break;
    }
    return cJSON_CreateRaw(buf);
}

double dnn_json_value(const cJSON *item)
{
    if (cJSON_IsNumber(item)) return item->valuedouble;
    if (cJSON_IsRaw(item) && item->valuestring) {
        char *end;
        double v = dnn_strtod_c(item->valuestring, &end);
        if (end != item->valuestring && *end == '\0') return v;
    }
    return NAN;
}

cJSON *dnn_epoch_json(const dnn_epoch_log *e)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "epoch", e->epoch);
    cJSON_AddItemToObject(j, "loss", dnn_json_number(e->loss));
    cJSON_AddItemToObject(j, "accuracy", dnn_json_number(e->accuracy));
    cJSON_AddItemToObject(j, "val_loss", dnn_json_number(e->val_loss));
    cJSON_AddItemToObject(j, "val_accuracy", dnn_json_number(e->val_accuracy));
    cJSON_AddItemToObject(j, "lr", dnn_json_number(e->lr));
    cJSON_AddItemToObject(j, "seconds", dnn_json_number(e->seconds));
    cJSON_AddItemToObject(j, "samples_per_second", dnn_json_number(e->samples_per_second));
    return j;
}

static void class_label(const dnn_model *m, int c, char *buf, size_t n)
{
    if (m->class_names)
        snprintf(buf, n, "%s", m->class_names[c]);
    else
        snprintf(buf, n, "%d", c);
}

static cJSON *prf_json(const dnn_prf *p, const char *name)
{
    cJSON *o = cJSON_CreateObject();
    if (name) cJSON_AddStringToObject(o, "class", name);
    cJSON_AddItemToObject(o, "precision", dnn_json_number(p->precision));
    cJSON_AddItemToObject(o, "recall", dnn_json_number(p->recall));
    cJSON_AddItemToObject(o, "f1", dnn_json_number(p->f1));
    cJSON_AddItemToObject(o, "support", dnn_json_number((double)p->support));
    return o;
}

cJSON *dnn_report_json(const dnn_metrics *mt, const dnn_model *m, const char *model, const char *data)
{
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddStringToObject(r, "data", data);
    cJSON_AddNumberToObject(r, "samples", (double)mt->n);
    cJSON_AddStringToObject(r, "task", dnn_task_name(mt->task));
    cJSON_AddBoolToObject(r, "labelled", mt->labelled);
    cJSON_AddStringToObject(r, "precision",
                            dnn_precision_name(m->net ? m->net->precision : DNN_PRECISION_FP32));
    cJSON_AddItemToObject(r, "loss", dnn_json_number(mt->loss));
    if (mt->task == DNN_TASK_CLASSIFICATION) {
        cJSON_AddItemToObject(r, "accuracy", dnn_json_number(mt->accuracy));
        if (mt->top_k) {
            cJSON_AddNumberToObject(r, "top_k", mt->top_k);
            cJSON_AddItemToObject(r, "top_k_accuracy", dnn_json_number(mt->top_k_accuracy));
        }
        if (m->net && m->net->n_out == 1) {
            /* one sigmoid unit: the probability of class 1, thresholded at 0.5 */
            char pos[256];
            class_label(m, 1, pos, sizeof pos);
            cJSON_AddStringToObject(r, "positive_class", pos);
            cJSON_AddNumberToObject(r, "threshold", 0.5);
        }
        cJSON *classes = cJSON_AddArrayToObject(r, "classes");
        cJSON *pc = cJSON_AddArrayToObject(r, "per_class");
        cJSON *cm = cJSON_AddArrayToObject(r, "confusion_matrix");
        for (int c = 0; c < mt->k; c++) {
            char name[256];
            class_label(m, c, name, sizeof name);
            cJSON_AddItemToArray(classes, cJSON_CreateString(name));
            if (mt->labelled) cJSON_AddItemToArray(pc, prf_json(&mt->per_class[c], name));
            cJSON *row = cJSON_CreateArray();
            for (int j = 0; j < mt->k && mt->labelled; j++)
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)mt->confusion[(size_t)c * mt->k + j]));
            if (mt->labelled)
                cJSON_AddItemToArray(cm, row);
            else
                cJSON_Delete(row);
        }
        cJSON_AddItemToObject(r, "macro_avg", mt->labelled ? prf_json(&mt->macro, NULL) : cJSON_CreateNull());
        cJSON_AddItemToObject(r, "weighted_avg",
                              mt->labelled ? prf_json(&mt->weighted, NULL) : cJSON_CreateNull());
    } else {
        cJSON_AddItemToObject(r, "mse", dnn_json_number(mt->mse_all));
        cJSON_AddItemToObject(r, "rmse", dnn_json_number(mt->rmse_all));
        cJSON_AddItemToObject(r, "mae", dnn_json_number(mt->mae_all));
        cJSON_AddItemToObject(r, "r2", dnn_json_number(mt->r2_all));
        if (mt->labelled) {
            cJSON *pt = cJSON_AddArrayToObject(r, "per_target");
            for (int j = 0; j < mt->n_targets; j++) {
                cJSON *o = cJSON_CreateObject();
                if (m->target_names)
                    cJSON_AddStringToObject(o, "target", m->target_names[j]);
                else
                    cJSON_AddNumberToObject(o, "target", j);
                cJSON_AddItemToObject(o, "mse", dnn_json_number(mt->mse[j]));
                cJSON_AddItemToObject(o, "rmse", dnn_json_number(mt->rmse[j]));
                cJSON_AddItemToObject(o, "mae", dnn_json_number(mt->mae[j]));
                cJSON_AddItemToObject(o, "r2", dnn_json_number(mt->r2[j]));
                cJSON_AddItemToArray(pt, o);
            }
        }
    }
    cJSON_AddItemToObject(r, "seconds", dnn_json_number(mt->seconds));
    cJSON_AddItemToObject(r, "samples_per_second", dnn_json_number(mt->samples_per_second));
    cJSON_AddStringToObject(r, "dnn_version", dnn_version());
    return r;
}

/* Print one row of the per-class table. */
static void prf_row(FILE *f, int w, const char *name, const dnn_prf *p)
{
    dnn_fprintf_c(f, "%-*s  %9.4f  %9.4f  %9.4f  %9llu\n", w, name, p->precision, p->recall, p->f1,
                  (unsigned long long)p->support);
}

/* Beyond this many classes a matrix is too wide to read: list the most confused pairs instead. */
#define MAX_MATRIX_CLASSES 20
#define CONFUSED_PAIRS     20

typedef struct {
    uint64_t n;
    int t, p;
} pair;

static int by_count(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return x->t != y->t ? x->t - y->t : x->p - y->p;
}

static void confusion_print(FILE *f, const dnn_metrics *mt, const dnn_model *m)
{
    const int k = mt->k;
    char name[256];
    if (k <= MAX_MATRIX_CLASSES) {
        /* cells as wide as the largest count; columns headed by class names when they fit, else by index
         * (and the row labels then carry the index too) */
        int w = 5, W = 0, named = 1;
        for (int c = 0; c < k; c++)
            for (int j = 0; j < k; j++) {
                char num[32];
                int l =
                    snprintf(num, sizeof num, "%llu", (unsigned long long)mt->confusion[(size_t)c * k + j]);
                if (l > w) w = l;
            }
        for (int c = 0; c < k; c++) {
            class_label(m, c, name, sizeof name);
            if ((int)strlen(name) > w) named = 0;
        }
        char rows[MAX_MATRIX_CLASSES][48];
        for (int c = 0; c < k; c++) {
            class_label(m, c, name, sizeof name);
            if (named)
                snprintf(rows[c], sizeof rows[c], "%.40s", name);
            else
                snprintf(rows[c], sizeof rows[c], "%d %.40s", c, name);
            if ((int)strlen(rows[c]) > W) W = (int)strlen(rows[c]);
        }
        fprintf(f, "\nConfusion matrix (rows: true class, columns: predicted%s)\n",
                named ? "" : ", by index");
        fprintf(f, "%*s", W, "");
        for (int j = 0; j < k; j++) {
            class_label(m, j, name, sizeof name);
            if (named)
                fprintf(f, " %*s", w, name);
            else
                fprintf(f, " %*d", w, j);
        }
        fputc('\n', f);
        for (int c = 0; c < k; c++) {
            fprintf(f, "%-*s", W, rows[c]);
            for (int j = 0; j < k; j++)
                fprintf(f, " %*llu", w, (unsigned long long)mt->confusion[(size_t)c * k + j]);
            fputc('\n', f);
        }
        return;
    }
    size_t np = 0;
    pair *pairs = malloc((size_t)k * (size_t)k * sizeof *pairs);
    if (!pairs) return;
    for (int t = 0; t < k; t++)
        for (int p = 0; p < k; p++)
            if (t != p && mt->confusion[(size_t)t * k + p])
                pairs[np++] = (pair){mt->confusion[(size_t)t * k + p], t, p};
    qsort(pairs, np, sizeof *pairs, by_count);
    fprintf(f, "\nMost confused pairs (%d classes: too many for a matrix; --report has it whole)\n", k);
    fprintf(f, "%8s  %-24s  %-24s\n", "count", "true class", "predicted as");
    for (size_t i = 0; i < np && i < CONFUSED_PAIRS; i++) {
        char tn[256], pn[256];
        class_label(m, pairs[i].t, tn, sizeof tn);
        class_label(m, pairs[i].p, pn, sizeof pn);
        fprintf(f, "%8llu  %-24.24s  %-24.24s\n", (unsigned long long)pairs[i].n, tn, pn);
    }
    if (np == 0) fprintf(f, "(none: every sample was classified correctly)\n");
    free(pairs);
}

void dnn_report_print(FILE *f, const dnn_metrics *mt, const dnn_model *m, const char *model, const char *data)
{
    fprintf(f, "Model     %s\n", model);
    fprintf(f, "Data      %s (%zu samples)\n", data, mt->n);
    if (!mt->labelled) {
        fprintf(f, "No targets in the data: predictions only\n");
        dnn_fprintf_c(f, "Speed     %.0f samples/s\n", mt->samples_per_second);
        return;
    }
    if (mt->task == DNN_TASK_REGRESSION) {
        dnn_fprintf_c(f, "Loss      %.6g (mean squared error on the model's scale)\n", mt->loss);
        int w = 8;
        for (int j = 0; j < mt->n_targets && m->target_names; j++)
            if ((int)strlen(m->target_names[j]) > w) w = (int)strlen(m->target_names[j]);
        fprintf(f, "\n%-*s  %12s  %12s  %12s  %9s\n", w, "target", "MSE", "RMSE", "MAE", "R^2");
        for (int j = 0; j < mt->n_targets; j++) {
            char name[32];
            snprintf(name, sizeof name, "%d", j);
            dnn_fprintf_c(f, "%-*s  %12.6g  %12.6g  %12.6g  %9.4f\n", w,
                          m->target_names ? m->target_names[j] : name, mt->mse[j], mt->rmse[j], mt->mae[j],
                          mt->r2[j]);
        }
        if (mt->n_targets > 1)
            dnn_fprintf_c(f, "%-*s  %12.6g  %12.6g  %12.6g  %9.4f\n", w, "average", mt->mse_all, mt->rmse_all,
                          mt->mae_all, mt->r2_all);
        dnn_fprintf_c(f, "\nSpeed     %.0f samples/s\n", mt->samples_per_second);
        return;
    }
    char name[256];
    dnn_fprintf_c(f, "Accuracy  %.4f\n", mt->accuracy);
    if (m->net && m->net->n_out == 1) {
        class_label(m, 1, name, sizeof name);
        fprintf(f, "Positive  %s (probability above 0.5)\n", name);
    }
    if (mt->top_k) dnn_fprintf_c(f, "Top-%d     %.4f\n", mt->top_k, mt->top_k_accuracy);
    dnn_fprintf_c(f, "Loss      %.4f\n", mt->loss);
    int w = 12;
    for (int c = 0; c < mt->k; c++) {
        class_label(m, c, name, sizeof name);
        if ((int)strlen(name) > w) w = (int)strlen(name) < 40 ? (int)strlen(name) : 40;
    }
    fprintf(f, "\n%-*s  %9s  %9s  %9s  %9s\n", w, "class", "precision", "recall", "f1-score", "support");
    for (int c = 0; c < mt->k; c++) {
        class_label(m, c, name, sizeof name);
        prf_row(f, w, name, &mt->per_class[c]);
    }
    fputc('\n', f);
    prf_row(f, w, "macro avg", &mt->macro);
    prf_row(f, w, "weighted avg", &mt->weighted);
    confusion_print(f, mt, m);
    dnn_fprintf_c(f, "\nSpeed     %.0f samples/s\n", mt->samples_per_second);
}

char *dnn_json_print(const cJSON *json)
{
    char *s = cJSON_Print(json);
    if (!s) return NULL;
    /* cJSON indents with tabs and puts one after each colon; strings hold no raw tab (JSON escapes it) */
    size_t n = strlen(s), tabs = 0;
    for (size_t i = 0; i < n; i++) tabs += s[i] == '\t';
    char *out = malloc(n + tabs + 2);
    if (out) {
        size_t k = 0;
        int line_start = 1;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\t' && line_start) {
                out[k++] = ' ', out[k++] = ' ';
                continue;
            }
            out[k++] = s[i] == '\t' ? ' ' : s[i];
            line_start = s[i] == '\n';
        }
        out[k++] = '\n';
        out[k] = '\0';
    }
    free(s);
    return out;
}

dnn_status dnn_json_write(const char *path, const cJSON *json, dnn_error *err)
{
    char *s = dnn_json_print(json);
    if (!s) return dnn_fail_oom(err, path, 0);
    dnn_status st = dnn_write_atomic(path, s, strlen(s), err);
    free(s);
    return st;
}
