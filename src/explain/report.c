/* Explanations in the JSON report ("explanation") and as text for people. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/report.h"
#include "dnn/util.h"
#include "internal.h"

/* A class's (or regression target's) name. */
static void output_name(const dnn_model *m, int c, char *buf, size_t n)
{
    char *const *names = m->cfg.task == DNN_TASK_CLASSIFICATION ? m->class_names : m->target_names;
    if (names)
        snprintf(buf, n, "%s", names[c]);
    else
        snprintf(buf, n, "%d", c);
}

static void feature_name(const dnn_model *m, int j, char *buf, size_t n)
{
    if (m->feature_names)
        snprintf(buf, n, "%s", m->feature_names[j]);
    else
        snprintf(buf, n, "x%d", j);
}

/* Indices 0..n-1 ordered by v, largest first (ties in index order). */
static int *by_importance(const double *v, int n)
{
    int *o = ex_calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    if (!o) return NULL;
    for (int i = 0; i < n; i++) o[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: stable, and n is a table's column count */
        int t = o[i], j = i;
        while (j > 0 && v[o[j - 1]] < v[t]) {
            o[j] = o[j - 1];
            j--;
        }
        o[j] = t;
    }
    return o;
}

static cJSON *numbers(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, dnn_json_number(v[i]));
    return a;
}

static cJSON *float_numbers(const float *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, dnn_json_number(v[i]));
    return a;
}

/* [{"name", "importance", "std"}...], the most important first. */
static cJSON *features(const double *mean, const double *std, int n, const dnn_feature_groups *gs,
                       const dnn_model *m)
{
    int *o = by_importance(mean, n);
    cJSON *a = cJSON_CreateArray();
    char buf[256];
    for (int i = 0; o && a && i < n; i++) {
        cJSON *f = cJSON_CreateObject();
        if (gs)
            snprintf(buf, sizeof buf, "%s", gs->g[o[i]].name);
        else
            feature_name(m, o[i], buf, sizeof buf);
        cJSON_AddStringToObject(f, "name", buf);
        cJSON_AddItemToObject(f, "importance", dnn_json_number(mean[o[i]]));
        cJSON_AddItemToObject(f, "std", dnn_json_number(std[o[i]]));
        if (gs && gs->g[o[i]].n > 1) {
            cJSON *cols = cJSON_AddArrayToObject(f, "columns");
            for (int c = 0; c < gs->g[o[i]].n; c++) {
                feature_name(m, gs->g[o[i]].cols[c], buf, sizeof buf);
                cJSON_AddItemToArray(cols, cJSON_CreateString(buf));
            }
        }
        cJSON_AddItemToArray(a, f);
    }
    free(o);
    return a;
}

static const char *scoring_name(dnn_scoring s)
{
    return s == DNN_SCORING_ACCURACY ? "accuracy" : s == DNN_SCORING_R2 ? "r2" : "loss";
}

static cJSON *permutation_json(const dnn_explanation *e, const dnn_model *m)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "scoring", scoring_name(e->perm.scoring));
    cJSON_AddItemToObject(j, "score", dnn_json_number(e->perm.score));
    cJSON_AddNumberToObject(j, "repeats", e->opts.repeats);
    cJSON_AddItemToObject(j, "features", features(e->perm.mean, e->perm.std, e->groups.n, &e->groups, m));
    if (e->opts.sanity)
        cJSON_AddItemToObject(cJSON_AddObjectToObject(j, "sanity"), "spearman",
                              dnn_json_number(e->perm.spearman));
    cJSON_AddItemToObject(j, "seconds", dnn_json_number(e->perm.seconds));
    return j;
}

/* Per-class maps, or per-feature importances for tables; the first samples; the sanity check. */
static void attribution_json(cJSON *j, const dnn_attr_result *r, const dnn_explanation *e, const dnn_model *m)
{
    char buf[256];
    cJSON_AddNumberToObject(j, "samples_explained", (double)r->n);
    if (e->opts.target >= 0) output_name(m, e->opts.target, buf, sizeof buf);
    cJSON_AddStringToObject(j, "target", e->opts.target >= 0 ? buf : "predicted");
    if (!dnn_explain_is_image(m))
        cJSON_AddItemToObject(j, "features", features(r->abs_mean, r->abs_std, r->d, NULL, m));
    cJSON *cl = cJSON_AddArrayToObject(j, "classes");
    for (int k = 0; k < r->n_maps; k++) {
        if (!r->map_count[k]) continue;
        cJSON *c = cJSON_CreateObject();
        output_name(m, k, buf, sizeof buf);
        cJSON_AddStringToObject(c, "class", buf);
        cJSON_AddNumberToObject(c, "samples", (double)r->map_count[k]);
        cJSON_AddItemToObject(c, "map", numbers(r->maps + (size_t)k * r->d, r->d));
        cJSON_AddItemToArray(cl, c);
    }
    cJSON *sa = cJSON_AddArrayToObject(j, "samples");
    for (int i = 0; i < r->n_samples; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "index", i);
        output_name(m, r->sample_target[i], buf, sizeof buf);
        cJSON_AddStringToObject(s, "class", buf);
        if (r->sample_delta) {
            cJSON_AddItemToObject(s, "delta", dnn_json_number(r->sample_delta[i]));
            cJSON_AddItemToObject(s, "completeness_error", dnn_json_number(r->sample_error[i]));
        }
        cJSON_AddItemToObject(s, "attribution", float_numbers(r->sample_attr + (size_t)i * r->d, r->d));
        cJSON_AddItemToArray(sa, s);
    }
    if (e->opts.sanity) {
        cJSON *s = cJSON_AddObjectToObject(j, "sanity");
        cJSON_AddItemToObject(s, "spearman", dnn_json_number(r->spearman));
        cJSON_AddItemToObject(s, "spearman_maps", dnn_json_number(r->spearman_maps));
    }
    cJSON_AddItemToObject(j, "seconds", dnn_json_number(r->seconds));
}

