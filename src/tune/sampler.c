/* The samplers. Random: each key drawn uniformly (log-uniformly, over the ints, over the choices) from the
 * trial's own seeded stream. Grid: the grid's points in a seeded order. TPE (Bergstra et al. 2011, as Optuna
 * implements it): after `startup_trials` random trials, split the trials so far into the good gamma(n) and
 * the rest, fit a Parzen estimator to each key's good values, l(x), and to the rest, g(x), and take of
 * `candidates` draws from l the one with the largest l(x)/g(x), the expected-improvement maximiser. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/util.h"
#include "internal.h"

/* ---- Parzen estimators over one key, in its internal space (log x for loguniform) ---- */

typedef struct {
    int n;              /* kernels: one per observation, then the prior */
    double *w;          /* mixture weights, summing to 1 */
    double *mu, *sigma; /* numbers: each kernel a normal truncated to [lo, hi] */
    double lo, hi;
    double step; /* ints: each value owns a cell of this width; 0 for real numbers */
    int k;       /* choices: each kernel a distribution over k categories, n rows */
    double *cat;
} parzen;

static void parzen_free(parzen *e)
{
    free(e->w);
    free(e->mu);
    free(e->sigma);
    free(e->cat);
}

/* Optuna's weights: equal up to 25 observations, then a ramp that discounts the oldest. */
static double obs_weight(int i, int n)
{
    if (n < 25 || i >= n - 25) return 1.0;
    int m = n - 25; /* linspace(1/n, 1, m) */
    return m == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * (double)i / (double)(m - 1);
}

static int cmp_double_at(const void *a, const void *b, void *v)
{
    const double *x = v;
    double p = x[*(const int *)a], q = x[*(const int *)b];
    return p < q ? -1 : p > q;
}

/* Each observation's bandwidth is the larger gap to its neighbours among the observations, the prior's mean
 * and the bounds (the outermost look inwards only), clipped to [range / min(100, n + 2), range]. */
static void bandwidths(const double *x, int n, double lo, double hi, double *sigma, int *idx, double *e)
{
    const int m = n + 1;
    double *all = e + m + 2; /* observations and the prior's mean, unsorted */
    for (int i = 0; i < n; i++) all[i] = x[i];
    all[n] = 0.5 * (lo + hi);
    for (int i = 0; i < m; i++) idx[i] = i;
    qsort_r(idx, (size_t)m, sizeof *idx, cmp_double_at, all);
    e[0] = lo;
    for (int i = 0; i < m; i++) e[i + 1] = all[idx[i]];
    e[m + 1] = hi;
    const double range = hi - lo, lo_clip = range / fmin(100.0, 1.0 + m);
    for (int j = 0; j < m; j++) {
        double s = fmax(e[j + 1] - e[j], e[j + 2] - e[j + 1]);
        if (m >= 2 && j == 0) s = e[2] - e[1];
        if (m >= 2 && j == m - 1) s = e[m] - e[m - 1];
        if (idx[j] < n) sigma[idx[j]] = fmin(fmax(s, lo_clip), range);
    }
}

static int parzen_init(parzen *e, const dnn_param *p, const double *x, int n)
{
    memset(e, 0, sizeof *e);
    e->n = n + 1;
    e->w = malloc((size_t)e->n * sizeof(double));
    if (!e->w) return -1;
    double sum = 0;
    for (int i = 0; i < e->n; i++) sum += e->w[i] = i < n ? obs_weight(i, n) : 1.0; /* prior weight 1 */
    for (int i = 0; i < e->n; i++) e->w[i] /= sum;
    if (p->kind == DNN_PARAM_CHOICE) {
        e->k = p->n_choices;
        e->cat = malloc((size_t)e->n * (size_t)e->k * sizeof(double));
        if (!e->cat) return -1;
        for (int i = 0; i < e->n; i++) {
            double *row = e->cat + (size_t)i * (size_t)e->k, rs = 0;
            for (int c = 0; c < e->k; c++) row[c] = 1.0 / e->n; /* the prior's share, as in Optuna */
            if (i < n) row[(int)x[i]] += 1.0;
            for (int c = 0; c < e->k; c++) rs += row[c];
            for (int c = 0; c < e->k; c++) row[c] /= rs;
        }
        return 0;
    }
    e->lo = p->kind == DNN_PARAM_LOGUNIFORM ? log(p->lo) : p->lo;
    e->hi = p->kind == DNN_PARAM_LOGUNIFORM ? log(p->hi) : p->hi;
    if (p->kind == DNN_PARAM_INT) {
        e->step = p->step;
        e->lo -= p->step / 2;
        e->hi += p->step / 2;
    }
    e->mu = malloc((size_t)e->n * sizeof(double));
    e->sigma = malloc((size_t)e->n * sizeof(double));
    int *idx = malloc((size_t)e->n * sizeof(int));
    double *scratch = malloc((2 * (size_t)e->n + 2) * sizeof(double));
    int ok = e->mu && e->sigma && idx && scratch;
    if (ok) {
        for (int i = 0; i < n; i++) e->mu[i] = p->kind == DNN_PARAM_LOGUNIFORM ? log(x[i]) : x[i];
        bandwidths(e->mu, n, e->lo, e->hi, e->sigma, idx, scratch);
        e->mu[n] = 0.5 * (e->lo + e->hi);
        e->sigma[n] = e->hi - e->lo;
    }
    free(idx);
    free(scratch);
    return ok ? 0 : -1;
}

