/* Explanations: options, the baseline, and the order of the work (permutation importance, then the
 * gradient methods in one sweep over the data, each on the trained and, for --sanity, a random network). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/rng.h"
#include "dnn/util.h"
#include "internal.h"

dnn_explain_opts dnn_explain_defaults(void)
{
    return (dnn_explain_opts){.repeats = 5, .steps = 50, .target = -1, .samples = 10};
}

const char *dnn_explain_method_name(unsigned method)
{
    switch (method) {
    case DNN_EXPLAIN_PERMUTATION: return "permutation";
    case DNN_EXPLAIN_SALIENCY: return "saliency";
    case DNN_EXPLAIN_IG: return "integrated_gradients";
    default: return "?";
    }
}

dnn_status dnn_explain_parse_methods(const char *s, unsigned *methods, dnn_error *err)
{
    static const char *const names[] = {"permutation", "saliency", "integrated_gradients"};
    *methods = 0;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        unsigned bit = 0;
        for (int i = 0; i < 3; i++)
            if (len == strlen(names[i]) && strncmp(p, names[i], len) == 0) bit = 1u << i;
        if (!bit) {
            char word[64];
            snprintf(word, sizeof word, "%.*s", (int)(len < 60 ? len : 60), p);
            const char *near = dnn_nearest(word, names, 3);
            return dnn_fail(
                err, DNN_ECONFIG,
                "--explain: expected permutation, saliency or integrated_gradients (comma-separated), "
                "got \"%s\"%s%s%s",
                word, near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
        }
        *methods |= bit;
        if (!p[len]) return DNN_OK;
        p += len + 1;
    }
}

dnn_status dnn_explain_parse_scoring(const char *s, dnn_scoring *sc, dnn_error *err)
{
    if (!strcmp(s, "accuracy"))
        *sc = DNN_SCORING_ACCURACY;
    else if (!strcmp(s, "r2"))
        *sc = DNN_SCORING_R2;
    else if (!strcmp(s, "loss"))
        *sc = DNN_SCORING_LOSS;
    else
        return dnn_fail(err, DNN_ECONFIG, "--scoring: expected accuracy, r2 or loss, got \"%s\"", s);
    return DNN_OK;
}

dnn_status dnn_explain_parse_quadrature(const char *s, dnn_quadrature *q, dnn_error *err)
{
    if (!strcmp(s, "gausslegendre"))
        *q = DNN_QUAD_GAUSS_LEGENDRE;
    else if (!strcmp(s, "riemann_trapezoid"))
        *q = DNN_QUAD_TRAPEZOID;
    else
        return dnn_fail(err, DNN_ECONFIG,
                        "--ig-method: expected gausslegendre or riemann_trapezoid, got \"%s\"", s);
    return DNN_OK;
}

dnn_status dnn_explain_parse_target(const char *s, const dnn_model *m, int *target, dnn_error *err)
{
    const int cls = m->cfg.task == DNN_TASK_CLASSIFICATION;
    const int n = cls ? m->n_classes : m->net->n_out;
    char *const *names = cls ? m->class_names : m->target_names;
    for (int i = 0; names && i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *target = i;
            return DNN_OK;
        }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v < n) {
        *target = (int)v;
        return DNN_OK;
    }
    return dnn_fail(err, DNN_ECONFIG, "--target: expected a %s of the model (%s 0 to %d%s), got \"%s\"",
                    cls ? "class" : "target", names ? "a name, or an index" : "an index", n - 1, "", s);
}

int dnn_explain_is_image(const dnn_model *m)
{
    return m->net->in_shape.h > 1 && m->net->in_shape.w > 1;
}

/* The mean of ds's rows, normalised as the model's inputs. */
static dnn_status mean_row(const dnn_model *m, const dnn_dataset *ds, float *out, dnn_error *err)
{
    const size_t d = ds->d, B = 256;
    float *x = ex_calloc(B * d, sizeof(float));
    double *sum = ex_calloc(d, sizeof(double));
    uint32_t *idx = ex_calloc(B, sizeof(uint32_t));
    if (!x || !sum || !idx) {
        free(x);
        free(sum);
        free(idx);
        return dnn_fail_oom(err, "the baseline", B * d * sizeof(float));
    }
    for (size_t start = 0; start < ds->n; start += B) {
        size_t b = ds->n - start < B ? ds->n - start : B;
        for (size_t i = 0; i < b; i++) idx[i] = (uint32_t)(start + i);
        dnn_gather(ds, &m->norm, idx, b, x, NULL, NULL);
        for (size_t i = 0; i < b; i++)
            for (size_t j = 0; j < d; j++) sum[j] += x[i * d + j];
    }
    for (size_t j = 0; j < d; j++) out[j] = ds->n ? (float)(sum[j] / (double)ds->n) : 0.0f;
    free(x);
    free(sum);
    free(idx);
    return DNN_OK;
}

