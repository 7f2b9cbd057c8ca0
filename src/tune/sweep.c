/* Sweep files: read, check every key against the contract and the base config, and say what is wrong with
 * the file's name and the key: `sweep.json: space."optimizer.learning_rate": loguniform: ...`. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/util.h"
#include "internal.h"

#define SWEEP_MAX_BYTES  (16u << 20)
#define SWEEP_MAX_PARAMS 64
#define SWEEP_MAX_CHOICE 10000

typedef struct {
    const char *file;
    dnn_error *err;
} sctx;

static dnn_status sfail(const sctx *s, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static dnn_status sfail(const sctx *s, const char *where, const char *fmt, ...)
{
    char what[800];
    va_list ap;
    va_start(ap, fmt);
    dnn_vsnprintf_c(what, sizeof what, fmt, ap);
    va_end(ap);
    return dnn_fail(s->err, DNN_ECONFIG, "%s: %s: %s", s->file, where, what);
}

/* A short rendering of a JSON value for "got ..." in messages. */
static void shown(const cJSON *j, char *buf, size_t n)
{
    char *p = j ? cJSON_PrintUnformatted(j) : NULL;
    snprintf(buf, n, "%s", p ? p : "nothing");
    if (p && strlen(p) >= n && n > 4) strcpy(buf + n - 4, "...");
    free(p);
}

static dnn_status check_keys(const sctx *s, const char *where, const cJSON *obj, const char *const *names,
                             size_t n)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        size_t i = 0;
        while (i < n && strcmp(c->string, names[i]) != 0) i++;
        char at[600];
        snprintf(at, sizeof at, "%s%s%s", where, where[0] ? "." : "", c->string);
        if (i == n) {
            const char *near = dnn_nearest(c->string, names, n);
            if (near) return sfail(s, at, "unknown key (did you mean \"%s\"?)", near);
            char list[300] = "";
            for (size_t k = 0, m = 0; k < n && m < sizeof list; k++)
                m += (size_t)snprintf(list + m, sizeof list - m, "%s%s", k ? ", " : "", names[k]);
            return sfail(s, at, "unknown key (expected one of: %s)", list);
        }
        for (const cJSON *d = c->next; d; d = d->next)
            if (strcmp(c->string, d->string) == 0) return sfail(s, at, "key given twice");
    }
    return DNN_OK;
}

/* An integer in [lo, hi] at key (absent: def). */
static dnn_status get_int(const sctx *s, const cJSON *obj, const char *key, const char *where, long lo,
                          long hi, long def, long *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = def;
    if (!it) return DNN_OK;
    double d = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    if (!(d == floor(d) && d >= (double)lo && d <= (double)hi)) {
        char got[64];
        shown(it, got, sizeof got);
        return sfail(s, where, "expected an integer from %ld to %ld, got %s", lo, hi, got);
    }
    *out = (long)d;
    return DNN_OK;
}

/* ---- the objective ---- */

static dnn_status objective(const sctx *s, dnn_sweep *sw, const cJSON *json, const dnn_config *base)
{
    static const char *const metrics[] = {"val_loss", "val_accuracy", "loss", "accuracy"};
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "metric");
    sw->metric = base->validation_split > 0 ? DNN_MONITOR_VAL_LOSS : DNN_MONITOR_LOSS;
    if (m) {
        int k = -1;
        for (int i = 0; i < 4 && cJSON_IsString(m); i++)
            if (strcmp(m->valuestring, metrics[i]) == 0) k = i;
        if (k < 0) {
            char got[64];
            shown(m, got, sizeof got);
            const char *near = cJSON_IsString(m) ? dnn_nearest(m->valuestring, metrics, 4) : NULL;
            if (near) return sfail(s, "metric", "unknown metric %s (did you mean \"%s\"?)", got, near);
            return sfail(s, "metric",
                         "expected \"val_loss\", \"val_accuracy\", \"loss\" or \"accuracy\", got %s", got);
        }
        sw->metric = (dnn_monitor)k;
    }
    int val = sw->metric == DNN_MONITOR_VAL_LOSS || sw->metric == DNN_MONITOR_VAL_ACCURACY;
    if (val && base->validation_split <= 0)
        return sfail(s, "metric",
                     "\"%s\" needs a validation split, and the base config %s has no "
                     "data.validation_split",
                     dnn_monitor_name(sw->metric), sw->base_file);
    int acc = sw->metric == DNN_MONITOR_VAL_ACCURACY || sw->metric == DNN_MONITOR_ACCURACY;
    if (acc && base->task == DNN_TASK_REGRESSION)
        return sfail(s, "metric", "a regression has no accuracy (use \"val_loss\" or \"loss\")");
    sw->maximize = acc;
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(json, "mode");
    if (mode) {
        if (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "max") && strcmp(mode->valuestring, "min"))) {
            char got[64];
            shown(mode, got, sizeof got);
            return sfail(s, "mode", "expected \"max\" or \"min\", got %s", got);
        }
        sw->maximize = strcmp(mode->valuestring, "max") == 0;
    }
    return DNN_OK;
}