/* P(l < Z < u) for a standard normal, without cancellation in either tail. */
static double normal_mass(double l, double u)
{
    const double r = 0.70710678118654752440;
    if (l >= 0) return 0.5 * (erfc(l * r) - erfc(u * r));
    if (u <= 0) return 0.5 * (erfc(-u * r) - erfc(-l * r));
    return 1.0 - 0.5 * erfc(u * r) - 0.5 * erfc(-l * r);
}

/* log density (or, for ints, log probability of x's cell) of kernel i at internal point x */
static double kernel_log_pdf(const parzen *e, int i, double x)
{
    const double mu = e->mu[i], s = e->sigma[i];
    double norm = log(normal_mass((e->lo - mu) / s, (e->hi - mu) / s));
    if (e->step > 0) return log(normal_mass((x - e->step / 2 - mu) / s, (x + e->step / 2 - mu) / s)) - norm;
    double z = (x - mu) / s;
    return -0.5 * z * z - log(s) - 0.91893853320467274178 - norm; /* log sqrt(2 pi) */
}

static double parzen_log_pdf(const parzen *e, double x)
{
    double best = -INFINITY, *terms = NULL, stack[64];
    terms = e->n <= 64 ? stack : malloc((size_t)e->n * sizeof(double));
    if (!terms) return -INFINITY;
    for (int i = 0; i < e->n; i++) {
        terms[i] = log(e->w[i]) +
                   (e->cat ? log(e->cat[(size_t)i * (size_t)e->k + (size_t)x]) : kernel_log_pdf(e, i, x));
        best = fmax(best, terms[i]);
    }
    double sum = 0;
    for (int i = 0; isfinite(best) && i < e->n; i++) sum += exp(terms[i] - best);
    if (terms != stack) free(terms);
    return isfinite(best) ? best + log(sum) : -INFINITY;
}

static int pick(const double *p, int n, dnn_rng *r)
{
    double u = dnn_rng_uniform(r), acc = 0;
    for (int i = 0; i < n - 1; i++)
        if (u < (acc += p[i])) return i;
    return n - 1;
}

/* A draw from the mixture, in internal space; ints land on their grid. */
static double parzen_sample(const parzen *e, const dnn_param *p, dnn_rng *r)
{
    int i = pick(e->w, e->n, r);
    if (e->cat) return pick(e->cat + (size_t)i * (size_t)e->k, e->k, r);
    /* the kernel's mean lies inside [lo, hi] and its width is at most the range, so at least a third of
     * draws are accepted; the bound on tries only guards against a broken generator */
    double x = e->mu[i];
    for (int tries = 0; tries < 1000; tries++) {
        double y = e->mu[i] + e->sigma[i] * dnn_rng_normal(r);
        if (y >= e->lo && y <= e->hi) {
            x = y;
            break;
        }
    }
    if (e->step > 0) x = fmin(fmax(p->lo + e->step * round((x - p->lo) / e->step), p->lo), p->hi);
    return x;
}

double tune_tpe_draw(const dnn_param *p, int i, const tune_obs *good, int n_good, const tune_obs *bad,
                     int n_bad, int candidates, dnn_rng *r)
{
    double *x = malloc(((size_t)n_good + (size_t)n_bad + 1) * sizeof(double));
    if (!x) return tune_draw(p, r);
    int ng = 0, nb = 0;
    for (int k = 0; k < n_good; k++)
        if (!isnan(good[k].vals[i])) x[ng++] = good[k].vals[i];
    for (int k = 0; k < n_bad; k++)
        if (!isnan(bad[k].vals[i])) x[ng + nb++] = bad[k].vals[i];
    parzen l, g;
    int ok = parzen_init(&l, p, x, ng) == 0;
    ok = parzen_init(&g, p, x + ng, nb) == 0 && ok;
    double best_x = NAN, best = -INFINITY;
    for (int c = 0; ok && c < candidates; c++) {
        double y = parzen_sample(&l, p, r);
        double score = parzen_log_pdf(&l, y) - parzen_log_pdf(&g, y);
        if (isnan(best_x) || score > best) best = score, best_x = y;
    }
    parzen_free(&l);
    parzen_free(&g);
    free(x);
    if (isnan(best_x)) return tune_draw(p, r); /* out of memory: a random draw still makes a trial */
    if (p->kind == DNN_PARAM_LOGUNIFORM) return fmin(fmax(exp(best_x), p->lo), p->hi);
    return best_x;
}

