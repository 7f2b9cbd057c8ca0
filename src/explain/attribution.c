/* Saliency and integrated gradients over a data set, in chunks of samples whose gradients come from
 * batched passes: integrated gradients put the (sample, step) points of a chunk as rows of one batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/loss.h"
#include "dnn/util.h"
#include "internal.h"

/* One method's running sums over the data set. */
typedef struct {
    unsigned method;
    dnn_attr_result *r;
    double *acc;       /* [B, d] integrated gradients' weighted sums of gradients */
    float *attr, *rnd; /* [B, d] this chunk's attributions by the trained and the random network */
    double *maps_rnd;  /* [n_maps, d] the random network's class maps (--sanity) */
    double rho_sum;    /* per-sample Spearman correlations, summed, and how many */
    size_t rho_n;
    double *delta, *error; /* [n] integrated gradients: f(x) - f(baseline), |sum attr - delta| */
} acc_t;

/* What every chunk shares. */
typedef struct {
    const dnn_model *m;
    const dnn_dataset *ds;
    const dnn_explain_opts *o;
    ex_pass *p, *rnd;
    const float *base; /* [d] normalised baseline */
    float *zb;         /* [k] the baseline's logits */
    float *xs;         /* [B, d] the chunk's samples */
    int *cls;          /* [B] the class (or target) each sample explains */
    int *out;          /* [B] its output index and sign (ex_output_of) */
    float *sign;
    float *fx;         /* [B] its score */
    uint32_t *idx;     /* [B] */
    int *pi, *pk;      /* [B] the sample and step of each row of an integrated-gradients pass */
    double *alpha, *w; /* [steps] the quadrature */
    double *scratch;   /* [6 d] for rank correlations */
    int n_maps;
} ctx_t;

static dnn_status result_alloc(dnn_attr_result *r, size_t n, int d, int n_maps, int n_samples, int ig)
{
    r->n = n;
    r->d = d;
    r->n_maps = n_maps;
    r->n_samples = n_samples;
    r->abs_mean = ex_calloc((size_t)d, sizeof(double));
    r->abs_std = ex_calloc((size_t)d, sizeof(double));
    r->maps = ex_calloc((size_t)n_maps * (size_t)d, sizeof(double));
    r->map_count = ex_calloc((size_t)n_maps, sizeof(size_t));
    r->sample_attr = ex_calloc((size_t)n_samples * (size_t)d, sizeof(float));
    r->sample_target = ex_calloc((size_t)n_samples, sizeof(int));
    if (ig) {
        r->sample_delta = ex_calloc((size_t)n_samples, sizeof(double));
        r->sample_error = ex_calloc((size_t)n_samples, sizeof(double));
    }
    r->spearman = r->spearman_maps = NAN;
    int ok = r->abs_mean && r->abs_std && r->maps && r->map_count && r->sample_attr && r->sample_target &&
             (!ig || (r->sample_delta && r->sample_error));
    return ok ? DNN_OK : DNN_EINTERNAL;
}

/* The chunk's explained outputs: --target, else the predicted class (regression: the first target). Leaves
 * p->rows = xs after a forward pass, and fx their scores. */
static void chunk_targets(ctx_t *c, int b)
{
    ex_pass *p = c->p;
    memcpy(p->rows, c->xs, (size_t)b * (size_t)p->d * sizeof(float));
    const float *a = ex_forward(p, b);
    const int cls = c->m->cfg.task == DNN_TASK_CLASSIFICATION;
    for (int i = 0; i < b; i++) {
        int t = c->o->target >= 0 ? c->o->target : cls ? dnn_predict_class(a + (size_t)i * p->k, p->k) : 0;
        c->cls[i] = t;
        ex_output_of(c->m, t, &c->out[i], &c->sign[i]);
        p->out[i] = c->out[i];
        p->sign[i] = c->sign[i];
    }
    const float *z = dnn_net_logits(p->net);
    for (int i = 0; i < b; i++) c->fx[i] = p->sign[i] * z[(size_t)i * p->k + p->out[i]];
}