/* ---- sampler, budget, pruner ---- */

static dnn_status sampler(const sctx *s, dnn_sweep *sw, const cJSON *json)
{
    static const char *const names[] = {"random", "grid", "tpe"};
    static const char *const keys[] = {"type", "startup_trials", "candidates"};
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(json, "sampler"), *type = it;
    sw->sampler = DNN_SAMPLER_RANDOM;
    sw->startup_trials = 10; /* Optuna's defaults */
    sw->candidates = 24;
    if (!it) return DNN_OK;
    if (cJSON_IsObject(it)) {
        dnn_status st = check_keys(s, "sampler", it, keys, 3);
        long v = 0;
        if (!st) st = get_int(s, it, "startup_trials", "sampler.startup_trials", 0, 100000, 10, &v);
        sw->startup_trials = (int)v;
        if (!st) st = get_int(s, it, "candidates", "sampler.candidates", 1, 100000, 24, &v);
        sw->candidates = (int)v;
        if (st) return st;
        type = cJSON_GetObjectItemCaseSensitive(it, "type");
    }
    for (int i = 0; i < 3; i++)
        if (cJSON_IsString(type) && strcmp(type->valuestring, names[i]) == 0) {
            sw->sampler = (dnn_sampler_kind)i;
            return DNN_OK;
        }
    char got[64];
    shown(type, got, sizeof got);
    return sfail(s, type == it ? "sampler" : "sampler.type",
                 "expected \"random\", \"grid\" or \"tpe\" (or {\"type\": ..., \"startup_trials\": N, "
                 "\"candidates\": N} for tpe), got %s",
                 got);
}

static dnn_status budget(const sctx *s, dnn_sweep *sw, const cJSON *json)
{
    long trials;
    dnn_status st = get_int(s, json, "trials", "trials", 1, 1000000, 20, &trials);
    if (st) return st;
    sw->trials = (int)trials;
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(json, "seconds");
    sw->seconds = 0;
    if (sec) {
        if (!cJSON_IsNumber(sec) || !(sec->valuedouble > 0) || !isfinite(sec->valuedouble)) {
            char got[64];
            shown(sec, got, sizeof got);
            return sfail(s, "seconds", "expected a positive number of seconds, got %s", got);
        }
        sw->seconds = sec->valuedouble;
    }
    return DNN_OK;
}

