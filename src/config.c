/* Config: parse JSON with cJSON, apply --set overrides, validate every field into dnn_config. */
#include "dnn/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/util.h"

#define CONFIG_MAX_BYTES (16u << 20)

static const char *const act_names[] = {"linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "gelu"};
static const char *const loss_names[] = {"cross_entropy", "binary_cross_entropy", "mse"};
static const char *const optim_names[] = {"sgd", "adam", "adamw", "rmsprop"};
static const char *const monitor_names[] = {"val_loss", "val_accuracy", "loss", "accuracy"};
static const char *const task_names[] = {"classification", "regression"};
static const char *const precision_names[] = {"fp32", "bf16"};

static const char *const layer_types[] = {"dense",     "dropout",   "batchnorm", "conv2d",
                                          "maxpool2d", "avgpool2d", "flatten",   "global_avgpool"};

const char *dnn_layer_name(dnn_layer_kind k)
{
    return layer_types[k];
}
const char *dnn_act_name(dnn_act a)
{
    return act_names[a];
}
const char *dnn_precision_name(dnn_precision p)
{
    return precision_names[p];
}
int dnn_precision_parse(const char *name, dnn_precision *p)
{
    for (size_t i = 0; i < sizeof precision_names / sizeof *precision_names; i++)
        if (strcmp(name, precision_names[i]) == 0) {
            *p = (dnn_precision)i;
            return 0;
        }
    return -1;
}
const char *dnn_loss_name(dnn_loss_kind l)
{
    return loss_names[l];
}
const char *dnn_monitor_name(dnn_monitor m)
{
    return monitor_names[m];
}
const char *dnn_task_name(dnn_task t)
{
    return task_names[t];
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- validation context: the file, the dotted path of the object being read, the overrides ---- */

typedef struct {
    const char *file;
    dnn_error *err;
    char path[256];
    const char *const *overrides;
    int n_overrides;
} vctx;

/* Append ".key" (or "[i]" when key is NULL) to the path; returns the old length for vpop. */
static size_t vpush(vctx *v, const char *key, int index)
{
    size_t n = strlen(v->path);
    if (key)
        snprintf(v->path + n, sizeof v->path - n, "%s%s", n ? "." : "", key);
    else
        snprintf(v->path + n, sizeof v->path - n, "[%d]", index);
    return n;
}

static void vpop(vctx *v, size_t n)
{
    v->path[n] = '\0';
}

/* "model.layers.0.units" (the --set spelling) -> "model.layers[0].units" (the message spelling). */
static void override_path(const char *assignment, char *out, size_t n)
{
    size_t k = 0;
    const char *p = assignment;
    while (*p && *p != '=' && k + 4 < n) {
        const char *seg = p;
        while (*p && *p != '=' && *p != '.') p++;
        size_t len = (size_t)(p - seg);
        int numeric = len > 0;
        for (size_t i = 0; i < len; i++) numeric &= seg[i] >= '0' && seg[i] <= '9';
        if (numeric)
            k += (size_t)snprintf(out + k, n - k, "[%.*s]", (int)len, seg);
        else
            k += (size_t)snprintf(out + k, n - k, "%s%.*s", k ? "." : "", (int)len, seg);
        if (k >= n) k = n - 1;
        if (*p == '.') p++;
    }
    out[k < n ? k : n - 1] = '\0';
}

/* Fail with "file: path: what", naming the --set that put the value there if one did. */
static dnn_status vfail(vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static dnn_status vfail(vctx *v, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* the --set that put a value at or under this path, or created the unknown key this path is */
    const char *hint = NULL;
    for (int i = 0; i < v->n_overrides; i++) {
        char op[256];
        override_path(v->overrides[i], op, sizeof op);
        size_t n = strlen(op), p = strlen(v->path), k = n < p ? n : p;
        const char next = n < p ? v->path[n] : op[p];
        if (k && strncmp(v->path, op, k) == 0 && (next == '\0' || next == '.' || next == '['))
            hint = v->overrides[i];
    }
    if (hint)
        return dnn_fail(v->err, DNN_ECONFIG, "%s: %s: %s (from --set %s)", v->file,
                        v->path[0] ? v->path : "(top)", what, hint);
    return dnn_fail(v->err, DNN_ECONFIG, "%s: %s: %s", v->file, v->path[0] ? v->path : "(top)", what);
}

/* A short rendering of a JSON value for "got ..." in messages. */
static void show(const cJSON *item, char *buf, size_t n)
{
    char *s = cJSON_PrintUnformatted(item);
    if (!s) {
        snprintf(buf, n, "(unprintable)");
        return;
    }
    if (strlen(s) > 40)
        snprintf(buf, n, "%.37s...", s);
    else
        snprintf(buf, n, "%s", s);
    free(s);
}

/* "expected WHAT, got GOT" at key of the current object, or at the current path itself when key is NULL. */
static dnn_status expected(vctx *v, const char *key, const char *what, const cJSON *got)
{
    char g[64];
    show(got, g, sizeof g);
    size_t m = strlen(v->path);
    if (key) vpush(v, key, 0);
    dnn_status st = vfail(v, "expected %s, got %s", what, g);
    vpop(v, m);
    return st;
}

/* ---- the keys each object accepts: one table, read by the validator and by dnn_config_keys ---- */

/* Every object the validator reads gets a row: its dotted path ("{a,b}" for alternatives, "[]" for the
 * elements of an array) and the keys it accepts. check_keys takes a row, so a key the validator accepts is
 * always in dnn_config_keys' list, which tests hold against the README. */
typedef struct {
    const char *path;
    const char *const *keys;
    size_t n;
} key_set;

#define KEYS(...) (const char *const[]){__VA_ARGS__}, COUNT(((const char *const[]){__VA_ARGS__}))

enum {
    K_TOP,
    K_DATA,
    K_IDX,
    K_CSV,
    K_MODEL,
    K_DENSE,
    K_DROPOUT,
    K_BATCHNORM,
    K_CONV2D,
    K_POOL,
    K_TYPE_ONLY,
    K_SGD,
    K_ADAM,
    K_ADAMW,
    K_RMSPROP,
    K_SCHED_NONE,
    K_SCHED_STEP,
    K_SCHED_COSINE,
    K_SCHED_PLATEAU,
    K_TRAINING,
    K_EARLY_STOPPING,
    K_OUTPUT,
    N_KEY_SETS
};

static const key_set KEY_SETS[N_KEY_SETS] = {
    [K_TOP] = {"", KEYS("seed", "data", "model", "loss", "optimizer", "training", "output")},
    [K_DATA] = {"data", KEYS("train", "test", "validation_split", "normalize", "task", "shape", "classes",
                             "categorical", "max_categories", "shuffle_buffer")},
    [K_IDX] = {"data.{train,test}", KEYS("format", "images", "labels", "stream", "cache")},
    [K_CSV] = {"data.{train,test}", KEYS("format", "path", "header", "label", "delimiter", "missing",
                                         "missing_values", "features", "ignore", "stream", "cache")},
    [K_MODEL] = {"model", KEYS("layers", "init")},
    [K_DENSE] = {"model.layers[]", KEYS("type", "units", "activation", "l2", "negative_slope")},
    [K_DROPOUT] = {"model.layers[]", KEYS("type", "rate")},
    [K_BATCHNORM] = {"model.layers[]", KEYS("type", "momentum", "epsilon")},
    [K_CONV2D] = {"model.layers[]", KEYS("type", "filters", "kernel_size", "stride", "padding", "activation",
                                         "l2", "negative_slope")},
    [K_POOL] = {"model.layers[]", KEYS("type", "pool_size", "stride")},
    [K_TYPE_ONLY] = {"model.layers[]", KEYS("type")},
    [K_SGD] = {"optimizer",
               KEYS("type", "learning_rate", "clip_norm", "lr_schedule", "momentum", "nesterov")},
    [K_ADAM] = {"optimizer",
                KEYS("type", "learning_rate", "clip_norm", "lr_schedule", "beta1", "beta2", "epsilon")},
    [K_ADAMW] = {"optimizer", KEYS("type", "learning_rate", "clip_norm", "lr_schedule", "beta1", "beta2",
                                   "epsilon", "weight_decay")},
    [K_RMSPROP] = {"optimizer",
                   KEYS("type", "learning_rate", "clip_norm", "lr_schedule", "rho", "epsilon", "momentum")},
    [K_SCHED_NONE] = {"optimizer.lr_schedule", KEYS("type")},
    [K_SCHED_STEP] = {"optimizer.lr_schedule", KEYS("type", "step_size", "gamma")},
    [K_SCHED_COSINE] = {"optimizer.lr_schedule", KEYS("type", "min_lr", "warmup_epochs")},
    [K_SCHED_PLATEAU] = {"optimizer.lr_schedule",
                         KEYS("type", "monitor", "factor", "patience", "min_delta", "min_lr")},
    [K_TRAINING] = {"training", KEYS("epochs", "batch_size", "shuffle", "early_stopping", "precision")},
    [K_EARLY_STOPPING] = {"training.early_stopping",
                          KEYS("monitor", "patience", "min_delta", "restore_best")},
    [K_OUTPUT] = {"output", KEYS("dir", "save_best", "every_epochs", "keep", "explain")},
};

/* Every key of obj must be in the row's keys; no key may appear twice. */
static dnn_status check_keys(vctx *v, const cJSON *obj, int row)
{
    const char *const *allowed = KEY_SETS[row].keys;
    const size_t n = KEY_SETS[row].n;
    for (const cJSON *c = obj->child; c; c = c->next) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(c->string, allowed[i]) == 0) break;
        if (i == n) {
            char list[400] = "";
            size_t k = 0;
            for (i = 0; i < n && k < sizeof list; i++)
                k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", allowed[i]);
            const char *near = dnn_nearest(c->string, allowed, n);
            size_t m = vpush(v, c->string, 0);
            dnn_status st;
            if (near)
                st = vfail(v, "unknown key (did you mean \"%s\"? expected one of: %s)", near, list);
            else
                st = vfail(v, "unknown key (expected one of: %s)", list);
            vpop(v, m);
            return st;
        }
        for (const cJSON *d = c->next; d; d = d->next)
            if (strcmp(c->string, d->string) == 0) {
                size_t m = vpush(v, c->string, 0);
                dnn_status st = vfail(v, "key given twice");
                vpop(v, m);
                return st;
            }
    }
    return DNN_OK;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static dnn_status missing(vctx *v, const char *key, const char *what)
{
    size_t m = vpush(v, key, 0);
    dnn_status st = vfail(v, "missing required key (expected %s)", what);
    vpop(v, m);
    return st;
}

static dnn_status get_object(vctx *v, const cJSON *obj, const char *key, int required, const cJSON **out)
{
    const cJSON *it = member(obj, key);
    *out = NULL;
    if (!it) return required ? missing(v, key, "an object") : DNN_OK;
    if (!cJSON_IsObject(it)) return expected(v, key, "an object", it);
    *out = it;
    return DNN_OK;
}

static dnn_status get_int(vctx *v, const cJSON *obj, const char *key, long lo, long hi, long def, long *out)
{
    const cJSON *it = member(obj, key);
    *out = def;
    if (!it) return DNN_OK;
    double d = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    if (!(d == floor(d) && d >= (double)lo && d <= (double)hi)) {
        char what[96];
        if (lo == 1 && hi == INT32_MAX)
            snprintf(what, sizeof what, "a positive integer");
        else if (lo == 0 && hi == INT32_MAX)
            snprintf(what, sizeof what, "a non-negative integer");
        else
            snprintf(what, sizeof what, "an integer from %ld to %ld", lo, hi);
        return expected(v, key, what, it);
    }
    *out = (long)d;
    return DNN_OK;
}

static dnn_status get_int32(vctx *v, const cJSON *obj, const char *key, long lo, long def, int *out)
{
    long x;
    dnn_status st = get_int(v, obj, key, lo, INT32_MAX, def, &x);
    *out = (int)x;
    return st;
}

/* A finite number in [lo, hi] (open at lo when lo_open, for "positive"). */
static dnn_status get_num(vctx *v, const cJSON *obj, const char *key, double lo, int lo_open, double hi,
                          int hi_open, double def, double *out)
{
    const cJSON *it = member(obj, key);
    *out = def;
    if (!it) return DNN_OK;
    double d = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    int ok = isfinite(d) && (lo_open ? d > lo : d >= lo) && (hi_open ? d < hi : d <= hi);
    if (!ok) {
        char what[96];
        if (lo == 0 && lo_open && isinf(hi))
            snprintf(what, sizeof what, "a positive number");
        else if (lo == 0 && isinf(hi))
            snprintf(what, sizeof what, "a non-negative number");
        else
            snprintf(what, sizeof what, "a number in %c%g, %g%c", lo_open ? '(' : '[', lo, hi,
                     hi_open ? ')' : ']');
        return expected(v, key, what, it);
    }
    *out = d;
    return DNN_OK;
}

static dnn_status get_bool(vctx *v, const cJSON *obj, const char *key, int def, int *out)
{
    const cJSON *it = member(obj, key);
    *out = def;
    if (!it) return DNN_OK;
    if (!cJSON_IsBool(it)) return expected(v, key, "true or false", it);
    *out = cJSON_IsTrue(it);
    return DNN_OK;
}

static dnn_status get_enum(vctx *v, const cJSON *obj, const char *key, const char *const *names, size_t n,
                           int def, int *out)
{
    const cJSON *it = member(obj, key);
    *out = def;
    if (!it) return DNN_OK;
    char list[400] = "";
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s\"%s\"", i ? ", " : "", names[i]);
    if (!cJSON_IsString(it)) {
        char what[420];
        snprintf(what, sizeof what, "one of %s", list);
        return expected(v, key, what, it);
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(it->valuestring, names[i]) == 0) {
            *out = (int)i;
            return DNN_OK;
        }
    const char *near = dnn_nearest(it->valuestring, names, n);
    char what[480];
    if (near)
        snprintf(what, sizeof what, "one of %s (did you mean \"%s\"?)", list, near);
    else
        snprintf(what, sizeof what, "one of %s", list);
    return expected(v, key, what, it);
}

/* Largest kernel, stride or padding: far beyond any image, and small enough that no geometry sum overflows.
 */
#define MAX_WINDOW 65536

/* A number in [lo, MAX_WINDOW] for both height and width, or [height, width] of them (kernel sizes, strides,
 * padding); what names the accepted forms in messages. */
static dnn_status get_pair(vctx *v, const cJSON *obj, const char *key, long lo, int def, const char *what,
                           int out[2])
{
    const cJSON *it = member(obj, key);
    out[0] = out[1] = def;
    if (!it) return DNN_OK;
    double d[2] = {NAN, NAN};
    if (cJSON_IsNumber(it))
        d[0] = d[1] = it->valuedouble;
    else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsNumber(it->child) &&
             cJSON_IsNumber(it->child->next))
        d[0] = it->child->valuedouble, d[1] = it->child->next->valuedouble;
    for (int i = 0; i < 2; i++) {
        if (!(d[i] == floor(d[i]) && d[i] >= (double)lo && d[i] <= MAX_WINDOW)) {
            char w[160];
            snprintf(w, sizeof w, "%s (at most %d)", what, MAX_WINDOW);
            return expected(v, key, w, it);
        }
        out[i] = (int)d[i];
    }
    return DNN_OK;
}