/* Saliency of the chunk on network q: |d score / d x| [b, d]. */
static void saliency_chunk(const ctx_t *c, ex_pass *q, int b, float *attr)
{
    if (q != c->p) { /* the random network explains the same outputs of the same samples */
        memcpy(q->rows, c->xs, (size_t)b * (size_t)q->d * sizeof(float));
        memcpy(q->out, c->out, (size_t)b * sizeof(int));
        memcpy(q->sign, c->sign, (size_t)b * sizeof(float));
        ex_forward(q, b);
    }
    ex_backward(q, b);
    for (size_t i = 0; i < (size_t)b * (size_t)q->d; i++) attr[i] = fabsf(q->dx[i]);
}

/* Integrated gradients of the chunk on network q: attr [b, d] = (x - base) * sum_s w_s grad(base + alpha_s
 * (x - base)), with the b * steps points laid out as rows of batches of B. */
static void ig_chunk(const ctx_t *c, ex_pass *q, int b, double *acc, float *attr)
{
    const int d = q->d, K = c->o->steps;
    const float *base = c->base;
    memset(acc, 0, (size_t)b * (size_t)d * sizeof(double));
    const size_t total = (size_t)b * (size_t)K;
    for (size_t q0 = 0; q0 < total; q0 += (size_t)q->B) {
        int nb = (int)(total - q0 < (size_t)q->B ? total - q0 : (size_t)q->B);
        for (int r = 0; r < nb; r++) {
            int i = (int)((q0 + (size_t)r) / (size_t)K), s = (int)((q0 + (size_t)r) % (size_t)K);
            c->pi[r] = i;
            c->pk[r] = s;
            const float al = (float)c->alpha[s], *x = c->xs + (size_t)i * d;
            float *row = q->rows + (size_t)r * d;
            for (int j = 0; j < d; j++) row[j] = base[j] + al * (x[j] - base[j]);
            q->out[r] = c->out[i];
            q->sign[r] = c->sign[i];
        }
        ex_gradient(q, nb);
        for (int r = 0; r < nb; r++) {
            const double w = c->w[c->pk[r]];
            const float *g = q->dx + (size_t)r * d;
            double *ac = acc + (size_t)c->pi[r] * d;
            for (int j = 0; j < d; j++) ac[j] += w * g[j];
        }
    }
    for (int i = 0; i < b; i++)
        for (int j = 0; j < d; j++) {
            size_t at = (size_t)i * d + (size_t)j;
            attr[at] = (float)(acc[at] * ((double)c->xs[at] - base[j]));
        }
}

/* Rank correlation of |a| and |b| over n values. */
static double spearman_abs(const float *a, const float *b, size_t n, double *scratch)
{
    double *x = scratch, *y = scratch + n;
    for (size_t j = 0; j < n; j++) {
        x[j] = fabs(a[j]);
        y[j] = fabs(b[j]);
    }
    return dnn_spearman(x, y, n, scratch + 2 * n);
}

/* Add the chunk's attributions (samples start..start+b) to the method's sums. */
static void accumulate(const ctx_t *c, acc_t *A, int b, size_t start)
{
    dnn_attr_result *r = A->r;
    const int d = r->d;
    for (int i = 0; i < b; i++) {
        const float *v = A->attr + (size_t)i * d;
        double *map = r->maps + (size_t)c->cls[i] * d;
        for (int j = 0; j < d; j++) {
            double a = fabs(v[j]);
            r->abs_mean[j] += a;
            r->abs_std[j] += a * a;
            map[j] += v[j];
        }
        r->map_count[c->cls[i]]++;
        if (start + (size_t)i < (size_t)r->n_samples) {
            memcpy(r->sample_attr + (start + (size_t)i) * d, v, (size_t)d * sizeof(float));
            r->sample_target[start + (size_t)i] = c->cls[i];
        }
        if (A->delta) {
            double sum = 0;
            for (int j = 0; j < d; j++) sum += v[j];
            A->delta[start + (size_t)i] = (double)c->fx[i] - c->sign[i] * c->zb[c->out[i]];
            A->error[start + (size_t)i] = fabs(sum - A->delta[start + (size_t)i]);
        }
        if (!c->rnd) continue;
        const float *u = A->rnd + (size_t)i * d;
        double *mr = A->maps_rnd + (size_t)c->cls[i] * d;
        for (int j = 0; j < d; j++) mr[j] += u[j];
        double rho = spearman_abs(v, u, (size_t)d, c->scratch);
        if (!isnan(rho)) {
            A->rho_sum += rho;
            A->rho_n++;
        }
    }
}