static dnn_status pruner(const sctx *s, dnn_sweep *sw, const cJSON *json, int base_epochs)
{
    static const char *const keys[] = {"type", "min_epochs", "max_epochs", "reduction_factor"};
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(json, "pruner"), *type = it;
    sw->asha = 0;
    sw->epochs = base_epochs;
    if (!it) return DNN_OK;
    if (cJSON_IsObject(it)) {
        dnn_status st = check_keys(s, "pruner", it, keys, 4);
        if (st) return st;
        type = cJSON_GetObjectItemCaseSensitive(it, "type");
    }
    if (!cJSON_IsString(type) || (strcmp(type->valuestring, "asha") && strcmp(type->valuestring, "none"))) {
        char got[64];
        shown(type, got, sizeof got);
        return sfail(
            s, type == it ? "pruner" : "pruner.type",
            "expected \"asha\" or \"none\" (or {\"type\": \"asha\", \"min_epochs\": 1, \"max_epochs\": "
            "N, \"reduction_factor\": 3}), got %s",
            got);
    }
    if (strcmp(type->valuestring, "none") == 0) return DNN_OK;
    long lo, hi, eta;
    const cJSON *o = cJSON_IsObject(it) ? it : NULL;
    dnn_status st = get_int(s, o, "min_epochs", "pruner.min_epochs", 1, 1000000, 1, &lo);
    if (!st) st = get_int(s, o, "max_epochs", "pruner.max_epochs", 1, 1000000, base_epochs, &hi);
    if (!st) st = get_int(s, o, "reduction_factor", "pruner.reduction_factor", 2, 1000, 3, &eta);
    if (st) return st;
    if (lo > hi)
        return sfail(s, "pruner.min_epochs", "%ld is more than max_epochs (%ld%s)", lo, hi,
                     o && cJSON_GetObjectItemCaseSensitive(o, "max_epochs") ? ""
                                                                            : ", the base's training.epochs");
    sw->asha = 1;
    sw->min_epochs = (int)lo;
    sw->max_epochs = (int)hi;
    sw->eta = (int)eta;
    sw->epochs = (int)hi;
    return DNN_OK;
}

/* ---- the search space ---- */

static dnn_status bounds(const sctx *s, const char *where, const cJSON *it, dnn_param *p)
{
    static const char *const what[] = {"[low, high] with low < high", "[low, high] with 0 < low < high",
                                       "[low, high], integers with low <= high"};
    int ok = cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsNumber(it->child) &&
             cJSON_IsNumber(it->child->next);
    if (ok) {
        p->lo = it->child->valuedouble;
        p->hi = it->child->next->valuedouble;
        ok = isfinite(p->lo) && isfinite(p->hi);
        if (p->kind == DNN_PARAM_UNIFORM) ok = ok && p->lo < p->hi;
        if (p->kind == DNN_PARAM_LOGUNIFORM) ok = ok && p->lo > 0 && p->lo < p->hi;
        if (p->kind == DNN_PARAM_INT)
            ok = ok && p->lo == floor(p->lo) && p->hi == floor(p->hi) && p->lo <= p->hi &&
                 fabs(p->lo) <= 0x1p53 && fabs(p->hi) <= 0x1p53;
    }
    if (ok) return DNN_OK;
    char got[64];
    shown(it, got, sizeof got);
    return sfail(s, where, "expected %s, got %s", what[p->kind], got);
}

static dnn_status param_kind(const sctx *s, const char *where, const cJSON *spec, dnn_param *p)
{
    static const char *const kinds[] = {"uniform", "loguniform", "int", "choice"};
    const cJSON *found = NULL;
    for (int k = 0; k < 4; k++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(spec, kinds[k]);
        if (!it) continue;
        if (found)
            return sfail(s, where, "gives both \"%s\" and \"%s\": one distribution per key", found->string,
                         kinds[k]);
        found = it;
        p->kind = (dnn_param_kind)k;
    }
    if (!found)
        return sfail(s, where,
                     "expected one of {\"uniform\": [a, b]}, {\"loguniform\": [a, b]}, {\"int\": [a, b]} "
                     "or {\"choice\": [...]}");
    char at[600];
    snprintf(at, sizeof at, "%s: %s", where, found->string);
    if (p->kind != DNN_PARAM_CHOICE) return bounds(s, at, found, p);
    int n = cJSON_IsArray(found) ? cJSON_GetArraySize(found) : 0;
    if (n < 1 || n > SWEEP_MAX_CHOICE) {
        char got[64];
        shown(found, got, sizeof got);
        return sfail(s, at, "expected a list of 1 to %d values, got %s", SWEEP_MAX_CHOICE, got);
    }
    p->choices = cJSON_Duplicate(found, 1);
    p->n_choices = n;
    return p->choices ? DNN_OK : dnn_fail_oom(s->err, "a choice", 0);
}

