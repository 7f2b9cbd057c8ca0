/* Evaluation: batched forward passes in inference mode, accumulated into metrics and prediction rows. */
#include "dnn/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/loss.h"
#include "dnn/replicas.h"
#include "dnn/util.h"
#include "dnn/workers.h"

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

/* A batch's rows split across a dnn_row_team, each thread gathering its own rows and running them through
 * its own network on one-threaded products (faster than threading each product of an evaluation batch). */
typedef struct {
    const dnn_model *m;
    const dnn_dataset *ds;
    dnn_row_team team;
    /* the batch: b rows idx, gathered into x, y, t; their outputs into out [b, k] */
    const uint32_t *idx;
    int b;
    float *x, *t, *out;
    int32_t *y;
    int labelled;
    double *loss; /* per thread, a cache line apart */
} eval_team;

enum { LOSS_STRIDE = 8 }; /* doubles per cache line */

static void eval_job(void *ctx, int i, int n)
{
    eval_team *e = ctx;
    dnn_net *net = e->team.nets[i];
    const dnn_layer *last = &net->layers[net->n_layers - 1];
    const size_t d = e->ds->d, k = (size_t)net->n_out;
    size_t lo, hi;
    dnn_share((size_t)e->b, i, n, 1, &lo, &hi);
    e->loss[i * LOSS_STRIDE] = 0.0;
    if (hi == lo) return;
    const int b = (int)(hi - lo);
    float *x = e->x + lo * d, *t = e->ds->t ? e->t + lo * k : NULL;
    int32_t *y = e->ds->y ? e->y + lo : NULL;
    dnn_gather(e->ds, &e->m->norm, e->idx + lo, hi - lo, x, y, t);
    const float *a = dnn_net_forward(net, x, b, 0, NULL);
    if (e->labelled)
        e->loss[i * LOSS_STRIDE] =
            dnn_loss(e->m->cfg.loss, last->act, last->slope, dnn_net_logits(net), a, b, (int)k, y, t, NULL);
    memcpy(e->out + lo * k, a, (size_t)b * k * sizeof(float));
}

static void team_free(eval_team *e)
{
    dnn_row_team_free(&e->team);
    free(e->loss);
}

static dnn_status team_create(eval_team *e, dnn_model *m, const dnn_dataset *ds, dnn_error *err)
{
    const int B = m->net->max_batch;
    memset(e, 0, sizeof *e);
    e->m = m, e->ds = ds;
    dnn_status st = dnn_row_team_create(&e->team, &m->cfg, m->net, B, B, 0, 0, err);
    if (st) return st;
    e->loss = dnn_alloc_hot((size_t)e->team.n * LOSS_STRIDE, sizeof(double));
    return e->loss ? DNN_OK : dnn_fail_oom(err, "the evaluation threads", (size_t)e->team.n * 64);
}

/* The batch's rows gathered and run; returns their summed loss (labelled data). */
static double eval_batch(eval_team *e, const uint32_t *idx, int b)
{
    e->idx = idx, e->b = b;
    dnn_workers_run(e->team.workers, eval_job, e);
    double loss = 0.0;
    for (int i = 0; i < e->team.n; i++) loss += e->loss[i * LOSS_STRIDE];
    return loss;
}

dnn_status dnn_eval(dnn_model *m, const dnn_dataset *ds, const dnn_eval_opts *o, dnn_metrics *mt,
                    dnn_error *err)
{
    const dnn_net *net = m->net;
    const int B = net->max_batch, k = net->n_out;
    const int labelled = m->cfg.task == DNN_TASK_CLASSIFICATION ? ds->y != NULL : ds->t != NULL;
    dnn_status st = dnn_metrics_init(mt, m->cfg.task, m->n_classes, k, err);
    if (st) return st;
    mt->labelled = labelled;
    mt->top_k = o ? o->top_k : 0;
    size_t n = ds->n, d = ds->d;
    float *x = malloc((size_t)B * d * sizeof(float));
    float *t = malloc((size_t)B * (size_t)k * sizeof(float));
    float *outs = malloc((size_t)B * (size_t)k * sizeof(float));
    int32_t *y = malloc((size_t)B * sizeof(int32_t));
    uint32_t *idx = malloc((size_t)B * sizeof(uint32_t));
    const int regression = m->cfg.task == DNN_TASK_REGRESSION;
    float *pred = regression ? malloc(n * (size_t)k * sizeof(float) + 1) : NULL;
    eval_team team = {0};
    if (!x || !t || !outs || !y || !idx || (regression && !pred)) {
        st = dnn_fail_oom(err, "evaluation buffers", (size_t)B * d * sizeof(float));
        goto done;
    }
    if ((st = team_create(&team, m, ds, err))) goto done;
    team.x = x, team.t = t, team.y = y, team.out = outs, team.labelled = labelled;
    FILE *pf = o ? o->predict : NULL;
    if (pf) predict_header(pf, m);
    double t0 = dnn_now(), loss = 0.0;
    size_t topk_hits = 0;
    for (size_t start = 0; start < n; start += (size_t)B) {
        int b = (int)(n - start < (size_t)B ? n - start : (size_t)B);
        for (int i = 0; i < b; i++) idx[i] = (uint32_t)(start + (size_t)i);
        double batch_loss = eval_batch(&team, idx, b);
        const float *a = outs;
        if (regression) {
            to_units(m, a, pred + start * (size_t)k, b);
            a = pred +
                start *
                    (size_t)k; /* rows and metrics in the targets' units; the loss is on the model's scale */
        }
        if (labelled) {
            loss += batch_loss;
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
    team_free(&team);
    free(x);
    free(t);
    free(outs);
    free(y);
    free(idx);
    if (!st && labelled)
        mt->pred = pred; /* kept for plots */
    else
        free(pred);
    if (st) dnn_metrics_free(mt);
    return st;
}
