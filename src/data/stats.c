/* One-pass statistics. The quantile summary follows Greenwald and Khanna (SIGMOD 2001) in the form Spark's
 * QuantileSummaries uses: batched inserts, then a compression that merges neighbouring tuples while the
 * invariant g + delta <= 2 eps n holds, which keeps every rank within eps n. */
#include "dnn/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GK_HEAD 1024 /* values buffered before a merge: 8 KiB a column, for files of many columns */

void dnn_welford_add(dnn_welford *w, double x)
{
    if (w->n == 0) w->min = w->max = x;
    w->n += 1;
    double d = x - w->mean;
    w->mean += d / w->n;
    w->m2 += d * (x - w->mean);
    if (x < w->min) w->min = x;
    if (x > w->max) w->max = x;
}

dnn_welford dnn_welford_with(dnn_welford w, double k, double v)
{
    if (k <= 0) return w;
    if (w.n == 0) return (dnn_welford){k, v, 0, v, v};
    double n = w.n + k, d = v - w.mean;
    dnn_welford r = {n, w.mean + d * k / n, w.m2 + d * d * w.n * k / n, w.min, w.max};
    if (v < r.min) r.min = v;
    if (v > r.max) r.max = v;
    return r;
}

double dnn_welford_var(const dnn_welford *w)
{
    return w->n > 0 ? w->m2 / w->n : 0;
}

/* ---- Greenwald-Khanna ---- */

dnn_status dnn_gk_init(dnn_gk *g, double eps, dnn_error *err)
{
    memset(g, 0, sizeof *g);
    g->eps = eps;
    g->head = malloc(GK_HEAD * sizeof *g->head);
    return g->head ? DNN_OK : dnn_fail_oom(err, "a median's summary", GK_HEAD * sizeof *g->head);
}

void dnn_gk_free(dnn_gk *g)
{
    free(g->head);
    free(g->s);
    memset(g, 0, sizeof *g);
}

size_t dnn_gk_bytes(const dnn_gk *g)
{
    return GK_HEAD * sizeof *g->head + g->cap_s * sizeof *g->s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Merge neighbours from the top down while their joint g and delta stay under 2 eps n; the first and last
 * tuples (the minimum and maximum) stay. */
static void compress(dnn_gk *g)
{
    if (g->n_s < 3) return;
    const double threshold = floor(2 * g->eps * (double)g->count);
    struct dnn_gk_tuple *s = g->s;
    size_t out = g->n_s - 1; /* tuples are written back from the end */
    struct dnn_gk_tuple head = s[g->n_s - 1];
    for (size_t i = g->n_s - 2; i >= 1; i--) {
        if ((double)(s[i].g + head.g + head.delta) < threshold) {
            head.g += s[i].g;
        } else {
            s[out--] = head;
            head = s[i];
        }
    }
    s[out--] = head;
    s[out] = s[0];
    memmove(s, s + out, (g->n_s - out) * sizeof *s);
    g->n_s -= out;
}

/* Insert the buffered values: sorted, each gets g = 1 and delta = floor(2 eps n), but a new minimum or
 * maximum delta 0. */
static dnn_status flush(dnn_gk *g, dnn_error *err)
{
    if (g->n_head == 0) return DNN_OK;
    qsort(g->head, g->n_head, sizeof *g->head, cmp_double);
    size_t need = g->n_s + g->n_head;
    struct dnn_gk_tuple *out = malloc(need * sizeof *out);
    if (!out) return dnn_fail_oom(err, "a median's summary", need * sizeof *out);
    size_t i = 0, k = 0;
    for (size_t h = 0; h < g->n_head; h++) {
        const double v = g->head[h];
        while (i < g->n_s && g->s[i].v <= v) out[k++] = g->s[i++];
        g->count++;
        int64_t delta = (k == 0 || (i == g->n_s && h == g->n_head - 1))
                            ? 0
                            : (int64_t)floor(2 * g->eps * (double)g->count);
        out[k++] = (struct dnn_gk_tuple){v, 1, delta};
    }
    while (i < g->n_s) out[k++] = g->s[i++];
    free(g->s);
    g->s = out;
    g->n_s = k;
    g->cap_s = need;
    g->n_head = 0;
    compress(g);
    return DNN_OK;
}

dnn_status dnn_gk_add(dnn_gk *g, double v, dnn_error *err)
{
    g->head[g->n_head++] = v;
    return g->n_head == GK_HEAD ? flush(g, err) : DNN_OK;
}

static double query(const dnn_gk *g, double q)
{
    if (g->n_s == 0) return NAN;
    if (q <= g->eps) return g->s[0].v;
    if (q >= 1 - g->eps) return g->s[g->n_s - 1].v;
    const double rank = ceil(q * (double)g->count);
    /* the summary's actual error bound, never more than eps n */
    int64_t widest = 0;
    for (size_t i = 0; i < g->n_s; i++)
        if (g->s[i].g + g->s[i].delta > widest) widest = g->s[i].g + g->s[i].delta;
    const double target = (double)widest / 2;
    double min_rank = 0;
    for (size_t i = 0; i + 1 < g->n_s; i++) {
        min_rank += (double)g->s[i].g;
        double max_rank = min_rank + (double)g->s[i].delta;
        if (max_rank - target <= rank && rank <= min_rank + target) return g->s[i].v;
    }
    return g->s[g->n_s - 1].v;
}

dnn_status dnn_gk_query(dnn_gk *g, double q, double *v, dnn_error *err)
{
    dnn_status st = flush(g, err);
    *v = st ? NAN : query(g, q);
    return st;
}