static dnn_status param_step(const sctx *s, const char *where, const cJSON *spec, dnn_param *p)
{
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(spec, "step");
    p->step = 1;
    if (!step) return DNN_OK;
    char at[600];
    snprintf(at, sizeof at, "%s: step", where);
    if (p->kind != DNN_PARAM_INT) return sfail(s, at, "only an \"int\" range takes a step");
    double d = cJSON_IsNumber(step) ? step->valuedouble : NAN;
    if (!(d >= 1 && d == floor(d) && d <= 0x1p53)) {
        char got[64];
        shown(step, got, sizeof got);
        return sfail(s, at, "expected a positive integer, got %s", got);
    }
    p->step = d;
    return DNN_OK;
}

/* Does path name key or lie inside it ("model.layers" holds "model.layers.1.type")? */
static int within(const char *path, const char *key)
{
    size_t n = strlen(key);
    return strncmp(path, key, n) == 0 && (path[n] == '\0' || path[n] == '.' || path[n] == '[');
}

/* A condition may look at the base config and at keys searched before it, not after. */
static dnn_status param_cond(const sctx *s, const char *where, const cJSON *spec, dnn_sweep *sw, int i)
{
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(spec, "if");
    if (!cond) return DNN_OK;
    char at[600];
    snprintf(at, sizeof at, "%s: if", where);
    if (!cJSON_IsObject(cond) || !cond->child)
        return sfail(s, at, "expected an object of conditions, {\"dotted.key\": value, ...}");
    for (const cJSON *c = cond->child; c; c = c->next) {
        if (within(c->string, sw->params[i].key) || within(sw->params[i].key, c->string))
            return sfail(s, at, "\"%s\" depends on itself", c->string);
        for (const cJSON *later = cJSON_GetObjectItemCaseSensitive(sw->json, "space")->child; later;
             later = later->next) {
            int k = 0;
            while (k < i && strcmp(sw->params[k].key, later->string) != 0) k++;
            if (k < i || strcmp(later->string, sw->params[i].key) == 0) continue;
            if (within(c->string, later->string) || within(later->string, c->string))
                return sfail(s, at, "\"%s\" is searched after this key: list \"%s\" first in space",
                             c->string, later->string);
        }
    }
    sw->params[i].cond = cJSON_Duplicate(cond, 1);
    return sw->params[i].cond ? DNN_OK : dnn_fail_oom(s->err, "a condition", 0);
}

/* Does the base with this value applied make a valid config? Catches a misspelt key before any trial. */
static dnn_status param_fits(const sctx *s, const char *where, const dnn_sweep *sw, const dnn_param *p,
                             double v)
{
    cJSON *json = cJSON_Duplicate(sw->base, 1);
    cJSON *val = tune_value_json(p, v);
    char *text = val ? cJSON_PrintUnformatted(val) : NULL;
    cJSON_Delete(val);
    size_t n = strlen(p->key) + (text ? strlen(text) : 0) + 2;
    char *set = text ? malloc(n) : NULL;
    if (!json || !set) {
        cJSON_Delete(json);
        free(text);
        free(set);
        return dnn_fail_oom(s->err, "a config", n);
    }
    snprintf(set, n, "%s=%s", p->key, text);
    free(text);
    dnn_error e;
    dnn_config cfg;
    const char *const sets[] = {set};
    dnn_status st = dnn_config_from_json(&cfg, json, sw->base_file, sw->base_dir, sets, 1, &e);
    if (!st) {
        dnn_config_free(&cfg);
    } else {
        char val_text[64];
        tune_value_text(p, v, val_text, sizeof val_text);
        st = sfail(s, where, "%s does not make a valid config of %s: %s", val_text, sw->base_file, e.msg);
    }
    free(set);
    return st;
}

static dnn_status param_values_fit(const sctx *s, const char *where, const dnn_sweep *sw, const dnn_param *p)
{
    if (p->cond && !tune_cond_holds(p, sw->base)) return DNN_OK; /* checked when a trial turns it on */
    if (p->kind == DNN_PARAM_CHOICE) {
        for (int c = 0; c < p->n_choices; c++) {
            dnn_status st = param_fits(s, where, sw, p, c);
            if (st) return st;
        }
        return DNN_OK;
    }
    dnn_status st = param_fits(s, where, sw, p, p->lo);
    return st ? st : param_fits(s, where, sw, p, p->hi);
}