/* A non-empty string; *out points into the tree (NULL when absent and not required). */
static dnn_status get_string(vctx *v, const cJSON *obj, const char *key, int required, const char **out)
{
    const cJSON *it = member(obj, key);
    *out = NULL;
    if (!it) return required ? missing(v, key, "a string") : DNN_OK;
    if (!cJSON_IsString(it) || it->valuestring[0] == '\0') return expected(v, key, "a non-empty string", it);
    *out = it->valuestring;
    return DNN_OK;
}

/* Resolve a relative data path (the string item) against the config's folder, and write the result back
 * into the tree so that the checkpoint's copy of the config still finds the data from anywhere. */
static dnn_status resolve_item(vctx *v, cJSON *item, const char *base_dir, char **out)
{
    const char *s = item->valuestring;
    char *joined = base_dir ? dnn_path_join(base_dir, s) : dnn_strdup(s);
    char *abs = joined && base_dir ? dnn_path_absolute(joined) : NULL;
    if (base_dir)
        free(joined);
    else
        abs = joined;
    if (!abs) return dnn_fail_oom(v->err, "a path", strlen(s));
    if (strcmp(abs, s) != 0 && !cJSON_SetValuestring(item, abs)) {
        free(abs);
        return dnn_fail_oom(v->err, "a path", strlen(s));
    }
    *out = abs;
    return DNN_OK;
}

