/* A search space's values: uniform draws, their JSON form, conditions, building a trial's config from the
 * base, and enumerating a grid. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/report.h"
#include "dnn/util.h"
#include "internal.h"

const cJSON *tune_json_at(const cJSON *root, const char *path)
{
    const cJSON *node = root;
    const char *p = path;
    while (node && *p) {
        char seg[128];
        size_t n = 0;
        int bracket = *p == '[';
        if (bracket) p++;
        while (*p && *p != '.' && *p != '[' && *p != ']' && n + 1 < sizeof seg) seg[n++] = *p++;
        seg[n] = '\0';
        if (bracket && *p++ != ']') return NULL;
        if (*p == '.') p++;
        if (cJSON_IsArray(node)) {
            char *end;
            long i = strtol(seg, &end, 10);
            node = *end || n == 0 || i < 0 ? NULL : cJSON_GetArrayItem(node, (int)i);
        } else if (cJSON_IsObject(node) && !bracket) {
            node = cJSON_GetObjectItemCaseSensitive(node, seg);
        } else {
            return NULL;
        }
    }
    return node;
}

/* The number of values an int range holds. */
static double int_count(const dnn_param *p)
{
    return floor((p->hi - p->lo) / p->step) + 1;
}

double tune_draw(const dnn_param *p, dnn_rng *r)
{
    double u = dnn_rng_uniform(r), v;
    switch (p->kind) {
    case DNN_PARAM_UNIFORM: v = p->lo + (p->hi - p->lo) * u; break;
    case DNN_PARAM_LOGUNIFORM: v = exp(log(p->lo) + (log(p->hi) - log(p->lo)) * u); break;
    case DNN_PARAM_INT: return p->lo + p->step * (double)dnn_rng_below(r, (uint64_t)int_count(p));
    default: return (double)dnn_rng_below(r, (uint64_t)p->n_choices);
    }
    return fmin(fmax(v, p->lo), p->hi); /* exp(log(x)) may round past a bound */
}

cJSON *tune_value_json(const dnn_param *p, double v)
{
    if (p->kind == DNN_PARAM_CHOICE) return cJSON_Duplicate(cJSON_GetArrayItem(p->choices, (int)v), 1);
    if (p->kind == DNN_PARAM_INT) return cJSON_CreateNumber(v);
    return dnn_json_number(v);
}

int tune_value_from_json(const dnn_param *p, const cJSON *j, double *v)
{
    if (p->kind == DNN_PARAM_CHOICE) {
        int i = 0;
        for (const cJSON *c = p->choices->child; c; c = c->next, i++)
            if (cJSON_Compare(c, j, 1)) {
                *v = i;
                return 0;
            }
        return -1;
    }
    double x = dnn_json_value(j);
    if (!(x >= p->lo && x <= p->hi)) return -1;
    if (p->kind == DNN_PARAM_INT && fmod(x - p->lo, p->step) != 0) return -1;
    *v = x;
    return 0;
}

int tune_cond_holds(const dnn_param *p, const cJSON *config)
{
    for (const cJSON *c = p->cond ? p->cond->child : NULL; c; c = c->next) {
        const cJSON *have = tune_json_at(config, c->string);
        if (!have || !cJSON_Compare(have, c, 1)) return 0;
    }
    return 1;
}

void tune_value_text(const dnn_param *p, double v, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "-");
        return;
    }
    if (p->kind != DNN_PARAM_CHOICE) {
        dnn_snprintf_c(buf, n, "%.6g", v);
        return;
    }
    char *s = cJSON_PrintUnformatted(cJSON_GetArrayItem(p->choices, (int)v));
    snprintf(buf, n, "%s", s ? s : "?");
    if (s && strlen(s) >= n && n > 4) strcpy(buf + n - 4, "...");
    free(s);
}

/* Set key to a value in a config tree, through --set's own path rules. */
static dnn_status apply(cJSON *config, const char *key, const cJSON *value, dnn_error *err)
{
    char *text = cJSON_PrintUnformatted(value);
    size_t n = strlen(key) + (text ? strlen(text) : 0) + 2;
    char *set = text ? malloc(n) : NULL;
    dnn_status st;
    if (set) {
        snprintf(set, n, "%s=%s", key, text);
        st = dnn_config_apply_override(config, set, err);
    } else {
        st = dnn_fail_oom(err, key, n);
    }
    free(text);
    free(set);
    return st;
}

dnn_status tune_build(const dnn_sweep *sw, tune_draw_fn draw, void *ctx, double *vals, cJSON **config,
                      dnn_error *err)
{
    *config = cJSON_Duplicate(sw->base, 1);
    if (!*config) return dnn_fail_oom(err, "a trial's config", 0);
    dnn_status st = DNN_OK;
    if (sw->asha) {
        cJSON *epochs = cJSON_CreateNumber(sw->epochs);
        st = epochs ? apply(*config, "training.epochs", epochs, err) : dnn_fail_oom(err, "a config", 0);
        cJSON_Delete(epochs);
    }
    for (int i = 0; i < sw->n_params && !st; i++) {
        const dnn_param *p = &sw->params[i];
        vals[i] = NAN;
        if (!tune_cond_holds(p, *config)) continue;
        vals[i] = draw(ctx, i, *config);
        cJSON *v = tune_value_json(p, vals[i]);
        st = v ? apply(*config, p->key, v, err) : dnn_fail_oom(err, p->key, 0);
        cJSON_Delete(v);
    }
    if (st) {
        cJSON_Delete(*config);
        *config = NULL;
    }
    return st;
}