static dnn_status param(const sctx *s, dnn_sweep *sw, const cJSON *spec, int i)
{
    static const char *const keys[] = {"uniform", "loguniform", "int", "choice", "step", "if"};
    dnn_param *p = &sw->params[i];
    char where[300];
    snprintf(where, sizeof where, "space.\"%s\"", spec->string);
    p->key = dnn_strdup(spec->string);
    if (!p->key) return dnn_fail_oom(s->err, "a key", 0);
    if (!spec->string[0] || strchr(spec->string, '='))
        return sfail(s, where, "expected a dotted config key such as \"optimizer.learning_rate\"");
    if (!cJSON_IsObject(spec)) {
        char got[64];
        shown(spec, got, sizeof got);
        return sfail(s, where,
                     "expected a distribution such as {\"loguniform\": [1e-4, 1e-2]} or {\"choice\": "
                     "[64, 128]}, got %s",
                     got);
    }
    dnn_status st = check_keys(s, where, spec, keys, 6);
    if (!st) st = param_kind(s, where, spec, p);
    if (!st) st = param_step(s, where, spec, p);
    if (!st) st = param_cond(s, where, spec, sw, i);
    if (!st && sw->asha && (within(p->key, "training.epochs") || strcmp(p->key, "training") == 0))
        st = sfail(s, where, "the pruner decides a trial's epochs (set pruner.max_epochs instead)");
    if (!st) st = param_values_fit(s, where, sw, p);
    return st;
}

static dnn_status space(const sctx *s, dnn_sweep *sw)
{
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(sw->json, "space");
    if (!sp) return sfail(s, "space", "missing required key (expected {\"dotted.key\": distribution, ...})");
    int n = cJSON_IsObject(sp) ? cJSON_GetArraySize(sp) : 0;
    if (n < 1 || n > SWEEP_MAX_PARAMS)
        return sfail(s, "space", "expected an object of 1 to %d searched keys", SWEEP_MAX_PARAMS);
    for (const cJSON *c = sp->child; c; c = c->next)
        for (const cJSON *d = c->next; d; d = d->next)
            if (strcmp(c->string, d->string) == 0) return sfail(s, "space", "\"%s\" given twice", c->string);
    sw->params = calloc((size_t)n, sizeof *sw->params);
    if (!sw->params) return dnn_fail_oom(s->err, "the search space", 0);
    int i = 0;
    for (const cJSON *c = sp->child; c; c = c->next, i++) {
        sw->n_params = i + 1;
        dnn_status st = param(s, sw, c, i);
        if (st) return st;
    }
    return DNN_OK;
}

/* ---- the whole file ---- */

/* The base config, checked as dnntrain would check it. */
static dnn_status base_config(const sctx *s, dnn_sweep *sw, dnn_config *cfg)
{
    cJSON *json = cJSON_Duplicate(sw->base, 1);
    if (!json) return dnn_fail_oom(s->err, "the base config", 0);
    dnn_error e;
    dnn_status st = dnn_config_from_json(cfg, json, sw->base_file, sw->base_dir, NULL, 0, &e);
    if (st) return sfail(s, "base", "%s", e.msg);
    return DNN_OK;
}