static dnn_status resolve_path(vctx *v, cJSON *obj, const char *key, const char *base_dir, char **out)
{
    const char *s;
    dnn_status st = get_string(v, obj, key, 0, &s);
    if (st || !s) return st;
    return resolve_item(v, cJSON_GetObjectItemCaseSensitive(obj, key), base_dir, out);
}

/* ---- sections ---- */

static dnn_status colref(vctx *v, const cJSON *it, dnn_colref *out)
{
    if (cJSON_IsString(it) && it->valuestring[0]) {
        out->name = dnn_strdup(it->valuestring);
        return out->name ? DNN_OK : dnn_fail_oom(v->err, "a column name", strlen(it->valuestring));
    }
    if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble) && fabs(it->valuedouble) < 1e6) {
        out->index = (long)it->valuedouble;
        return DNN_OK;
    }
    char g[64];
    show(it, g, sizeof g);
    return vfail(v, "expected a column name or index, got %s", g);
}

/* One column reference or an array of them. */
static dnn_status colrefs(vctx *v, const cJSON *obj, const char *key, dnn_colref **out, int *n)
{
    const cJSON *it = member(obj, key);
    *out = NULL;
    *n = 0;
    if (!it) return DNN_OK;
    int count = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 1;
    if (cJSON_IsArray(it) && count == 0)
        return expected(v, key, "a column name or index, or a non-empty array", it);
    *out = calloc((size_t)count, sizeof **out);
    if (!*out) return dnn_fail_oom(v->err, key, (size_t)count * sizeof **out);
    *n = count;
    size_t m = vpush(v, key, 0);
    dnn_status st = DNN_OK;
    if (!cJSON_IsArray(it))
        st = colref(v, it, &(*out)[0]);
    else {
        int i = 0;
        for (const cJSON *c = it->child; c && !st; c = c->next, i++) {
            size_t mi = vpush(v, NULL, i);
            st = colref(v, c, &(*out)[i]);
            vpop(v, mi);
        }
    }
    vpop(v, m);
    return st;
}

/* "path": a file or glob, or a non-empty array of them; each resolved like any data path. */
static dnn_status path_list(vctx *v, cJSON *o, const char *base_dir, dnn_source_config *src)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "path");
    if (!cJSON_IsArray(it)) return resolve_path(v, o, "path", base_dir, &src->path);
    int n = cJSON_GetArraySize(it);
    if (n == 0) return expected(v, "path", "a path, or a non-empty array of paths", it);
    src->paths = calloc((size_t)n, sizeof(char *));
    if (!src->paths) return dnn_fail_oom(v->err, "path", (size_t)n);
    size_t m = vpush(v, "path", 0);
    dnn_status st = DNN_OK;
    int i = 0;
    for (cJSON *c = it->child; c && !st; c = c->next, i++) {
        size_t mi = vpush(v, NULL, i);
        if (!cJSON_IsString(c) || !c->valuestring[0])
            st = expected(v, NULL, "a non-empty path", c);
        else
            st = resolve_item(v, c, base_dir, &src->paths[i]);
        src->n_paths = i + 1;
        vpop(v, mi);
    }
    vpop(v, m);
    if (!st && !(src->path = dnn_strdup(src->paths[0]))) st = dnn_fail_oom(v->err, "path", 0);
    return st;
}

/* "stream": true, false or "auto"; "cache": true (in the run folder), false, or a path. */
static dnn_status stream_keys(vctx *v, cJSON *o, const char *base_dir, dnn_source_config *src)
{
    src->stream = -1;
    const cJSON *s = member(o, "stream");
    if (s && cJSON_IsBool(s))
        src->stream = cJSON_IsTrue(s);
    else if (s && !(cJSON_IsString(s) && strcmp(s->valuestring, "auto") == 0))
        return expected(v, "stream", "true, false or \"auto\"", s);
    const cJSON *c = member(o, "cache");
    if (!c || cJSON_IsFalse(c)) return DNN_OK;
    if (cJSON_IsTrue(c)) {
        src->cache = dnn_strdup("");
        return src->cache ? DNN_OK : dnn_fail_oom(v->err, "cache", 0);
    }
    if (!cJSON_IsString(c) || !c->valuestring[0])
        return expected(v, "cache", "true, false or the path of a cache file", c);
    return resolve_path(v, o, "cache", base_dir, &src->cache);
}
static const char *const format_names[] = {"idx", "csv"};
static const char *const missing_names[] = {"error", "mean", "median", "zero", "drop"};