static cJSON *ig_json(const dnn_explanation *e, const dnn_model *m)
{
    static const char *const baselines[] = {"zero", "mean", "file"};
    const dnn_attr_result *r = &e->ig;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "steps", e->opts.steps);
    cJSON_AddStringToObject(j, "quadrature",
                            e->opts.quadrature == DNN_QUAD_TRAPEZOID ? "riemann_trapezoid" : "gausslegendre");
    cJSON_AddStringToObject(j, "baseline", baselines[e->opts.baseline]);
    cJSON *c = cJSON_AddObjectToObject(j, "completeness");
    cJSON_AddItemToObject(c, "max_abs", dnn_json_number(r->max_abs));
    cJSON_AddItemToObject(c, "max_rel", dnn_json_number(r->max_rel));
    cJSON_AddItemToObject(c, "mean_rel", dnn_json_number(r->mean_rel));
    cJSON_AddNumberToObject(c, "worst_sample", (double)r->worst);
    attribution_json(j, r, e, m);
    return j;
}

cJSON *dnn_explanation_json(const dnn_explanation *e, const dnn_model *m)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    if (e->methods & DNN_EXPLAIN_PERMUTATION) cJSON_AddItemToObject(j, "permutation", permutation_json(e, m));
    if (e->methods & DNN_EXPLAIN_SALIENCY) {
        cJSON *s = cJSON_AddObjectToObject(j, "saliency");
        attribution_json(s, &e->sal, e, m);
    }
    if (e->methods & DNN_EXPLAIN_IG) cJSON_AddItemToObject(j, "integrated_gradients", ig_json(e, m));
    return j;
}

/* The most important rows of a table of importances (at most 20). */
static void print_table(FILE *f, const char *title, const double *mean, const double *std, int n,
                        const dnn_feature_groups *gs, const dnn_model *m)
{
    int *o = by_importance(mean, n);
    if (!o) return;
    char buf[256];
    fprintf(f, "%s\n  %-28s %12s %12s\n", title, "feature", "importance", "std");
    for (int i = 0; i < n && i < 20; i++) {
        if (gs)
            snprintf(buf, sizeof buf, "%s", gs->g[o[i]].name);
        else
            feature_name(m, o[i], buf, sizeof buf);
        dnn_fprintf_c(f, "  %-28.28s %12.6g %12.6g\n", buf, mean[o[i]], std[o[i]]);
    }
    if (n > 20) fprintf(f, "  (%d more in the JSON report)\n", n - 20);
    free(o);
}

static void print_sanity(FILE *f, const dnn_explanation *e, double rho, double rho_maps)
{
    if (!e->opts.sanity) return;
    dnn_fprintf_c(f, "  sanity: Spearman correlation with a randomised network %.3f", rho);
    if (!isnan(rho_maps)) dnn_fprintf_c(f, " (class maps %.3f)", rho_maps);
    fprintf(f, "; low means the explanation depends on what the model learned\n");
}

void dnn_explanation_print(FILE *f, const dnn_explanation *e, const dnn_model *m)
{
    char title[160];
    const int image = dnn_explain_is_image(m);
    if (e->methods & DNN_EXPLAIN_PERMUTATION) {
        dnn_snprintf_c(title, sizeof title,
                       "permutation importance (drop of %s %.6g, %d repeats):", scoring_name(e->perm.scoring),
                       e->perm.score, e->opts.repeats);
        print_table(f, title, e->perm.mean, e->perm.std, e->groups.n, &e->groups, m);
        print_sanity(f, e, e->perm.spearman, NAN);
    }
    const dnn_attr_result *rs[2] = {&e->sal, &e->ig};
    for (int i = 0; i < 2; i++) {
        unsigned bit = i ? DNN_EXPLAIN_IG : DNN_EXPLAIN_SALIENCY;
        if (!(e->methods & bit)) continue;
        snprintf(title, sizeof title,
                 "%s (mean |attribution| over %zu samples):", dnn_explain_method_name(bit), rs[i]->n);
        if (image)
            fprintf(f, "%s: per-class maps over %zu samples (see the JSON report or --plot)\n",
                    dnn_explain_method_name(bit), rs[i]->n);
        else
            print_table(f, title, rs[i]->abs_mean, rs[i]->abs_std, rs[i]->d, NULL, m);
        if (i)
            dnn_fprintf_c(f,
                          "  completeness (%d-point %s): |sum - (f(x) - f(baseline))| at most %.3g, "
                          "%.3g%% of |f(x) - f(baseline)| at most (mean %.3g%%)\n",
                          e->opts.steps,
                          e->opts.quadrature == DNN_QUAD_TRAPEZOID ? "trapezoid rule" : "Gauss-Legendre",
                          rs[i]->max_abs, 100 * rs[i]->max_rel, 100 * rs[i]->mean_rel);
        print_sanity(f, e, rs[i]->spearman, rs[i]->spearman_maps);
    }
}