dnn_status dnn_sweep_from_json(dnn_sweep *sw, cJSON *json, const char *file, cJSON *base,
                               const char *base_file, dnn_error *err)
{
    static const char *const keys[] = {"base",   "metric",  "mode",   "seed", "sampler",
                                       "trials", "seconds", "pruner", "space"};
    memset(sw, 0, sizeof *sw);
    sw->json = json;
    sw->base = base;
    sw->file = dnn_strdup(file);
    sw->base_file = dnn_strdup(base_file);
    sw->base_dir = dnn_path_dir(base_file);
    sctx s = {file, err};
    if (!sw->file || !sw->base_file || !sw->base_dir) {
        dnn_sweep_free(sw);
        return dnn_fail_oom(err, file, 0);
    }
    dnn_config cfg = {0};
    long seed = 0;
    dnn_status st = cJSON_IsObject(json) ? check_keys(&s, "", json, keys, 9)
                                         : sfail(&s, "(top)", "expected a JSON object");
    if (!st) st = base_config(&s, sw, &cfg);
    if (!st) st = objective(&s, sw, json, &cfg);
    if (!st) st = get_int(&s, json, "seed", "seed", 0, 1L << 53, 0, &seed);
    sw->seed = (uint64_t)seed;
    if (!st) st = sampler(&s, sw, json);
    if (!st) st = budget(&s, sw, json);
    if (!st) st = pruner(&s, sw, json, cfg.epochs);
    if (!st) st = space(&s, sw);
    if (!st && sw->sampler == DNN_SAMPLER_GRID) st = tune_grid_build(sw, err);
    if (!st && sw->sampler == DNN_SAMPLER_GRID && !cJSON_GetObjectItemCaseSensitive(json, "trials"))
        sw->trials = sw->n_grid; /* the whole grid unless told otherwise */
    dnn_config_free(&cfg);
    if (st) dnn_sweep_free(sw);
    return st;
}

/* A JSON file, with the line and column of a syntax error. */
static dnn_status read_json(const char *path, const char *what, cJSON **out, dnn_error *err)
{
    char *buf;
    size_t len;
    dnn_status st = dnn_read_file(path, SWEEP_MAX_BYTES, &buf, &len, err);
    if (st) {
        err->code = DNN_ECONFIG;
        return DNN_ECONFIG;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    size_t off = end ? (size_t)(end - buf) : 0;
    while (j && off < len && strchr(" \t\r\n", buf[off])) off++;
    if (j && off < len) {
        cJSON_Delete(j);
        j = NULL;
    }
    if (!j) {
        int line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) buf[i] == '\n' ? (line++, col = 1) : col++;
        free(buf);
        return dnn_fail(err, DNN_ECONFIG,
                        "%s:%d:%d: invalid JSON in the %s (check commas, quotes and brackets near "
                        "here)",
                        path, line, col, what);
    }
    free(buf);
    *out = j;
    return DNN_OK;
}

dnn_status dnn_sweep_load(dnn_sweep *sw, const char *path, dnn_error *err)
{
    memset(sw, 0, sizeof *sw);
    cJSON *json = NULL, *base = NULL;
    dnn_status st = read_json(path, "sweep file", &json, err);
    if (st) return st;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(json, "base");
    if (!cJSON_IsString(b) || !b->valuestring[0]) {
        sctx s = {path, err};
        char got[64];
        shown(b, got, sizeof got);
        cJSON_Delete(json);
        return b ? sfail(&s, "base", "expected the path of a config file, got %s", got)
                 : sfail(&s, "base",
                         "missing required key (expected the path of the base config, such as "
                         "\"mlp.json\")");
    }
    /* the base is found from the sweep file's folder, as a config finds its data */
    char *dir = dnn_path_dir(path);
    char *joined = dir ? dnn_path_join(dir, b->valuestring) : NULL;
    char *abs = joined ? dnn_path_absolute(joined) : NULL;
    free(dir);
    free(joined);
    if (!abs) {
        cJSON_Delete(json);
        return dnn_fail_oom(err, path, 0);
    }
    st = read_json(abs, "base config", &base, err);
    if (st) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        dnn_fail(err, DNN_ECONFIG, "%s: base: %s", path, msg);
        cJSON_Delete(json);
    } else {
        st = dnn_sweep_from_json(sw, json, path, base, abs, err);
    }
    free(abs);
    return st;
}

void dnn_sweep_free(dnn_sweep *sw)
{
    if (!sw) return;
    for (int i = 0; i < sw->n_params; i++) {
        free(sw->params[i].key);
        cJSON_Delete(sw->params[i].choices);
        cJSON_Delete(sw->params[i].cond);
    }
    free(sw->params);
    free(sw->grid);
    cJSON_Delete(sw->json);
    cJSON_Delete(sw->base);
    free(sw->file);
    free(sw->base_file);
    free(sw->base_dir);
    memset(sw, 0, sizeof *sw);
}