/* Means, spreads and the completeness summary once every sample is in. */
static void finish(const ctx_t *c, acc_t *A)
{
    dnn_attr_result *r = A->r;
    const int d = r->d;
    const double n = (double)r->n;
    for (int j = 0; j < d && r->n; j++) {
        double mean = r->abs_mean[j] / n, var = r->abs_std[j] / n - mean * mean;
        r->abs_mean[j] = mean;
        r->abs_std[j] = sqrt(var > 0 ? var : 0);
    }
    double rho_maps = 0;
    int n_rho_maps = 0;
    for (int k = 0; k < r->n_maps; k++) {
        if (!r->map_count[k]) continue;
        for (int j = 0; j < d; j++) {
            r->maps[(size_t)k * d + j] /= (double)r->map_count[k];
            if (c->rnd) A->maps_rnd[(size_t)k * d + j] /= (double)r->map_count[k];
        }
        if (!c->rnd) continue;
        double *x = c->scratch, *y = c->scratch + d;
        for (int j = 0; j < d; j++) {
            x[j] = fabs(r->maps[(size_t)k * d + j]);
            y[j] = fabs(A->maps_rnd[(size_t)k * d + j]);
        }
        double rho = dnn_spearman(x, y, (size_t)d, c->scratch + 2 * (size_t)d);
        if (!isnan(rho)) {
            rho_maps += rho;
            n_rho_maps++;
        }
    }
    if (c->rnd) {
        r->spearman = A->rho_n ? A->rho_sum / (double)A->rho_n : NAN;
        r->spearman_maps = n_rho_maps ? rho_maps / n_rho_maps : NAN;
    }
    if (!A->delta) return;
    double big = 0, rel_sum = 0;
    size_t n_rel = 0;
    for (size_t i = 0; i < r->n; i++) big = fmax(big, fabs(A->delta[i]));
    r->max_abs = r->max_rel = r->mean_rel = 0;
    for (size_t i = 0; i < r->n; i++) {
        r->max_abs = fmax(r->max_abs, A->error[i]);
        if (fabs(A->delta[i]) <= 1e-6 * big) continue;
        double rel = A->error[i] / fabs(A->delta[i]);
        rel_sum += rel;
        n_rel++;
        if (rel > r->max_rel) {
            r->max_rel = rel;
            r->worst = i;
        }
    }
    r->mean_rel = n_rel ? rel_sum / (double)n_rel : 0;
    for (int i = 0; i < r->n_samples; i++) {
        r->sample_delta[i] = A->delta[i];
        r->sample_error[i] = A->error[i];
    }
}

static void acc_free(acc_t *A)
{
    free(A->acc);
    free(A->attr);
    free(A->rnd);
    free(A->maps_rnd);
    free(A->delta);
    free(A->error);
}

/* A method's sums and chunk buffers. */
static int acc_init(acc_t *A, const ctx_t *c, unsigned method, dnn_attr_result *r)
{
    const int B = c->p->B, d = c->p->d, ig = method == DNN_EXPLAIN_IG;
    const size_t n = c->ds->n;
    memset(A, 0, sizeof *A);
    A->method = method;
    A->r = r;
    int ns = c->o->samples < 0 ? 0 : (size_t)c->o->samples < n ? c->o->samples : (int)n;
    if (result_alloc(r, n, d, c->n_maps, ns, ig)) return -1;
    A->attr = ex_calloc((size_t)B * (size_t)d, sizeof(float));
    if (ig) {
        A->acc = ex_calloc((size_t)B * (size_t)d, sizeof(double));
        A->delta = ex_calloc(n, sizeof(double));
        A->error = ex_calloc(n, sizeof(double));
    }
    if (c->rnd) {
        A->rnd = ex_calloc((size_t)B * (size_t)d, sizeof(float));
        A->maps_rnd = ex_calloc((size_t)c->n_maps * (size_t)d, sizeof(double));
    }
    return A->attr && (!ig || (A->acc && A->delta && A->error)) && (!c->rnd || (A->rnd && A->maps_rnd)) ? 0
                                                                                                        : -1;
}

