/* Evaluation: batched forward passes in inference mode, accumulated into metrics and prediction rows. */
#include "dnn/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/loss.h"
#include "dnn/util.h"

/* Whether the true class y is among the top_k outputs of row a (ties counted against it). */
static int in_top_k(const float *a, int k, int y, int top_k)
{
    int above = 0;
    for (int j = 0; j < k; j++) above += a[j] > a[y];
    return above < top_k;
}

/* One CSV field, prefix followed by name, quoted when it must be (RFC 4180). */
static void csv_field(FILE *f, const char *prefix, const char *name)
{
    int quote = strpbrk(prefix, ",\"\r\n") || strpbrk(name, ",\"\r\n");
    if (quote) fputc('"', f);
    for (int part = 0; part < 2; part++)
        for (const char *s = part ? name : prefix; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s, f);
        }
    if (quote) fputc('"', f);
}

static void csv_name(FILE *f, const char *s)
{
    csv_field(f, "", s);
}

static void predict_header(FILE *f, const dnn_model *m)
{
    const int k = m->net->n_out;
    fputs("index", f);
    if (m->cfg.task == DNN_TASK_CLASSIFICATION) {
        fputs(",predicted", f);
        int nprob = k == 1 ? 2 : k;
        for (int j = 0; j < nprob; j++) {
            fputc(',', f);
            if (m->class_names)
                csv_field(f, "p_", m->class_names[j]);
            else
                fprintf(f, "p_%d", j);
        }
    } else if (k == 1) {
        fputs(",predicted", f);
    } else {
        for (int j = 0; j < k; j++) {
            fputc(',', f);
            if (m->target_names)
                csv_field(f, "predicted_", m->target_names[j]);
            else
                fprintf(f, "predicted_%d", j);
        }
    }
    fputc('\n', f);
}

/* Regression outputs in the targets' own units: the model predicts standardised targets. */
static void to_units(const dnn_model *m, const float *a, float *out, int b)
{
    const int k = m->net->n_out;
    for (int i = 0; i < b; i++)
        for (int j = 0; j < k; j++) {
            float v = a[(size_t)i * k + j];
            out[(size_t)i * k + j] = m->norm.k ? v / m->norm.tmul[j] + m->norm.tshift[j] : v;
        }
}

static void predict_row(FILE *f, const dnn_model *m, size_t index, const float *a)
{
    const int k = m->net->n_out;
    fprintf(f, "%zu,", index);
    if (m->cfg.task == DNN_TASK_CLASSIFICATION) {
        int c = dnn_predict_class(a, k);
        if (m->class_names)
            csv_name(f, m->class_names[c]);
        else
            fprintf(f, "%d", c);
        if (k == 1)
            dnn_fprintf_c(f, ",%.6g,%.6g", 1.0 - a[0], (double)a[0]);
        else
            for (int j = 0; j < k; j++) dnn_fprintf_c(f, ",%.6g", (double)a[j]);
    } else {
        for (int j = 0; j < k; j++) dnn_fprintf_c(f, "%s%.9g", j ? "," : "", (double)a[j]);
    }
    fputc('\n', f);
}

dnn_status dnn_eval(dnn_model *m, const dnn_dataset *ds, const dnn_eval_opts *o, dnn_metrics *mt,
                    dnn_error *err)
{
    dnn_net *net = m->net;
    const dnn_layer *out = &net->layers[net->n_layers - 1];
    const int B = net->max_batch, k = net->n_out;
    const int labelled = m->cfg.task == DNN_TASK_CLASSIFICATION ? ds->y != NULL : ds->t != NULL;
    dnn_status st = dnn_metrics_init(mt, m->cfg.task, m->n_classes, k, err);
    if (st) return st;
    mt->labelled = labelled;
    mt->top_k = o ? o->top_k : 0;
    size_t n = ds->n, d = ds->d;
    float *x = malloc((size_t)B * d * sizeof(float));
    float *t = malloc((size_t)B * (size_t)k * sizeof(float));
    int32_t *y = malloc((size_t)B * sizeof(int32_t));
    uint32_t *idx = malloc((size_t)B * sizeof(uint32_t));
    const int regression = m->cfg.task == DNN_TASK_REGRESSION;
    float *pred = regression ? malloc(n * (size_t)k * sizeof(float) + 1) : NULL;
    if (!x || !t || !y || !idx || (regression && !pred)) {
        st = dnn_fail_oom(err, "evaluation buffers", (size_t)B * d * sizeof(float));
        goto done;
    }
    FILE *pf = o ? o->predict : NULL;
    if (pf) predict_header(pf, m);
    double t0 = dnn_now(), loss = 0.0;
    size_t topk_hits = 0;
    for (size_t start = 0; start < n; start += (size_t)B) {
        int b = (int)(n - start < (size_t)B ? n - start : (size_t)B);
        for (int i = 0; i < b; i++) idx[i] = (uint32_t)(start + (size_t)i);
        dnn_gather(ds, &m->norm, idx, (size_t)b, x, y, t);
        const float *a = dnn_net_forward(net, x, b, 0, NULL);
        if (regression) {
            to_units(m, a, pred + start * (size_t)k, b);
            a = pred +
                start *
                    (size_t)k; /* rows and metrics in the targets' units; the loss is on the model's scale */
        }
        if (labelled) {
            loss +=
                dnn_loss(m->cfg.loss, out->act, out->slope, dnn_net_logits(net), out->a, b, k, y, t, NULL);
            for (int i = 0; i < b; i++) {
                const float *ar = a + (size_t)i * k;
                if (m->cfg.task == DNN_TASK_CLASSIFICATION) {
                    int c = dnn_predict_class(ar, k);
                    mt->confusion[(size_t)y[i] * (size_t)mt->k + (size_t)c]++;
                    if (mt->top_k)
                        topk_hits += k == 1 ? mt->top_k >= 2 || c == y[i] : in_top_k(ar, k, y[i], mt->top_k);
                }
            }
        }
        if (pf)
            for (int i = 0; i < b; i++)
                predict_row(pf, m, ds->index ? ds->index[start + (size_t)i] : start + (size_t)i,
                            a + (size_t)i * k);
    }
    if (pf && (fflush(pf) != 0 || ferror(pf))) {
        st = dnn_fail(err, DNN_EIO, "%s: write failed", o->predict_name ? o->predict_name : "predictions");
        goto done;
    }
    mt->n = n;
    mt->seconds = dnn_now() - t0;
    mt->samples_per_second = mt->seconds > 0 ? (double)n / mt->seconds : 0;
    if (labelled) {
        mt->loss = n ? loss / (double)n : NAN;
        if (m->cfg.task == DNN_TASK_CLASSIFICATION) {
            dnn_metrics_finish_classification(mt);
            if (mt->top_k) mt->top_k_accuracy = n ? (double)topk_hits / (double)n : NAN;
        } else {
            dnn_metrics_regression(mt, pred, ds->t, n);
        }
    }
done:
    free(x);
    free(t);
    free(y);
    free(idx);
    if (!st && labelled)
        mt->pred = pred; /* kept for plots */
    else
        free(pred);
    if (st) dnn_metrics_free(mt);
    return st;
}