static dnn_status source(vctx *v, cJSON *data, const char *key, const char *base_dir, int required,
                         dnn_source_config *src, int *present)
{
    const cJSON *obj;
    dnn_status st = get_object(v, data, key, required, &obj);
    *present = obj != NULL;
    if (st || !obj) return st;
    size_t m = vpush(v, key, 0);
    cJSON *o = (cJSON *)obj;
    int fmt = 0;
    /* The format may be left out when the keys say it: "images" is IDX, "path" is CSV. */
    int def = member(o, "images") ? DNN_FORMAT_IDX : DNN_FORMAT_CSV;
    if (!member(o, "format") && !member(o, "images") && !member(o, "path"))
        st = missing(v, "format", "\"idx\" with \"images\", or \"csv\" with \"path\"");
    if (!st) st = get_enum(v, o, "format", format_names, COUNT(format_names), def, &fmt);
    if (!st) src->format = (dnn_format)fmt;
    if (!st && fmt == DNN_FORMAT_IDX) {
        st = check_keys(v, o, K_IDX);
        if (!st && !member(o, "images")) st = missing(v, "images", "the path of an IDX images file");
        if (!st) st = resolve_path(v, o, "images", base_dir, &src->images);
        if (!st) st = resolve_path(v, o, "labels", base_dir, &src->labels);
        if (!st) st = stream_keys(v, o, base_dir, src);
    } else if (!st) {
        st = check_keys(v, o, K_CSV);
        if (!st && !member(o, "path")) st = missing(v, "path", "the path of a CSV file");
        if (!st) st = path_list(v, o, base_dir, src);
        if (!st) st = stream_keys(v, o, base_dir, src);
        src->header = -1;
        const cJSON *h = member(o, "header");
        if (!st && h) {
            if (cJSON_IsBool(h))
                src->header = cJSON_IsTrue(h);
            else if (!(cJSON_IsString(h) && strcmp(h->valuestring, "auto") == 0))
                st = expected(v, "header", "true, false or \"auto\"", h);
        }
        const cJSON *d = member(o, "delimiter");
        if (!st && d) {
            const char *s = cJSON_IsString(d) ? d->valuestring : NULL;
            if (s && strcmp(s, "auto") == 0)
                src->delimiter = 0;
            else if (s && strlen(s) == 1 && strchr(",;\t| ", s[0]))
                src->delimiter = s[0];
            else
                st = expected(v, "delimiter", "one of \",\", \";\", \"\\t\", \"|\", \" \" or \"auto\"", d);
        } else
            src->delimiter = 0;
        int miss = 0;
        if (!st)
            st = get_enum(v, o, "missing", missing_names, COUNT(missing_names), DNN_MISSING_ERROR, &miss);
        src->missing = (dnn_missing)miss;
        if (!st) st = colrefs(v, o, "label", &src->label, &src->n_label);
        if (!st) st = colrefs(v, o, "features", &src->features, &src->n_features);
        if (!st) st = colrefs(v, o, "ignore", &src->ignore, &src->n_ignore);
        if (!st && src->n_features && src->n_ignore)
            st = vfail(v, "give \"features\" or \"ignore\", not both");
        const cJSON *mv = member(o, "missing_values");
        if (!st && mv) {
            if (!cJSON_IsArray(mv)) st = expected(v, "missing_values", "an array of strings", mv);
            int n = cJSON_GetArraySize(mv);
            if (!st && n > 0) {
                src->missing_values = calloc((size_t)n, sizeof(char *));
                if (!src->missing_values) st = dnn_fail_oom(v->err, "missing_values", (size_t)n);
            }
            int i = 0;
            for (const cJSON *c = mv ? mv->child : NULL; !st && c; c = c->next, i++) {
                if (!cJSON_IsString(c)) {
                    size_t mm = vpush(v, "missing_values", 0);
                    char g[64];
                    show(c, g, sizeof g);
                    vpush(v, NULL, i);
                    st = vfail(v, "expected a string, got %s", g);
                    vpop(v, mm);
                    break;
                }
                src->missing_values[i] = dnn_strdup(c->valuestring);
                src->n_missing_values = i + 1;
                if (!src->missing_values[i])
                    st = dnn_fail_oom(v->err, "missing_values", strlen(c->valuestring));
            }
        }
    }
    vpop(v, m);
    return st;
}

/* data.categorical ("auto", or column names or indices), data.max_categories; every source shares them. */
static dnn_status categorical(vctx *v, dnn_config *c, const cJSON *data)
{
    const cJSON *it = member(data, "categorical");
    dnn_status st = DNN_OK;
    if (cJSON_IsString(it) && strcmp(it->valuestring, "auto") == 0)
        c->categorical_auto = 1;
    else if (it && !cJSON_IsArray(it))
        st = expected(v, "categorical", "\"auto\" or an array of column names or indices", it);
    else if (it)
        st = colrefs(v, data, "categorical", &c->categorical, &c->n_categorical);
    if (!st) st = get_int32(v, data, "max_categories", 1, 32, &c->max_categories);
    if (!st && c->max_categories > 65535)
        st = expected(v, "max_categories", "at most 65535", member(data, "max_categories"));
    if (!st) st = get_int32(v, data, "shuffle_buffer", 1, 0, &c->shuffle_buffer);
    dnn_source_config *srcs[] = {&c->train, &c->test};
    for (int i = 0; i < 2; i++) {
        srcs[i]->categorical = c->categorical;
        srcs[i]->n_categorical = c->n_categorical;
        srcs[i]->categorical_auto = c->categorical_auto;
        srcs[i]->max_categories = c->max_categories;
    }
    return st;
}

/* data.shape: [C, H, W], each positive, with a product a network input can take. */
static dnn_status data_shape(vctx *v, dnn_config *c, const cJSON *data)
{
    const cJSON *it = member(data, "shape");
    if (!it) return DNN_OK;
    double d[3] = {0, 0, 0}, n = 1;
    int ok = cJSON_IsArray(it) && cJSON_GetArraySize(it) == 3;
    const cJSON *e = ok ? it->child : NULL;
    for (int i = 0; ok && i < 3; i++, e = e->next) {
        d[i] = cJSON_IsNumber(e) ? e->valuedouble : 0;
        ok = d[i] == floor(d[i]) && d[i] >= 1 && d[i] <= INT32_MAX;
        n *= d[i];
    }
    if (!ok) return expected(v, "shape", "[C, H, W]: three positive integers (channels, height, width)", it);
    if (n > INT32_MAX) return expected(v, "shape", "[C, H, W] of at most 2147483647 values in all", it);
    c->shape = (dnn_shape){(int)d[0], (int)d[1], (int)d[2]};
    c->has_shape = 1;
    return DNN_OK;
}
static const char *const norm_names[] = {"none", "scale", "standardize"};

static dnn_status data_section(vctx *v, dnn_config *c, cJSON *root, const char *base_dir, int *task)
{
    const cJSON *data;
    dnn_status st = get_object(v, root, "data", 1, &data);
    if (st) return st;
    size_t m = vpush(v, "data", 0);
    int present, norm = 0;
    st = check_keys(v, data, K_DATA);
    if (!st) st = source(v, (cJSON *)data, "train", base_dir, 1, &c->train, &present);
    if (!st) st = source(v, (cJSON *)data, "test", base_dir, 0, &c->test, &c->has_test);
    if (!st) st = get_num(v, data, "validation_split", 0, 0, 1, 1, 0.0, &c->validation_split);
    if (!st) st = get_enum(v, data, "normalize", norm_names, COUNT(norm_names), DNN_NORM_SCALE, &norm);
    c->normalize = (dnn_norm_kind)norm;
    if (!st) st = get_enum(v, data, "task", task_names, COUNT(task_names), -1, task);
    if (!st) st = categorical(v, c, data);
    /* a test set is scored in memory: a setting for streaming it would do nothing, which must not pass */
    if (!st && c->has_test && (c->test.stream == 1 || c->test.cache)) {
        size_t mt = vpush(v, "test", 0);
        vpush(v, c->test.cache ? "cache" : "stream", 0);
        st = vfail(v, "the test set is read into memory: \"stream\" and \"cache\" apply to data.train");
        vpop(v, mt);
    }
    if (!st) st = data_shape(v, c, data);
    const cJSON *cl = member(data, "classes");
    if (!st && cl) {
        int n = cJSON_IsArray(cl) ? cJSON_GetArraySize(cl) : 0;
        if (n < 2) st = expected(v, "classes", "an array of at least 2 class names", cl);
        if (!st && !(c->class_names = calloc((size_t)n, sizeof(char *))))
            st = dnn_fail_oom(v->err, "data.classes", (size_t)n);
        int i = 0;
        for (const cJSON *e = cl->child; !st && e; e = e->next, i++) {
            size_t mi = vpush(v, "classes", 0);
            vpush(v, NULL, i);
            if (!cJSON_IsString(e) || !e->valuestring[0]) {
                char g[64];
                show(e, g, sizeof g);
                st = vfail(v, "expected a non-empty class name, got %s", g);
            } else if (!(c->class_names[i] = dnn_strdup(e->valuestring))) {
                st = dnn_fail_oom(v->err, "data.classes", 0);
            }
            c->n_class_names = i + 1;
            vpop(v, mi);
        }
    }
    vpop(v, m);
    return st;
}

static const char *const pad_names[] = {"valid", "same"};