/* ---- the split: trials that went further first, then by value ---- */

static int obs_rank(const void *a, const void *b)
{
    const tune_obs *x = a, *y = b;
    if (x->steps != y->steps) return x->steps > y->steps ? -1 : 1;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return (x->number > y->number) - (x->number < y->number);
}

static int obs_number(const void *a, const void *b)
{
    const tune_obs *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

int tune_tpe_split(tune_obs *obs, int n)
{
    int good = (int)ceil(0.1 * n); /* Optuna's gamma */
    if (good > 25) good = 25;
    qsort(obs, (size_t)n, sizeof *obs, obs_rank);
    qsort(obs, (size_t)good, sizeof *obs, obs_number); /* in trial order, for the weights */
    qsort(obs + good, (size_t)(n - good), sizeof *obs, obs_number);
    return good;
}

/* ---- a trial's values ---- */

typedef struct {
    const dnn_sweep *sw;
    dnn_rng rng;
    const double *point; /* grid */
    const tune_obs *obs; /* tpe: good then bad */
    int n_good, n_bad;
} draw_ctx;

static double draw_random(void *ctx, int i, const cJSON *config)
{
    (void)config;
    draw_ctx *d = ctx;
    return tune_draw(&d->sw->params[i], &d->rng);
}

static double draw_grid(void *ctx, int i, const cJSON *config)
{
    (void)config;
    const draw_ctx *d = ctx;
    return d->point[i];
}

static double draw_tpe(void *ctx, int i, const cJSON *config)
{
    (void)config;
    draw_ctx *d = ctx;
    return tune_tpe_draw(&d->sw->params[i], i, d->obs, d->n_good, d->obs + d->n_good, d->n_bad,
                         d->sw->candidates, &d->rng);
}

/* What TPE learns from: trials with a value, completed or stopped at a rung; a running trial has none yet. */
static int observations(const dnn_sweep *sw, const tune_trial *t, int n, tune_obs *obs)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        const tune_trial *x = &t[i];
        if (x->epochs == 0 ||
            (x->state != TRIAL_COMPLETED && x->state != TRIAL_PAUSED && x->state != TRIAL_PRUNED))
            continue;
        int at;
        obs[k].vals = x->vals;
        obs[k].steps = x->state == TRIAL_COMPLETED ? INFINITY : x->epochs;
        obs[k].score = tune_best_upto(x, x->epochs, sw->maximize, &at);
        obs[k].number = x->number;
        k++;
    }
    return k;
}

dnn_status tune_sample(const dnn_sweep *sw, const tune_trial *trials, int n, int number, double *vals,
                       cJSON **config, dnn_error *err)
{
    draw_ctx d = {.sw = sw};
    dnn_rng_seed(&d.rng, sw->seed, TUNE_STREAM_TRIAL + (uint64_t)number);
    if (sw->sampler == DNN_SAMPLER_GRID) {
        if (number >= sw->n_grid)
            return dnn_fail(err, DNN_EINTERNAL, "trial %d is past the grid's end", number);
        d.point = sw->grid + (size_t)number * (size_t)sw->n_params;
        return tune_build(sw, draw_grid, &d, vals, config, err);
    }
    if (sw->sampler == DNN_SAMPLER_RANDOM) return tune_build(sw, draw_random, &d, vals, config, err);
    tune_obs *obs = malloc(((size_t)n + 1) * sizeof *obs);
    if (!obs) return dnn_fail_oom(err, "the trials' history", (size_t)n * sizeof *obs);
    int m = observations(sw, trials, n, obs);
    dnn_status st;
    if (m < sw->startup_trials || m == 0) {
        st = tune_build(sw, draw_random, &d, vals, config, err);
    } else {
        d.obs = obs;
        d.n_good = tune_tpe_split(obs, m);
        d.n_bad = m - d.n_good;
        st = tune_build(sw, draw_tpe, &d, vals, config, err);
    }
    free(obs);
    return st;
}