static dnn_status baseline(const dnn_model *m, const dnn_dataset *ds, const dnn_explain_opts *o, float *out,
                           dnn_error *err)
{
    const size_t d = (size_t)m->net->n_in;
    if (o->baseline == DNN_BASELINE_MEAN) return mean_row(m, ds, out, err);
    if (o->baseline == DNN_BASELINE_DATA) {
        if (!o->baseline_data || o->baseline_data->n == 0 || o->baseline_data->d != d)
            return dnn_fail(err, DNN_ECONFIG, "--baseline: %s: expected at least one sample of %zu features",
                            o->baseline_data ? o->baseline_data->source : "?", d);
        return mean_row(m, o->baseline_data, out, err);
    }
    for (size_t j = 0; j < d; j++)
        out[j] = -m->norm.shift[j] * m->norm.mul[j]; /* zeros in the data's units */
    return DNN_OK;
}

/* The defaulted scoring, checked against the task. */
static dnn_status scoring_for(const dnn_model *m, dnn_scoring sc, dnn_scoring *out, dnn_error *err)
{
    const int cls = m->cfg.task == DNN_TASK_CLASSIFICATION;
    if (sc == DNN_SCORING_AUTO) sc = cls ? DNN_SCORING_ACCURACY : DNN_SCORING_R2;
    if ((sc == DNN_SCORING_ACCURACY && !cls) || (sc == DNN_SCORING_R2 && cls))
        return dnn_fail(err, DNN_ECONFIG, "--scoring %s does not apply to a %s model",
                        sc == DNN_SCORING_ACCURACY ? "accuracy" : "r2", dnn_task_name(m->cfg.task));
    *out = sc;
    return DNN_OK;
}

static dnn_status check(const dnn_model *m, const dnn_dataset *ds, const dnn_explain_opts *o, dnn_error *err)
{
    const int cls = m->cfg.task == DNN_TASK_CLASSIFICATION;
    if (!o->methods) return dnn_fail(err, DNN_ECONFIG, "--explain: no method given");
    if (ds->n == 0) return dnn_fail(err, DNN_EDATA, "%s: no samples to explain", ds->source);
    if ((o->methods & DNN_EXPLAIN_PERMUTATION) && !(cls ? ds->y != NULL : ds->t != NULL))
        return dnn_fail(err, DNN_EDATA, "%s: permutation importance needs the data's labels, and it has none",
                        ds->source);
    if (ds->n > UINT32_MAX) return dnn_fail(err, DNN_EDATA, "%s: too many samples to explain", ds->source);
    if (o->repeats < 1 || o->steps < 1 || o->samples < 0)
        return dnn_fail(err, DNN_ECONFIG, "explanation options out of range");
    if (o->target >= (cls ? m->n_classes : m->net->n_out))
        return dnn_fail(err, DNN_ECONFIG, "--target %d: the model has %d outputs", o->target,
                        cls ? m->n_classes : m->net->n_out);
    return DNN_OK;
}