/* activation, l2 and negative_slope, as dense and conv2d take them */
static dnn_status activation(vctx *v, const cJSON *o, dnn_layer_config *l)
{
    int act = 0;
    double x = 0;
    dnn_status st = get_enum(v, o, "activation", act_names, COUNT(act_names), DNN_ACT_LINEAR, &act);
    l->activation = (dnn_act)act;
    if (!st) st = get_num(v, o, "l2", 0, 0, INFINITY, 0, 0.0, &x);
    l->l2 = (float)x;
    if (!st) st = get_num(v, o, "negative_slope", 0, 0, 1, 0, 0.01, &x);
    l->negative_slope = (float)x;
    if (!st && member(o, "negative_slope") && l->activation != DNN_ACT_LEAKY_RELU)
        st = vfail(v, "negative_slope applies only to activation \"leaky_relu\"");
    return st;
}

static dnn_status conv2d(vctx *v, const cJSON *o, dnn_layer_config *l)
{
    dnn_status st = check_keys(v, o, K_CONV2D);
    if (!st && !member(o, "filters")) st = missing(v, "filters", "a positive integer");
    if (!st) st = get_int32(v, o, "filters", 1, 0, &l->filters);
    if (!st && !member(o, "kernel_size"))
        st = missing(v, "kernel_size", "a positive integer or [height, width]");
    if (!st) st = get_pair(v, o, "kernel_size", 1, 1, "a positive integer or [height, width]", l->kernel);
    if (!st) st = get_pair(v, o, "stride", 1, 1, "a positive integer or [height, width]", l->stride);
    const cJSON *pad = member(o, "padding");
    l->padding = DNN_PAD_VALID;
    if (!st && cJSON_IsString(pad)) {
        int p = 0;
        st = get_enum(v, o, "padding", pad_names, COUNT(pad_names), DNN_PAD_VALID, &p);
        l->padding = (dnn_padding)p;
    } else if (!st && pad) {
        l->padding = DNN_PAD_EXPLICIT;
        st = get_pair(v, o, "padding", 0, 0,
                      "\"valid\", \"same\", a non-negative integer or [rows, columns] added on each side",
                      l->pad);
    }
    if (!st) st = activation(v, o, l);
    return st;
}

static dnn_status pooling(vctx *v, const cJSON *o, dnn_layer_config *l)
{
    dnn_status st = check_keys(v, o, K_POOL);
    if (!st) st = get_pair(v, o, "pool_size", 1, 2, "a positive integer or [height, width]", l->kernel);
    /* the stride defaults to the pool size: windows side by side, as in Keras and PyTorch */
    if (!st) st = get_pair(v, o, "stride", 1, 0, "a positive integer or [height, width]", l->stride);
    for (int i = 0; i < 2; i++)
        if (l->stride[i] == 0) l->stride[i] = l->kernel[i];
    return st;
}
static const char *const init_names[] = {"auto", "he", "he_uniform", "xavier", "xavier_normal"};

static dnn_status layer(vctx *v, const cJSON *o, dnn_layer_config *l)
{
    if (!cJSON_IsObject(o))
        return expected(v, NULL, "a layer object such as {\"type\": \"dense\", \"units\": 10}", o);
    int type = 0;
    double x = 0;
    if (!member(o, "type"))
        return missing(v, "type",
                       "\"dense\", \"conv2d\", \"maxpool2d\", \"avgpool2d\", \"flatten\", "
                       "\"global_avgpool\", \"dropout\" or \"batchnorm\"");
    dnn_status st = get_enum(v, o, "type", layer_types, COUNT(layer_types), 0, &type);
    if (st) return st;
    l->kind = (dnn_layer_kind)type;
    switch (l->kind) {
    case DNN_LAYER_DENSE:
        st = check_keys(v, o, K_DENSE);
        if (!st && !member(o, "units")) st = missing(v, "units", "a positive integer");
        if (!st) st = get_int32(v, o, "units", 1, 0, &l->units);
        if (!st) st = activation(v, o, l);
        break;
    case DNN_LAYER_DROPOUT:
        st = check_keys(v, o, K_DROPOUT);
        if (!st && !member(o, "rate")) st = missing(v, "rate", "a number in [0, 1)");
        if (!st) st = get_num(v, o, "rate", 0, 0, 1, 1, 0, &x);
        l->rate = (float)x;
        break;
    case DNN_LAYER_BATCHNORM:
        st = check_keys(v, o, K_BATCHNORM);
        if (!st) st = get_num(v, o, "momentum", 0, 0, 1, 1, 0.99, &x);
        l->momentum = (float)x;
        if (!st) st = get_num(v, o, "epsilon", 0, 1, INFINITY, 0, 1e-3, &x);
        l->eps = (float)x;
        break;
    case DNN_LAYER_CONV2D: st = conv2d(v, o, l); break;
    case DNN_LAYER_MAXPOOL2D:
    case DNN_LAYER_AVGPOOL2D: st = pooling(v, o, l); break;
    case DNN_LAYER_FLATTEN:
    case DNN_LAYER_GLOBAL_AVGPOOL: st = check_keys(v, o, K_TYPE_ONLY); break;
    }
    return st;
}

static dnn_status model_section(vctx *v, dnn_config *c, const cJSON *root)
{
    const cJSON *model;
    dnn_status st = get_object(v, root, "model", 1, &model);
    if (st) return st;
    size_t m = vpush(v, "model", 0);
    st = check_keys(v, model, K_MODEL);
    const cJSON *layers = member(model, "layers");
    if (!st && !layers) st = missing(v, "layers", "an array of layer objects");
    if (!st && (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) == 0))
        st = expected(v, "layers", "a non-empty array of layer objects", layers);
    if (!st) {
        int n = cJSON_GetArraySize(layers);
        c->layers = calloc((size_t)n, sizeof *c->layers);
        if (!c->layers) st = dnn_fail_oom(v->err, "layers", (size_t)n * sizeof *c->layers);
        size_t ml = vpush(v, "layers", 0);
        int i = 0;
        for (const cJSON *l = layers->child; l && !st; l = l->next, i++) {
            size_t mi = vpush(v, NULL, i);
            st = layer(v, l, &c->layers[i]);
            c->n_layers = i + 1;
            /* Softmax normalises over a whole output row, which only makes sense at the end. */
            if (!st && c->layers[i].activation == DNN_ACT_SOFTMAX && l->next) {
                vpush(v, "activation", 0);
                st = vfail(v, "\"softmax\" is only allowed in the last layer");
            }
            vpop(v, mi);
        }
        if (!st && c->layers[n - 1].kind != DNN_LAYER_DENSE) {
            vpush(v, NULL, n - 1);
            st = vfail(v, "the last layer must be \"dense\" (it gives the outputs)");
        }
        vpop(v, ml);
    }
    int init = 0;
    if (!st) st = get_enum(v, model, "init", init_names, COUNT(init_names), DNN_INIT_AUTO, &init);
    c->init = (dnn_init)init;
    vpop(v, m);
    return st;
}

static const char *const sched_names[] = {"none", "step", "cosine", "plateau"};