/* Explain one chunk of b samples from start with every method asked for. */
static void chunk(ctx_t *c, acc_t *A, int nA, int b, size_t start)
{
    for (int i = 0; i < b; i++) c->idx[i] = (uint32_t)(start + (size_t)i);
    dnn_gather(c->ds, &c->m->norm, c->idx, (size_t)b, c->xs, NULL, NULL);
    chunk_targets(c, b);
    for (int a = 0; a < nA; a++) { /* saliency first: integrated gradients overwrite the rows */
        double t0 = dnn_now();
        if (A[a].method == DNN_EXPLAIN_SALIENCY) {
            saliency_chunk(c, c->p, b, A[a].attr);
            if (c->rnd) saliency_chunk(c, c->rnd, b, A[a].rnd);
        } else {
            ig_chunk(c, c->p, b, A[a].acc, A[a].attr);
            if (c->rnd) ig_chunk(c, c->rnd, b, A[a].acc, A[a].rnd);
        }
        accumulate(c, &A[a], b, start);
        A[a].r->seconds += dnn_now() - t0;
    }
}

static int ctx_init(ctx_t *c, const dnn_explain_opts *o)
{
    const int B = c->p->B, d = c->p->d;
    c->zb = ex_calloc((size_t)c->p->k, sizeof(float));
    c->xs = ex_calloc((size_t)B * (size_t)d, sizeof(float));
    c->cls = ex_calloc((size_t)B, sizeof(int));
    c->out = ex_calloc((size_t)B, sizeof(int));
    c->sign = ex_calloc((size_t)B, sizeof(float));
    c->fx = ex_calloc((size_t)B, sizeof(float));
    c->idx = ex_calloc((size_t)B, sizeof(uint32_t));
    c->pi = ex_calloc((size_t)B, sizeof(int));
    c->pk = ex_calloc((size_t)B, sizeof(int));
    c->alpha = ex_calloc((size_t)o->steps, sizeof(double));
    c->w = ex_calloc((size_t)o->steps, sizeof(double));
    c->scratch = ex_calloc(6 * (size_t)d + 6, sizeof(double));
    return c->zb && c->xs && c->cls && c->out && c->sign && c->fx && c->idx && c->pi && c->pk && c->alpha &&
                   c->w && c->scratch
               ? 0
               : -1;
}

static void ctx_free(ctx_t *c)
{
    free(c->zb);
    free(c->xs);
    free(c->cls);
    free(c->out);
    free(c->sign);
    free(c->fx);
    free(c->idx);
    free(c->pi);
    free(c->pk);
    free(c->alpha);
    free(c->w);
    free(c->scratch);
}

dnn_status ex_attributions(ex_pass *p, ex_pass *rnd, const dnn_model *m, const dnn_dataset *ds,
                           const dnn_explain_opts *o, const float *baseline, dnn_explanation *e,
                           dnn_error *err)
{
    ctx_t c = {.m = m, .ds = ds, .o = o, .p = p, .rnd = rnd, .base = baseline};
    /* a map per class, or per regression target (--target may name any of them) */
    c.n_maps = m->cfg.task == DNN_TASK_CLASSIFICATION ? m->n_classes : m->net->n_out;
    acc_t A[2] = {0};
    int nA = 0;
    dnn_status st = ctx_init(&c, o) ? dnn_fail_oom(err, "explanation buffers", 0) : DNN_OK;
    if (!st && (o->methods & DNN_EXPLAIN_IG))
        st = dnn_quadrature_rule(o->quadrature, o->steps, c.alpha, c.w, err);
    const unsigned methods[2] = {DNN_EXPLAIN_SALIENCY, DNN_EXPLAIN_IG};
    dnn_attr_result *res[2] = {&e->sal, &e->ig};
    for (int i = 0; i < 2 && !st; i++) {
        if (!(o->methods & methods[i])) continue;
        if (acc_init(&A[nA], &c, methods[i], res[i])) st = dnn_fail_oom(err, "explanation results", 0);
        nA++;
    }
    if (!st) { /* the baseline's logits, for completeness */
        memcpy(p->rows, baseline, (size_t)p->d * sizeof(float));
        ex_forward(p, 1);
        memcpy(c.zb, dnn_net_logits(p->net), (size_t)p->k * sizeof(float));
    }
    for (size_t start = 0; !st && start < ds->n; start += (size_t)p->B) {
        int b = (int)(ds->n - start < (size_t)p->B ? ds->n - start : (size_t)p->B);
        chunk(&c, A, nA, b, start);
    }
    for (int a = 0; a < nA; a++) {
        if (!st) finish(&c, &A[a]);
        acc_free(&A[a]);
    }
    ctx_free(&c);
    return st;
}