/* Permutation importance on the trained network (and the random one, correlated, for --sanity). */
static dnn_status permutation(ex_pass *p, ex_pass *rnd, const dnn_model *m, const dnn_dataset *ds,
                              const dnn_explain_opts *o, dnn_explanation *e, dnn_error *err)
{
    dnn_perm_result *r = &e->perm, rr = {0};
    const int G = e->groups.n;
    r->mean = ex_calloc((size_t)G, sizeof(double));
    r->std = ex_calloc((size_t)G, sizeof(double));
    r->spearman = NAN;
    dnn_status st = r->mean && r->std ? scoring_for(m, o->scoring, &r->scoring, err)
                                      : dnn_fail_oom(err, "importances", (size_t)G * sizeof(double));
    if (!st) st = ex_permutation(p, m, ds, o, &e->groups, r, err);
    if (st || !rnd) return st;
    rr.scoring = r->scoring;
    rr.mean = ex_calloc((size_t)G, sizeof(double));
    rr.std = ex_calloc((size_t)G, sizeof(double));
    double *work = ex_calloc(4 * (size_t)G + 4, sizeof(double));
    st = rr.mean && rr.std && work ? ex_permutation(rnd, m, ds, o, &e->groups, &rr, err)
                                   : dnn_fail_oom(err, "importances", (size_t)G * sizeof(double));
    if (!st) r->spearman = dnn_spearman(r->mean, rr.mean, (size_t)G, work);
    r->seconds += rr.seconds;
    free(rr.mean);
    free(rr.std);
    free(work);
    return st;
}

/* The networks the work runs on: the trained one and, for --sanity, a re-initialised one. */
static dnn_status passes(const dnn_model *m, const dnn_explain_opts *o, ex_pass *p, ex_pass *rnd,
                         int *have_rnd, dnn_error *err)
{
    int B = o->max_batch > 0 ? o->max_batch : 256;
    dnn_status st = ex_pass_create(p, m, B, NULL, err);
    if (st || !o->sanity) return st;
    dnn_rng rng;
    dnn_rng_seed(&rng, o->seed, DNN_STREAM_RANDOMISE);
    st = ex_pass_create(rnd, m, B, &rng, err);
    *have_rnd = !st;
    return st;
}

dnn_status dnn_explain(const dnn_model *m, const dnn_dataset *ds, const dnn_explain_opts *o,
                       dnn_explanation *e, dnn_error *err)
{
    memset(e, 0, sizeof *e);
    e->methods = o->methods;
    e->opts = *o;
    e->opts.groups = NULL;
    e->opts.baseline_data = NULL;
    ex_pass p = {0}, rnd = {0};
    int have_rnd = 0;
    dnn_status st = check(m, ds, o, err);
    if (!st) st = passes(m, o, &p, &rnd, &have_rnd, err);
    if (!st && (o->methods & DNN_EXPLAIN_PERMUTATION)) {
        st = o->groups ? ex_groups_copy(&e->groups, o->groups, m->net->n_in, err)
                       : dnn_groups_default(&e->groups, m->feature_names, m->net->n_in, err);
        if (!st) st = permutation(&p, have_rnd ? &rnd : NULL, m, ds, o, e, err);
    }
    if (!st && (o->methods & (DNN_EXPLAIN_SALIENCY | DNN_EXPLAIN_IG))) {
        e->baseline = ex_calloc((size_t)m->net->n_in, sizeof(float));
        st = e->baseline ? baseline(m, ds, o, e->baseline, err) : dnn_fail_oom(err, "the baseline", 0);
        if (!st) st = ex_attributions(&p, have_rnd ? &rnd : NULL, m, ds, o, e->baseline, e, err);
    }
    ex_pass_free(&p);
    ex_pass_free(&rnd);
    if (st) dnn_explanation_free(e);
    return st;
}

static void attr_free(dnn_attr_result *r)
{
    free(r->abs_mean);
    free(r->abs_std);
    free(r->maps);
    free(r->map_count);
    free(r->sample_attr);
    free(r->sample_target);
    free(r->sample_delta);
    free(r->sample_error);
}

void dnn_explanation_free(dnn_explanation *e)
{
    dnn_groups_free(&e->groups);
    free(e->perm.mean);
    free(e->perm.std);
    attr_free(&e->sal);
    attr_free(&e->ig);
    free(e->baseline);
    memset(e, 0, sizeof *e);
}