static dnn_status schedule(vctx *v, const cJSON *opt, dnn_schedule_config *s)
{
    const cJSON *o;
    dnn_status st = get_object(v, opt, "lr_schedule", 0, &o);
    s->kind = DNN_SCHED_NONE;
    if (st || !o) return st;
    size_t m = vpush(v, "lr_schedule", 0);
    int kind = 0, mon = 0;
    if (!member(o, "type")) st = missing(v, "type", "\"step\", \"cosine\" or \"plateau\"");
    if (!st) st = get_enum(v, o, "type", sched_names, COUNT(sched_names), 0, &kind);
    s->kind = (dnn_sched_kind)kind;
    if (!st) switch (s->kind) {
        case DNN_SCHED_NONE: st = check_keys(v, o, K_SCHED_NONE); break;
        case DNN_SCHED_STEP:
            st = check_keys(v, o, K_SCHED_STEP);
            if (!st && !member(o, "step_size")) st = missing(v, "step_size", "a positive integer (epochs)");
            if (!st) st = get_int32(v, o, "step_size", 1, 1, &s->step_size);
            if (!st) st = get_num(v, o, "gamma", 0, 1, 1, 0, 0.1, &s->gamma);
            break;
        case DNN_SCHED_COSINE:
            st = check_keys(v, o, K_SCHED_COSINE);
            if (!st) st = get_num(v, o, "min_lr", 0, 0, INFINITY, 0, 0.0, &s->min_lr);
            if (!st) st = get_int32(v, o, "warmup_epochs", 0, 0, &s->warmup_epochs);
            break;
        case DNN_SCHED_PLATEAU:
            st = check_keys(v, o, K_SCHED_PLATEAU);
            if (!st)
                st = get_enum(v, o, "monitor", monitor_names, COUNT(monitor_names), DNN_MONITOR_VAL_LOSS,
                              &mon);
            s->monitor = (dnn_monitor)mon;
            if (!st) st = get_num(v, o, "factor", 0, 1, 1, 1, 0.1, &s->factor);
            if (!st) st = get_int32(v, o, "patience", 0, 10, &s->patience);
            if (!st) st = get_num(v, o, "min_delta", 0, 0, INFINITY, 0, 1e-4, &s->min_delta);
            if (!st) st = get_num(v, o, "min_lr", 0, 0, INFINITY, 0, 0.0, &s->min_lr);
            break;
        }
    vpop(v, m);
    return st;
}

static dnn_status optimizer_section(vctx *v, dnn_config *c, cJSON *root)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "optimizer");
    dnn_optim_config *p = &c->optim;
    int kind = 0;
    /* "optimizer": "adam" is shorthand for {"type": "adam"}. */
    if (o && cJSON_IsString(o)) {
        cJSON *obj = cJSON_CreateObject();
        if (!obj || !cJSON_AddStringToObject(obj, "type", o->valuestring)) {
            cJSON_Delete(obj);
            return dnn_fail_oom(v->err, "optimizer", 64);
        }
        cJSON_ReplaceItemInObjectCaseSensitive(root, "optimizer", obj);
        o = obj;
    }
    if (!o)
        return missing(v, "optimizer", "an object such as {\"type\": \"adam\", \"learning_rate\": 0.001}");
    if (!cJSON_IsObject(o)) return expected(v, "optimizer", "an object or an optimizer name", o);
    size_t m = vpush(v, "optimizer", 0);
    dnn_status st = DNN_OK;
    if (!member(o, "type")) st = missing(v, "type", "\"sgd\", \"adam\", \"adamw\" or \"rmsprop\"");
    if (!st) st = get_enum(v, o, "type", optim_names, COUNT(optim_names), 0, &kind);
    p->kind = (dnn_optim_kind)kind;
    if (!st) switch (p->kind) {
        case DNN_OPT_SGD: st = check_keys(v, o, K_SGD); break;
        case DNN_OPT_ADAM: st = check_keys(v, o, K_ADAM); break;
        case DNN_OPT_ADAMW: st = check_keys(v, o, K_ADAMW); break;
        case DNN_OPT_RMSPROP: st = check_keys(v, o, K_RMSPROP); break;
        }
    double def_lr = p->kind == DNN_OPT_SGD ? 0.01 : 0.001;
    if (!st) st = get_num(v, o, "learning_rate", 0, 1, INFINITY, 0, def_lr, &p->learning_rate);
    if (!st) st = get_num(v, o, "momentum", 0, 0, 1, 1, 0.0, &p->momentum);
    if (!st) st = get_bool(v, o, "nesterov", 0, &p->nesterov);
    if (!st && p->nesterov && p->momentum == 0) st = vfail(v, "nesterov needs a momentum greater than 0");
    if (!st) st = get_num(v, o, "beta1", 0, 0, 1, 1, 0.9, &p->beta1);
    if (!st) st = get_num(v, o, "beta2", 0, 0, 1, 1, 0.999, &p->beta2);
    if (!st) st = get_num(v, o, "epsilon", 0, 1, INFINITY, 0, 1e-8, &p->eps);
    if (!st) st = get_num(v, o, "rho", 0, 0, 1, 1, 0.9, &p->rho);
    if (!st) st = get_num(v, o, "weight_decay", 0, 0, INFINITY, 0, 0.01, &p->weight_decay);
    if (!st) st = get_num(v, o, "clip_norm", 0, 0, INFINITY, 0, 0.0, &p->clip_norm);
    if (!st) st = schedule(v, o, &p->schedule);
    vpop(v, m);
    return st;
}

static dnn_status training_section(vctx *v, dnn_config *c, const cJSON *root)
{
    const cJSON *t;
    dnn_status st = get_object(v, root, "training", 0, &t);
    if (st) return st;
    size_t m = vpush(v, "training", 0);
    if (t) st = check_keys(v, t, K_TRAINING);
    if (!st) st = get_int32(v, t, "epochs", 1, 10, &c->epochs);
    if (!st) st = get_int32(v, t, "batch_size", 1, 32, &c->batch_size);
    if (!st) st = get_bool(v, t, "shuffle", 1, &c->shuffle);
    int prec = 0;
    if (!st)
        st = get_enum(v, t, "precision", precision_names, COUNT(precision_names), DNN_PRECISION_FP32, &prec);
    c->precision = (dnn_precision)prec;
    const cJSON *es = NULL;
    if (!st) st = get_object(v, t, "early_stopping", 0, &es);
    dnn_early_stopping_config *e = &c->early_stopping;
    e->enabled = es != NULL;
    if (!st && es) {
        size_t me = vpush(v, "early_stopping", 0);
        int mon = 0;
        st = check_keys(v, es, K_EARLY_STOPPING);
        if (!st)
            st = get_enum(v, es, "monitor", monitor_names, COUNT(monitor_names), DNN_MONITOR_VAL_LOSS, &mon);
        e->monitor = (dnn_monitor)mon;
        if (!st) st = get_int32(v, es, "patience", 0, 5, &e->patience);
        if (!st) st = get_num(v, es, "min_delta", 0, 0, INFINITY, 0, 0.0, &e->min_delta);
        if (!st) st = get_bool(v, es, "restore_best", 1, &e->restore_best);
        vpop(v, me);
    }
    vpop(v, m);
    return st;
}

/* output.explain: method names as --explain takes them, in an array or one comma-separated string; bit i
 * of c->explain is explain_methods[i] (DNN_EXPLAIN_* of dnn/explain.h). */
static const char *const explain_methods[] = {"permutation", "saliency", "integrated_gradients"};

static dnn_status explain_method(vctx *v, const char *name, size_t len, const cJSON *it, unsigned *bits)
{
    for (size_t i = 0; i < COUNT(explain_methods); i++)
        if (len == strlen(explain_methods[i]) && strncmp(name, explain_methods[i], len) == 0) {
            *bits |= 1u << i;
            return DNN_OK;
        }
    return expected(v, "explain", "permutation, saliency or integrated_gradients", it);
}

static dnn_status output_explain(vctx *v, const cJSON *o, unsigned *bits)
{
    const cJSON *it = member(o, "explain");
    *bits = 0;
    if (!it) return DNN_OK;
    if (cJSON_IsString(it))
        for (const char *p = it->valuestring;; p += strcspn(p, ",") + 1) {
            dnn_status st = explain_method(v, p, strcspn(p, ","), it, bits);
            if (st || !p[strcspn(p, ",")]) return st;
        }
    if (!cJSON_IsArray(it) || !it->child)
        return expected(v, "explain", "an array of methods, such as [\"saliency\", \"integrated_gradients\"]",
                        it);
    for (const cJSON *e = it->child; e; e = e->next) {
        dnn_status st = cJSON_IsString(e) ? explain_method(v, e->valuestring, strlen(e->valuestring), e, bits)
                                          : expected(v, "explain", "method names", e);
        if (st) return st;
    }
    return DNN_OK;
}