/* ---- the grid ---- */

typedef struct {
    const dnn_sweep *sw;
    const size_t *digit; /* the value index of each key at this point */
} grid_point;

static double grid_value(const dnn_param *p, size_t k)
{
    return p->kind == DNN_PARAM_INT ? p->lo + p->step * (double)k : (double)k;
}

static double grid_draw(void *ctx, int i, const cJSON *config)
{
    (void)config;
    const grid_point *g = ctx;
    return grid_value(&g->sw->params[i], g->digit[i]);
}

/* Points in a fixed order, a key left out (NaN) before any value, to find the repeats. */
static int point_cmp(const void *a, const void *b, void *n_params)
{
    const double *x = a, *y = b;
    for (int i = 0; i < *(const int *)n_params; i++) {
        int nx = isnan(x[i]), ny = isnan(y[i]);
        if (nx != ny) return nx ? -1 : 1;
        if (!nx && x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

/* Every combination of the keys' values; a key whose condition fails is left out, which makes some
 * combinations the same point: they are kept once. */
static dnn_status grid_enumerate(dnn_sweep *sw, size_t total, size_t *digit, dnn_error *err)
{
    const int np = sw->n_params;
    int conds = 0;
    for (int i = 0; i < np; i++) conds |= sw->params[i].cond != NULL;
    for (size_t pt = 0; pt < total; pt++) {
        double *v = sw->grid + pt * (size_t)np;
        size_t rest = pt;
        for (int i = np - 1; i >= 0; i--) {
            const dnn_param *p = &sw->params[i];
            size_t n = p->kind == DNN_PARAM_INT ? (size_t)int_count(p) : (size_t)p->n_choices;
            digit[i] = rest % n;
            rest /= n;
        }
        if (!conds) {
            for (int i = 0; i < np; i++) v[i] = grid_value(&sw->params[i], digit[i]);
            continue;
        }
        grid_point g = {sw, digit};
        cJSON *config;
        dnn_status st = tune_build(sw, grid_draw, &g, v, &config, err);
        cJSON_Delete(config);
        if (st) return st;
    }
    return DNN_OK;
}

dnn_status tune_grid_build(dnn_sweep *sw, dnn_error *err)
{
    size_t total = 1;
    for (int i = 0; i < sw->n_params; i++) {
        const dnn_param *p = &sw->params[i];
        if (p->kind == DNN_PARAM_UNIFORM || p->kind == DNN_PARAM_LOGUNIFORM)
            return dnn_fail(
                err, DNN_ECONFIG,
                "%s: space.\"%s\": a grid needs a list of values: use {\"choice\": [...]} or {\"int\": "
                "[a, b]} (or the random or tpe sampler)",
                sw->file, p->key);
        double n = p->kind == DNN_PARAM_INT ? int_count(p) : p->n_choices;
        if (n > TUNE_MAX_GRID || (double)total * n > TUNE_MAX_GRID)
            return dnn_fail(
                err, DNN_ECONFIG,
                "%s: space.\"%s\": the grid would have more than %d points (use the random or tpe "
                "sampler)",
                sw->file, p->key, TUNE_MAX_GRID);
        total *= (size_t)n;
    }
    const size_t np = (size_t)sw->n_params;
    sw->grid = malloc(total * np * sizeof(double));
    size_t *digit = malloc(np * sizeof(size_t));
    uint32_t *order = malloc(total * sizeof(uint32_t));
    double *shuffled = malloc(total * np * sizeof(double));
    dnn_status st = sw->grid && digit && order && shuffled ? grid_enumerate(sw, total, digit, err)
                                                           : dnn_fail_oom(err, "the grid", total * np * 8);
    if (!st) {
        qsort_r(sw->grid, total, np * sizeof(double), point_cmp, &sw->n_params);
        size_t n = 0;
        for (size_t i = 0; i < total; i++)
            if (n == 0 || point_cmp(sw->grid + (n - 1) * np, sw->grid + i * np, &sw->n_params) != 0)
                memmove(sw->grid + n++ * np, sw->grid + i * np, np * sizeof(double));
        /* a seeded order, so that a budget smaller than the grid still spreads over it */
        dnn_rng r;
        dnn_rng_seed(&r, sw->seed, TUNE_STREAM_GRID);
        for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
        dnn_rng_shuffle(&r, order, n);
        for (size_t i = 0; i < n; i++)
            memcpy(shuffled + i * np, sw->grid + order[i] * np, np * sizeof(double));
        free(sw->grid);
        sw->grid = shuffled;
        shuffled = NULL;
        sw->n_grid = (int)n;
    }
    free(digit);
    free(order);
    free(shuffled);
    return st;
}