static dnn_status output_section(vctx *v, dnn_config *c, const cJSON *root)
{
    const cJSON *o;
    const char *dir = NULL;
    dnn_status st = get_object(v, root, "output", 0, &o);
    if (st) return st;
    size_t m = vpush(v, "output", 0);
    if (o) st = check_keys(v, o, K_OUTPUT);
    if (!st) st = get_string(v, o, "dir", 0, &dir);
    if (!st && dir && !(c->output_dir = dnn_strdup(dir)))
        st = dnn_fail_oom(v->err, "output.dir", strlen(dir));
    if (!st) st = get_bool(v, o, "save_best", 0, &c->save_best);
    if (!st) st = get_int32(v, o, "every_epochs", 1, 1, &c->every_epochs);
    if (!st) st = get_int32(v, o, "keep", 0, 0, &c->keep);
    if (!st) st = output_explain(v, o, &c->explain);
    if (!st && c->explain && !c->has_test) {
        vpush(v, "explain", 0);
        st = vfail(v, "the report explains the test set, and data.test names none");
    }
    vpop(v, m);
    return st;
}

/* Cross-field rules: the loss must fit the output layer, the task must fit the loss. */
static dnn_status check_consistency(vctx *v, dnn_config *c, int task)
{
    /* Layers that slide windows over images must know the image's shape: IDX files say, CSV rows do not. */
    for (int l = 0; c->train.format == DNN_FORMAT_CSV && !c->has_shape && l < c->n_layers; l++) {
        dnn_layer_kind k = c->layers[l].kind;
        if (k == DNN_LAYER_DENSE || k == DNN_LAYER_FLATTEN) break;
        if (k == DNN_LAYER_CONV2D || k == DNN_LAYER_MAXPOOL2D || k == DNN_LAYER_AVGPOOL2D ||
            k == DNN_LAYER_GLOBAL_AVGPOOL) {
            strcpy(v->path, "data.shape");
            return vfail(v,
                         "model.layers[%d] (%s) works on images, and CSV rows do not say their shape: give "
                         "data.shape [C, H, W] (for example [1, 8, 8] for 64 pixel columns)",
                         l, dnn_layer_name(k));
        }
    }
    const dnn_layer_config *out = &c->layers[c->n_layers - 1];
    char at[64];
    snprintf(at, sizeof at, "model.layers[%d].activation", c->n_layers - 1);
    switch (c->loss) {
    case DNN_LOSS_CROSS_ENTROPY:
        if (out->activation != DNN_ACT_SOFTMAX || out->units < 2) {
            strcpy(v->path, "loss");
            return vfail(
                v,
                "\"cross_entropy\" needs a last layer with activation \"softmax\" and at least 2 units "
                "(%s is \"%s\" with %d units)",
                at, dnn_act_name(out->activation), out->units);
        }
        break;
    case DNN_LOSS_BINARY_CROSS_ENTROPY:
        if (out->activation != DNN_ACT_SIGMOID || out->units != 1) {
            strcpy(v->path, "loss");
            return vfail(v,
                         "\"binary_cross_entropy\" needs a last layer of 1 unit with activation \"sigmoid\" "
                         "(%s is \"%s\" with %d units)",
                         at, dnn_act_name(out->activation), out->units);
        }
        break;
    case DNN_LOSS_MSE: break;
    }
    int n_classes = out->units == 1 ? 2 : out->units;
    if (c->class_names && (c->loss == DNN_LOSS_MSE || c->n_class_names != n_classes)) {
        strcpy(v->path, "data.classes");
        if (c->loss == DNN_LOSS_MSE) return vfail(v, "a regression has no classes to name");
        return vfail(v, "%d names for the %d classes of the output layer", c->n_class_names, n_classes);
    }
    dnn_task natural = c->loss == DNN_LOSS_MSE ? DNN_TASK_REGRESSION : DNN_TASK_CLASSIFICATION;
    c->task = natural;
    if (task != -1 && task != (int)natural) {
        strcpy(v->path, "data.task");
        return vfail(v, "task \"%s\" does not fit loss \"%s\" (use %s)", task_names[task],
                     dnn_loss_name(c->loss),
                     natural == DNN_TASK_REGRESSION
                         ? "\"mse\" for regression"
                         : "\"cross_entropy\" or \"binary_cross_entropy\" for classification");
    }
    if (c->task == DNN_TASK_REGRESSION && c->early_stopping.enabled &&
        (c->early_stopping.monitor == DNN_MONITOR_VAL_ACCURACY ||
         c->early_stopping.monitor == DNN_MONITOR_ACCURACY)) {
        strcpy(v->path, "training.early_stopping.monitor");
        return vfail(v, "a regression has no accuracy to monitor (use \"val_loss\" or \"loss\")");
    }
    return DNN_OK;
}

dnn_status dnn_config_from_json(dnn_config *c, cJSON *json, const char *file, const char *base_dir,
                                const char *const *overrides, int n_overrides, dnn_error *err)
{
    memset(c, 0, sizeof *c);
    c->json = json;
    for (int i = 0; i < n_overrides; i++) {
        dnn_status st = dnn_config_apply_override(json, overrides[i], err);
        if (st) {
            dnn_config_free(c);
            return st;
        }
    }
    c->file = dnn_strdup(file);
    vctx v = {.file = file, .err = err, .overrides = overrides, .n_overrides = n_overrides};
    if (!c->file || !cJSON_IsObject(json)) {
        dnn_status st =
            c->file ? vfail(&v, "expected a JSON object at the top level") : dnn_fail_oom(err, "config", 0);
        dnn_config_free(c);
        return st;
    }
    long seed = 0;
    int loss = 0, task = -1;
    dnn_status st = check_keys(&v, json, K_TOP);
    /* Seeds are integers that survive a round trip through a JSON double. */
    if (!st) st = get_int(&v, json, "seed", 0, (1L << 53), 0, &seed);
    c->seed = (uint64_t)seed;
    if (!st) st = data_section(&v, c, json, base_dir, &task);
    if (!st) st = model_section(&v, c, json);
    if (!st && !member(json, "loss"))
        st = missing(&v, "loss", "\"cross_entropy\", \"binary_cross_entropy\" or \"mse\"");
    if (!st) st = get_enum(&v, json, "loss", loss_names, COUNT(loss_names), 0, &loss);
    c->loss = (dnn_loss_kind)loss;
    if (!st) st = optimizer_section(&v, c, json);
    if (!st) st = training_section(&v, c, json);
    if (!st) st = output_section(&v, c, json);
    if (!st) st = check_consistency(&v, c, task);
    if (st) dnn_config_free(c); /* a failed config owns nothing */
    return st;
}

/* Line and column of a byte offset, for parse errors. */
static void line_col(const char *buf, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else
            (*col)++;
    }
}

/* "model.layers[0].units" -> "model.layers.0.units": the bracket form messages print is accepted too.
 * Returns -1 when a bracket is not closed by "]" or holds no index. */
static int dotted_key(const char *key, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k + 2 >= cap) return -1;
        if (key[i] == ']') return -1;
        if (key[i] != '[') {
            out[k++] = key[i];
            continue;
        }
        size_t j = i + 1;
        while (j < n && key[j] >= '0' && key[j] <= '9') j++;
        if (j == i + 1 || j >= n || key[j] != ']') return -1;
        if (k > 0) out[k++] = '.';
        for (size_t q = i + 1; q < j && k + 2 < cap; q++) out[k++] = key[q];
        i = j;
    }
    out[k] = '\0';
    return 0;
}

dnn_status dnn_config_apply_override(cJSON *json, const char *raw, dnn_error *err)
{
    const char *eq = strchr(raw, '=');
    if (!eq || eq == raw)
        return dnn_fail(err, DNN_ECONFIG, "--set %s: expected KEY=VALUE, such as training.epochs=3", raw);
    char path[512];
    if (dotted_key(raw, (size_t)(eq - raw), path, sizeof path))
        return dnn_fail(
            err, DNN_ECONFIG,
            "--set %s: expected a dotted key such as model.layers.0.units or model.layers[0].units", raw);
    const char *assignment = raw, *value = eq + 1;
    eq = path + strlen(path);
    cJSON *node = json;
    const char *p = path;
    while (p < eq) {
        const char *seg = p;
        while (p < eq && *p != '.') p++;
        size_t len = (size_t)(p - seg);
        int last = p == eq;
        if (p < eq) p++;
        if (len == 0 || len >= 128)
            return dnn_fail(err, DNN_ECONFIG, "--set %s: empty or overlong key in the dotted path",
                            assignment);
        char key[128];
        memcpy(key, seg, len);
        key[len] = '\0';
        cJSON *next;
        if (cJSON_IsArray(node)) {
            char *end;
            long i = strtol(key, &end, 10);
            int n = cJSON_GetArraySize(node);
            if (*end || i < 0 || i >= n)
                return dnn_fail(err, DNN_ECONFIG,
                                "--set %s: \"%s\" is not an index of an array of %d elements", assignment,
                                key, n);
            next = cJSON_GetArrayItem(node, (int)i);
        } else if (cJSON_IsObject(node)) {
            next = cJSON_GetObjectItemCaseSensitive(node, key);
            if (!next && !last) {
                /* A missing intermediate object is created, so --set output.dir=x works without "output". */
                next = cJSON_AddObjectToObject(node, key);
                if (!next) return dnn_fail_oom(err, "--set", len);
            }
        } else {
            return dnn_fail(err, DNN_ECONFIG,
                            "--set %s: \"%s\" is inside a value that is not an object or array", assignment,
                            key);
        }
        if (last) {
            cJSON *val = cJSON_ParseWithOpts(value, NULL, 1);
            if (!val) val = cJSON_CreateString(value); /* not JSON: a plain string such as sgd */
            if (!val) return dnn_fail_oom(err, "--set", strlen(value));
            if (cJSON_IsNull(val)) {
                /* null removes the key, so its default applies again (or the element, from an array) */
                cJSON_Delete(val);
                if (cJSON_IsObject(node))
                    cJSON_DeleteItemFromObjectCaseSensitive(node, key);
                else
                    cJSON_DeleteItemFromArray(node, (int)strtol(key, NULL, 10));
                return DNN_OK;
            }
            int ok;
            if (cJSON_IsArray(node))
                ok = cJSON_ReplaceItemInArray(node, (int)strtol(key, NULL, 10), val);
            else if (next)
                ok = cJSON_ReplaceItemInObjectCaseSensitive(node, key, val);
            else
                ok = cJSON_AddItemToObject(node, key, val);
            if (!ok) {
                cJSON_Delete(val);
                return dnn_fail_oom(err, "--set", strlen(value));
            }
            return DNN_OK;
        }
        node = next;
    }
    return DNN_OK;
}

dnn_status dnn_config_load(dnn_config *c, const char *path, const char *const *overrides, int n_overrides,
                           dnn_error *err)
{
    memset(c, 0, sizeof *c);
    char *buf;
    size_t len;
    dnn_status st = dnn_read_file(path, CONFIG_MAX_BYTES, &buf, &len, err);
    if (st) return st == DNN_EIO ? (err->code = DNN_ECONFIG) : st;
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (json && end) {
        while (end < buf + len && strchr(" \t\r\n", *end)) end++;
        if (end != buf + len) {
            cJSON_Delete(json);
            json = NULL;
        }
    }
    if (!json) {
        int line, col;
        size_t off = end ? (size_t)(end - buf) : 0;
        if (off > len) off = len;
        line_col(buf, off, &line, &col);
        free(buf);
        return dnn_fail(err, DNN_ECONFIG,
                        "%s:%d:%d: invalid JSON (expected a JSON object; check commas, quotes "
                        "and brackets near here)",
                        path, line, col);
    }
    free(buf);
    char *dir = dnn_path_dir(path);
    if (!dir) {
        cJSON_Delete(json);
        return dnn_fail_oom(err, path, strlen(path));
    }
    st = dnn_config_from_json(c, json, path, dir, overrides, n_overrides, err);
    free(dir);
    return st;
}

static void free_source(dnn_source_config *s)
{
    free(s->images);
    free(s->labels);
    free(s->path);
    for (int i = 0; i < s->n_paths; i++) free(s->paths[i]);
    free(s->paths);
    free(s->cache);
    for (int i = 0; i < s->n_label; i++) free(s->label[i].name);
    for (int i = 0; i < s->n_features; i++) free(s->features[i].name);
    for (int i = 0; i < s->n_ignore; i++) free(s->ignore[i].name);
    for (int i = 0; i < s->n_missing_values; i++) free(s->missing_values[i]);
    free(s->label);
    free(s->features);
    free(s->ignore);
    free(s->missing_values);
}

void dnn_config_free(dnn_config *c)
{
    if (!c) return;
    cJSON_Delete(c->json);
    free(c->file);
    free_source(&c->train);
    free_source(&c->test);
    free(c->layers);
    free(c->output_dir);
    for (int i = 0; i < c->n_class_names; i++) free(c->class_names[i]);
    free(c->class_names);
    for (int i = 0; i < c->n_categorical; i++) free(c->categorical[i].name);
    free(c->categorical);
    memset(c, 0, sizeof *c);
}

/* ---- the list of keys ---- */

typedef struct {
    char **v;
    size_t n, cap;
} string_list;

static int list_add(string_list *l, const char *a, size_t na, const char *b)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v, l->cap = cap;
    }
    size_t nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (!s) return -1;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    l->v[l->n++] = s;
    return 0;
}

/* Add every expansion of "head{x,y}tail" (alternatives may nest in tail) to the list. */
static int expand(string_list *l, const char *pattern)
{
    const char *open = strchr(pattern, '{'), *close = open ? strchr(open, '}') : NULL;
    if (!open || !close) return list_add(l, "", 0, pattern);
    char buf[256];
    for (const char *alt = open + 1; alt < close;) {
        size_t len = strcspn(alt, ",}");
        int n =
            snprintf(buf, sizeof buf, "%.*s%.*s%s", (int)(open - pattern), pattern, (int)len, alt, close + 1);
        if (n < 0 || (size_t)n >= sizeof buf || expand(l, buf)) return -1;
        alt += len + 1;
    }
    return 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

dnn_status dnn_config_keys(char ***keys, size_t *n, dnn_error *err)
{
    string_list l = {0};
    char path[256];
    int bad = 0;
    for (int r = 0; r < N_KEY_SETS && !bad; r++)
        for (size_t i = 0; i < KEY_SETS[r].n && !bad; i++) {
            const char *at = KEY_SETS[r].path;
            snprintf(path, sizeof path, "%s%s%s", at, *at ? "." : "", KEY_SETS[r].keys[i]);
            bad = expand(&l, path);
        }
    if (bad) {
        dnn_strings_free(l.v, l.n);
        return dnn_fail_oom(err, "the list of config keys", l.n * sizeof(char *));
    }
    qsort(l.v, l.n, sizeof *l.v, by_string);
    size_t k = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (k && strcmp(l.v[k - 1], l.v[i]) == 0)
            free(l.v[i]);
        else
            l.v[k++] = l.v[i];
    }
    *keys = l.v;
    *n = k;
    return DNN_OK;
}
