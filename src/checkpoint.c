/* Checkpoint encoding and decoding. Every read is bounds-checked against the section it belongs to, and
 * nothing is decoded before the length and checksum of the whole file are verified. */
#include "dnn/checkpoint.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dnn/util.h"

#ifndef DNN_VERSION
#define DNN_VERSION "0.0.0"
#endif

const char *dnn_version(void)
{
    return DNN_VERSION;
}

static const uint8_t MAGIC[8] = {0x89, 'D', 'N', 'N', '\r', '\n', 0x1a, '\n'};
enum { HEADER = 24, TRAILER = 4 };

/* ---- writing: a growable byte buffer with explicit little-endian encoders ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} wbuf;

static uint8_t *wreserve(wbuf *w, size_t k)
{
    if (w->oom) return NULL;
    if (w->n + k > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->n + k) {
            if (cap > SIZE_MAX / 2) {
                w->oom = 1;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->oom = 1;
            return NULL;
        }
        w->p = p, w->cap = cap;
    }
    uint8_t *q = w->p + w->n;
    w->n += k;
    return q;
}

static void put_u32(wbuf *w, uint32_t v)
{
    uint8_t *q = wreserve(w, 4);
    if (q)
        for (int i = 0; i < 4; i++) q[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(wbuf *w, uint64_t v)
{
    uint8_t *q = wreserve(w, 8);
    if (q)
        for (int i = 0; i < 8; i++) q[i] = (uint8_t)(v >> (8 * i));
}

static void put_f64(wbuf *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(w, u);
}

static void put_f32s(wbuf *w, const float *x, size_t n)
{
    uint8_t *q = wreserve(w, 4 * n);
    if (!q) return;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        q[4 * i] = (uint8_t)u, q[4 * i + 1] = (uint8_t)(u >> 8), q[4 * i + 2] = (uint8_t)(u >> 16),
              q[4 * i + 3] = (uint8_t)(u >> 24);
    }
}

static void put_rng(wbuf *w, const dnn_rng *r)
{
    for (int i = 0; i < 4; i++) put_u64(w, r->s[i]);
}

/* Open a section; returns the offset of its length field, patched by end_section. */
static size_t begin_section(wbuf *w, const char tag[4], uint32_t *count)
{
    uint8_t *q = wreserve(w, 4);
    if (q) memcpy(q, tag, 4);
    put_u32(w, 0);
    size_t at = w->n;
    put_u64(w, 0);
    (*count)++;
    return at;
}

static void end_section(wbuf *w, size_t at)
{
    if (w->oom) return;
    uint64_t len = w->n - at - 8;
    for (int i = 0; i < 8; i++) w->p[at + i] = (uint8_t)(len >> (8 * i));
}

static void put_text(wbuf *w, const char *tag, const char *text, uint32_t *count)
{
    size_t at = begin_section(w, tag, count);
    size_t n = strlen(text);
    uint8_t *q = wreserve(w, n);
    if (q) memcpy(q, text, n);
    end_section(w, at);
}

static cJSON *names_json(char *const *names, int n)
{
    if (!names) return cJSON_CreateNull();
    return cJSON_CreateStringArray((const char *const *)names, n);
}

/* The categorical columns: [{"column": name, "position": p, "levels": [..., "__other__"]}, ...]. */
static cJSON *encoding_json(const dnn_encoding *e)
{
    cJSON *a = cJSON_CreateArray();
    for (int c = 0; a && c < e->n_cat; c++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "column", e->cols[c].name);
        cJSON_AddNumberToObject(o, "position", e->cols[c].position);
        cJSON_AddItemToObject(o, "levels", names_json(e->cols[c].levels, e->cols[c].n_levels));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

dnn_status dnn_checkpoint_encode(const dnn_model *m, const dnn_train_state *s, uint8_t **buf, size_t *len,
                                 dnn_error *err)
{
    *buf = NULL;
    *len = 0;
    const dnn_net *net = m->net;
    wbuf w = {0};
    uint32_t count = 0;
    uint8_t *q = wreserve(&w, HEADER);
    if (q) memcpy(q, MAGIC, 8);

    char *conf = cJSON_PrintUnformatted(m->cfg.json);
    cJSON *meta = cJSON_CreateObject();
    char *meta_s = NULL;
    if (meta) {
        cJSON_AddStringToObject(meta, "dnn_version", dnn_version());
        cJSON_AddItemToObject(meta, "classes", names_json(m->class_names, m->n_classes));
        cJSON_AddItemToObject(meta, "features", names_json(m->feature_names, net->n_in));
        cJSON_AddItemToObject(meta, "targets", names_json(m->target_names, net->n_out));
        if (m->label_names) cJSON_AddItemToObject(meta, "labels", names_json(m->label_names, m->n_labels));
        if (m->enc) cJSON_AddItemToObject(meta, "categorical", encoding_json(m->enc));
        meta_s = cJSON_PrintUnformatted(meta);
        cJSON_Delete(meta);
    }
    if (!conf || !meta_s) {
        free(conf);
        free(meta_s);
        free(w.p);
        return dnn_fail_oom(err, "the checkpoint's config", 0);
    }
    put_text(&w, "CONF", conf, &count);
    put_text(&w, "META", meta_s, &count);
    free(conf);
    free(meta_s);

    size_t at = begin_section(&w, "MODL", &count);
    put_u32(&w, (uint32_t)net->n_in);
    put_u32(&w, (uint32_t)net->n_out);
    put_u64(&w, net->n_params);
    put_u64(&w, net->n_state);
    /* one input sample's shape, C x H x W: what image layers need to be rebuilt (later than the rest, so
     * a checkpoint without it still reads, as a vector input) */
    put_u32(&w, (uint32_t)net->in_shape.c);
    put_u32(&w, (uint32_t)net->in_shape.h);
    put_u32(&w, (uint32_t)net->in_shape.w);
    end_section(&w, at);

    at = begin_section(&w, "NORM", &count);
    put_u64(&w, m->norm.d);
    put_f32s(&w, m->norm.shift, m->norm.d);
    put_f32s(&w, m->norm.mul, m->norm.d);
    put_u32(&w, (uint32_t)m->norm.k);
    put_f32s(&w, m->norm.tshift, (size_t)m->norm.k);
    put_f32s(&w, m->norm.tmul, (size_t)m->norm.k);
    end_section(&w, at);

    at = begin_section(&w, "IMPU", &count);
    put_u64(&w, m->impute.fill ? m->impute.d : 0);
    put_f32s(&w, m->impute.fill, m->impute.fill ? m->impute.d : 0);
    end_section(&w, at);

    at = begin_section(&w, "PARA", &count);
    put_f32s(&w, net->params, net->n_params);
    end_section(&w, at);

    at = begin_section(&w, "NSTA", &count);
    put_f32s(&w, net->state, net->n_state);
    end_section(&w, at);

    if (s) {
        at = begin_section(&w, "TRAI", &count);
        put_u32(&w, (uint32_t)s->epoch);
        put_u64(&w, s->step);
        put_rng(&w, &s->shuffle_rng);
        put_rng(&w, &s->dropout_rng);
        put_rng(&w, &s->epoch_rng);
        put_u64(&w, s->batch);
        put_f64(&w, s->part_loss);
        put_u64(&w, s->part_correct);
        put_u64(&w, s->part_seen);
        put_f64(&w, s->part_seconds);
        put_f64(&w, s->sched.lr);
        put_f64(&w, s->sched.best);
        put_u32(&w, (uint32_t)s->sched.wait);
        put_f64(&w, s->best_value);
        put_u32(&w, (uint32_t)s->best_epoch);
        put_u32(&w, (uint32_t)s->wait);
        put_u32(&w, (uint32_t)s->stopped_early);
        put_u32(&w, (uint32_t)s->n_history);
        for (int i = 0; i < s->n_history; i++) {
            const dnn_epoch_log *h = &s->history[i];
            put_u32(&w, (uint32_t)h->epoch);
            put_f64(&w, h->loss);
            put_f64(&w, h->accuracy);
            put_f64(&w, h->val_loss);
            put_f64(&w, h->val_accuracy);
            put_f64(&w, h->lr);
        }
        end_section(&w, at);

        at = begin_section(&w, "OPTM", &count);
        put_u32(&w, (uint32_t)s->opt->cfg.kind);
        put_u64(&w, s->opt->t);
        put_u32(&w, (uint32_t)s->opt->n_slots);
        if (s->opt->n_slots >= 1) put_f32s(&w, s->opt->m, s->opt->n);
        if (s->opt->n_slots >= 2) put_f32s(&w, s->opt->v, s->opt->n);
        end_section(&w, at);

        if (s->best_params && s->best_epoch > 0) {
            at = begin_section(&w, "BEST", &count);
            put_f32s(&w, s->best_params, net->n_params + net->n_state);
            end_section(&w, at);
        }
    }
    put_u32(&w, 0); /* room for the CRC */
    if (w.oom) {
        free(w.p);
        return dnn_fail_oom(err, "the checkpoint", w.n);
    }
    /* header: version, section count, total length; then the CRC over everything before it */
    size_t total = w.n;
    for (int i = 0; i < 4; i++) w.p[8 + i] = (uint8_t)(DNN_CHECKPOINT_VERSION >> (8 * i));
    for (int i = 0; i < 4; i++) w.p[12 + i] = (uint8_t)(count >> (8 * i));
    for (int i = 0; i < 8; i++) w.p[16 + i] = (uint8_t)((uint64_t)total >> (8 * i));
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < total - TRAILER;) {
        size_t chunk = total - TRAILER - off > (1u << 30) ? (1u << 30) : total - TRAILER - off;
        crc = crc32(crc, w.p + off, (uInt)chunk);
        off += chunk;
    }
    for (int i = 0; i < 4; i++) w.p[total - 4 + i] = (uint8_t)(crc >> (8 * i));
    *buf = w.p;
    *len = total;
    return DNN_OK;
}

dnn_status dnn_checkpoint_save(const char *path, const dnn_model *m, const dnn_train_state *s, dnn_error *err)
{
    uint8_t *buf;
    size_t len;
    dnn_status st = dnn_checkpoint_encode(m, s, &buf, &len, err);
    if (st) return st;
    st = dnn_write_atomic(path, buf, len, err);
    free(buf);
    return st;
}

/* ---- reading: a cursor over one section that refuses to run past its end ---- */

typedef struct {
    const uint8_t *p;
    size_t n, at;
    int bad;
} rcur;

static const uint8_t *take(rcur *c, size_t k)
{
    if (c->bad || k > c->n - c->at) {
        c->bad = 1;
        return NULL;
    }
    const uint8_t *q = c->p ? c->p + c->at : NULL; /* an empty section may have no bytes at all */
    c->at += k;
    return q;
}

static uint32_t get_u32(rcur *c)
{
    const uint8_t *q = take(c, 4);
    if (!q) return 0;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

static uint64_t get_u64(rcur *c)
{
    uint64_t lo = get_u32(c);
    return lo | (uint64_t)get_u32(c) << 32;
}

static double get_f64(rcur *c)
{
    uint64_t u = get_u64(c);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static void get_f32s(rcur *c, float *x, size_t n)
{
    if (n == 0) return; /* x may be NULL: a network without state */
    if (n > (c->n - c->at) / 4) {
        c->bad = 1;
        return;
    }
    const uint8_t *q = take(c, 4 * n);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)q[4 * i] | (uint32_t)q[4 * i + 1] << 8 | (uint32_t)q[4 * i + 2] << 16 |
                     (uint32_t)q[4 * i + 3] << 24;
        memcpy(&x[i], &u, 4);
    }
}

static void get_rng(rcur *c, dnn_rng *r)
{
    for (int i = 0; i < 4; i++) r->s[i] = get_u64(c);
}

static char **names_from_json(const cJSON *arr, int n, int *ok)
{
    *ok = 1;
    if (!arr || cJSON_IsNull(arr)) return NULL;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n) {
        *ok = 0;
        return NULL;
    }
    char **out = calloc((size_t)n, sizeof *out);
    if (!out) {
        *ok = 0;
        return NULL;
    }
    int i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c) || !(out[i] = dnn_strdup(c->valuestring))) {
            dnn_strings_free(out, (size_t)i);
            *ok = 0;
            return NULL;
        }
    }
    return out;
}

/* Read the categorical columns back; NULL (with *ok 0) when they are malformed. */
static dnn_encoding *encoding_from_json(const cJSON *a, int *ok)
{
    *ok = 1;
    if (!a) return NULL;
    *ok = 0;
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n <= 0) return NULL;
    dnn_encoding *e = calloc(1, sizeof *e);
    if (e) e->cols = calloc((size_t)n, sizeof *e->cols);
    if (!e || !e->cols) {
        dnn_encoding_free(e);
        return NULL;
    }
    dnn_error err;
    for (const cJSON *o = a->child; o; o = o->next) {
        const cJSON *col = cJSON_GetObjectItemCaseSensitive(o, "column"),
                    *pos = cJSON_GetObjectItemCaseSensitive(o, "position"),
                    *lv = cJSON_GetObjectItemCaseSensitive(o, "levels");
        int nl = cJSON_IsArray(lv) ? cJSON_GetArraySize(lv) : 0, good = 0;
        char **levels = nl > 0 && nl <= 65536 ? names_from_json(lv, nl, &good) : NULL;
        int fine =
            good && levels && cJSON_IsString(col) && cJSON_IsNumber(pos) && pos->valuedouble >= 0 &&
            pos->valuedouble < 1 << 20 && strcmp(levels[nl - 1], DNN_LEVEL_OTHER) == 0 &&
            !dnn_catcol_make(&e->cols[e->n_cat], col->valuestring, (int)pos->valuedouble, levels, nl, &err);
        dnn_strings_free(levels, levels ? (size_t)nl : 0);
        if (!fine) {
            dnn_encoding_free(e);
            return NULL;
        }
        e->n_cat++;
    }
    *ok = 1;
    return e;
}

static dnn_status corrupt(dnn_error *err, const char *name, const char *what)
{
    return dnn_fail(err, DNN_EIO, "%s: corrupted or incompatible checkpoint: %s", name, what);
}

/* ---- the sections, each read by its own reader, in the order of the table below ---- */

/* The sections, by their place in the table SECTIONS below. */
enum { S_MODL, S_CONF, S_META, S_NORM, S_IMPU, S_PARA, S_NSTA, S_TRAI, S_OPTM, S_BEST, N_SECTIONS };

/* What decoding carries from one section to the next. */
typedef struct {
    const char *name; /* the file or buffer, for messages */
    size_t max_memory;
    dnn_model *m;
    dnn_train_state *s; /* NULL: the model to score; else the model to continue training, and its state */
    uint32_t n_in, n_out;
    uint64_t n_params, n_state;
    dnn_shape shape;      /* one input sample's: channels x height x width */
    int have[N_SECTIONS]; /* which sections the file holds */
    dnn_error *err;
} decoder;

/* A section's reader: decode c into the decoder's model or state. A section must be read to its last byte. */
typedef dnn_status (*section_reader)(decoder *d, rcur *c);

static dnn_status read_modl(decoder *d, rcur *c)
{
    d->n_in = get_u32(c), d->n_out = get_u32(c);
    d->n_params = get_u64(c), d->n_state = get_u64(c);
    d->shape = (dnn_shape){(int)(d->n_in & INT32_MAX), 1, 1};
    if (c->n - c->at >= 12) { /* the input's shape, whose size must be n_in */
        uint32_t sc = get_u32(c), sh = get_u32(c), sw = get_u32(c);
        d->shape = (dnn_shape){(int)(sc & INT32_MAX), (int)(sh & INT32_MAX), (int)(sw & INT32_MAX)};
        size_t size;
        if (sc > INT32_MAX || sh > INT32_MAX || sw > INT32_MAX || dnn_mul_size((size_t)sc * sh, sw, &size) ||
            size != d->n_in)
            return corrupt(d->err, d->name, "the input's shape does not match its size");
    }
    if (c->bad || c->at != c->n || d->n_in == 0 || d->n_in > INT32_MAX)
        return corrupt(d->err, d->name, "bad model sizes");
    return DNN_OK;
}

/* The config, validated like a config file, and the model it describes (sized by MODL). */
static dnn_status read_conf(decoder *d, rcur *c)
{
    char cname[1100];
    snprintf(cname, sizeof cname, "%s (embedded config)", d->name);
    cJSON *json = cJSON_ParseWithLength((const char *)c->p, c->n);
    c->at = c->n;
    if (!json) return corrupt(d->err, d->name, "the embedded config is not valid JSON");
    dnn_config cfg;
    if (dnn_config_from_json(&cfg, json, cname, NULL, NULL, 0, d->err)) {
        /* valid once, or it would not have been written: another version's, or tampered with */
        dnn_config_free(&cfg);
        return d->err->code = DNN_EIO;
    }
    if (dnn_net_count_params(&cfg, d->shape) != d->n_params) {
        dnn_config_free(&cfg);
        return corrupt(d->err, d->name, "the parameter count does not match the embedded config's network");
    }
    cfg.max_memory = d->max_memory;
    dnn_status st = dnn_model_create(d->m, &cfg, d->shape, d->err); /* may refuse it for --max-memory */
    dnn_config_free(&cfg);
    if (st) return st;
    const dnn_net *net = d->m->net;
    if ((uint32_t)net->n_out != d->n_out || net->n_state != d->n_state || net->n_params != d->n_params)
        return corrupt(d->err, d->name, "the stored sizes do not match the embedded config's network");
    return DNN_OK;
}

/* Names (classes, features, targets, label columns) and the version that wrote the file. */
static dnn_status read_meta(decoder *d, rcur *c)
{
    dnn_model *m = d->m;
    const dnn_net *net = m->net;
    cJSON *meta = cJSON_ParseWithLength((const char *)c->p, c->n);
    c->at = c->n;
    int ok1 = 0, ok2 = 0, ok3 = 0, ok4 = 1;
    if (meta) {
        m->class_names =
            names_from_json(cJSON_GetObjectItemCaseSensitive(meta, "classes"), m->n_classes, &ok1);
        m->feature_names =
            names_from_json(cJSON_GetObjectItemCaseSensitive(meta, "features"), net->n_in, &ok2);
        m->target_names =
            names_from_json(cJSON_GetObjectItemCaseSensitive(meta, "targets"), net->n_out, &ok3);
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
        int nl = cJSON_IsArray(labels) ? cJSON_GetArraySize(labels) : 0;
        if (nl > 0 && nl <= net->n_out) {
            m->label_names = names_from_json(labels, nl, &ok4);
            m->n_labels = m->label_names ? nl : 0;
        } else if (labels) {
            ok4 = 0;
        }
        int ok5;
        m->enc = encoding_from_json(cJSON_GetObjectItemCaseSensitive(meta, "categorical"), &ok5);
        /* the one-hot blocks come after the numeric features, and fill the input up to its width */
        ok4 &= ok5 && dnn_encoding_width(m->enc) <= (size_t)net->n_in;
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(meta, "dnn_version");
        if (cJSON_IsString(ver)) snprintf(m->written_by, sizeof m->written_by, "%s", ver->valuestring);
        cJSON_Delete(meta);
    }
    if (!ok1 || !ok2 || !ok3 || !ok4)
        return corrupt(d->err, d->name, "bad metadata (class, feature or categorical names)");
    return DNN_OK;
}

/* n floats of c into a new array *out. */
static dnn_status get_f32_array(decoder *d, rcur *c, size_t n, float **out)
{
    if (n > (c->n - c->at) / 4) return c->bad = 1, DNN_OK; /* too short: the size check says so */
    if (!(*out = malloc(n * sizeof(float) + 1))) return dnn_fail_oom(d->err, d->name, n * sizeof(float));
    get_f32s(c, *out, n);
    return DNN_OK;
}

/* Input normalisation, and the regression targets' standardisation. */
static dnn_status read_norm(decoder *d, rcur *c)
{
    dnn_model *m = d->m;
    uint64_t n = get_u64(c);
    if (c->bad || n != (uint64_t)m->net->n_in)
        return corrupt(d->err, d->name, "the normalisation statistics do not match the input size");
    m->norm.d = (size_t)n;
    dnn_status st = get_f32_array(d, c, (size_t)n, &m->norm.shift);
    if (!st) st = get_f32_array(d, c, (size_t)n, &m->norm.mul);
    if (st || c->bad) return st;
    uint32_t nt = get_u32(c);
    if (c->bad || (nt != 0 && nt != (uint32_t)m->net->n_out) ||
        (nt != 0) != (m->cfg.task == DNN_TASK_REGRESSION))
        return corrupt(d->err, d->name, "the target statistics do not match the output size");
    m->norm.k = (int)nt;
    if (!nt) return DNN_OK;
    st = get_f32_array(d, c, nt, &m->norm.tshift);
    return st ? st : get_f32_array(d, c, nt, &m->norm.tmul);
}

/* The values that fill missing cells (none for a model trained without any). */
static dnn_status read_impu(decoder *d, rcur *c)
{
    uint64_t n = get_u64(c);
    if (c->bad || (n != 0 && n != d->m->norm.d))
        return corrupt(d->err, d->name, "the imputation values do not match the input size");
    d->m->impute.d = (size_t)n;
    return n ? get_f32_array(d, c, (size_t)n, &d->m->impute.fill) : DNN_OK;
}

static dnn_status read_para(decoder *d, rcur *c)
{
    get_f32s(c, d->m->net->params, d->m->net->n_params);
    return DNN_OK;
}

static dnn_status read_nsta(decoder *d, rcur *c)
{
    get_f32s(c, d->m->net->state, d->m->net->n_state);
    return DNN_OK;
}

/* Counters, generators, schedule, early stopping and the metric history of a run to continue. */
static dnn_status read_trai(decoder *d, rcur *c)
{
    dnn_train_state *s = d->s;
    dnn_status st = dnn_train_state_init(s, d->m, d->err);
    if (st) return st;
    s->epoch = (int)get_u32(c);
    s->step = get_u64(c);
    get_rng(c, &s->shuffle_rng);
    get_rng(c, &s->dropout_rng);
    get_rng(c, &s->epoch_rng);
    s->batch = (size_t)get_u64(c);
    s->part_loss = get_f64(c);
    s->part_correct = get_u64(c);
    s->part_seen = get_u64(c);
    s->part_seconds = get_f64(c);
    s->sched.lr = get_f64(c);
    s->sched.best = get_f64(c);
    s->sched.wait = (int)get_u32(c);
    s->best_value = get_f64(c);
    s->best_epoch = (int)get_u32(c);
    s->wait = (int)get_u32(c);
    s->stopped_early = (int)get_u32(c);
    uint32_t nh = get_u32(c);
    if (c->bad || nh > (c->n - c->at) / 44 || s->epoch < 0 || nh != (uint32_t)s->epoch)
        return corrupt(d->err, d->name, "bad training state");
    s->history = calloc(nh ? nh : 1, sizeof *s->history);
    if (!s->history) return dnn_fail_oom(d->err, d->name, nh * sizeof *s->history);
    s->n_history = (int)nh;
    for (uint32_t i = 0; i < nh; i++) {
        dnn_epoch_log *e = &s->history[i];
        e->epoch = (int)get_u32(c);
        e->loss = get_f64(c);
        e->accuracy = get_f64(c);
        e->val_loss = get_f64(c);
        e->val_accuracy = get_f64(c);
        e->lr = get_f64(c);
        e->seconds = e->samples_per_second = NAN;
    }
    return DNN_OK;
}

static dnn_status read_optm(decoder *d, rcur *c)
{
    dnn_train_state *s = d->s;
    uint32_t kind = get_u32(c);
    uint64_t t = get_u64(c);
    uint32_t slots = get_u32(c);
    if (c->bad || kind != (uint32_t)s->opt->cfg.kind || slots != (uint32_t)s->opt->n_slots)
        return corrupt(d->err, d->name, "the optimizer state does not match the embedded config's optimizer");
    s->opt->t = t;
    if (slots >= 1) get_f32s(c, s->opt->m, s->opt->n);
    if (slots >= 2) get_f32s(c, s->opt->v, s->opt->n);
    return DNN_OK;
}

/* The best epoch's weights: the model to score, or early stopping's copy in a run to continue. */
static dnn_status read_best(decoder *d, rcur *c)
{
    dnn_net *net = d->m->net;
    if ((size_t)c->n != (net->n_params + net->n_state) * 4)
        return corrupt(d->err, d->name, "the BEST section has the wrong size");
    if (!d->s || !d->have[S_TRAI]) {
        get_f32s(c, net->params, net->n_params);
        get_f32s(c, net->state, net->n_state);
    } else if (!d->s->best_params) { /* the state keeps no best epoch: one in the file is unexpected */
        return corrupt(d->err, d->name, "the best epoch's weights are missing or unexpected");
    } else {
        get_f32s(c, d->s->best_params, net->n_params + net->n_state);
    }
    return DNN_OK;
}

/* Every section, in the order they are read (each may use what the ones before it decoded). */
static const struct {
    char tag[5];
    int required, training; /* must be present; read only for a run to continue */
    section_reader read;
} SECTIONS[N_SECTIONS] = {
    [S_MODL] = {"MODL", 1, 0, read_modl}, [S_CONF] = {"CONF", 1, 0, read_conf},
    [S_META] = {"META", 1, 0, read_meta}, [S_NORM] = {"NORM", 1, 0, read_norm},
    [S_IMPU] = {"IMPU", 1, 0, read_impu}, [S_PARA] = {"PARA", 1, 0, read_para},
    [S_NSTA] = {"NSTA", 1, 0, read_nsta}, [S_TRAI] = {"TRAI", 0, 1, read_trai},
    [S_OPTM] = {"OPTM", 0, 1, read_optm}, [S_BEST] = {"BEST", 0, 0, read_best},
};

/* The header, the length and the checksum, before anything else is read. */
static dnn_status check_frame(const char *name, const uint8_t *buf, size_t len, uint32_t *count,
                              dnn_error *err)
{
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0)
        return dnn_fail(err, DNN_EIO,
                        "%s: not a dnn checkpoint (it does not start with the checkpoint magic bytes)", name);
    if (len < HEADER + TRAILER)
        return dnn_fail(err, DNN_EIO, "%s: truncated checkpoint: %zu bytes, less than a header", name, len);
    rcur h = {buf, len, 8, 0};
    uint32_t version = get_u32(&h);
    *count = get_u32(&h);
    uint64_t total = get_u64(&h);
    if (version != DNN_CHECKPOINT_VERSION)
        return dnn_fail(err, DNN_EIO, "%s: checkpoint format version %u, but this dnn reads version %d", name,
                        version, DNN_CHECKPOINT_VERSION);
    if (total != len)
        return dnn_fail(err, DNN_EIO,
                        "%s: truncated or extended checkpoint: its header says %llu bytes, the file has %zu",
                        name, (unsigned long long)total, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < len - TRAILER;) {
        size_t chunk = len - TRAILER - off > (1u << 30) ? (1u << 30) : len - TRAILER - off;
        crc = crc32(crc, buf + off, (uInt)chunk);
        off += chunk;
    }
    rcur tail = {buf, len, len - TRAILER, 0};
    uint32_t stored = get_u32(&tail);
    if (stored != (uint32_t)crc)
        return dnn_fail(err, DNN_EIO,
                        "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupted", name,
                        stored, (unsigned)crc);
    return DNN_OK;
}

/* Where each section is: once each, all of the file between the header and the checksum, none missing. */
static dnn_status index_sections(decoder *d, const uint8_t *buf, size_t len, uint32_t count, rcur *sec)
{
    rcur all = {buf, len - TRAILER, HEADER, 0};
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *tag = take(&all, 4);
        get_u32(&all);
        uint64_t n = get_u64(&all);
        if (all.bad || n > all.n - all.at)
            return corrupt(d->err, d->name, "a section runs past the end of the file");
        int k;
        for (k = 0; k < N_SECTIONS; k++)
            if (memcmp(tag, SECTIONS[k].tag, 4) == 0) break;
        if (k == N_SECTIONS) return corrupt(d->err, d->name, "unknown section");
        if (d->have[k]) return corrupt(d->err, d->name, "a section appears twice");
        d->have[k] = 1;
        sec[k] = (rcur){buf + all.at, (size_t)n, 0, 0};
        all.at += (size_t)n;
    }
    if (all.at != all.n) return corrupt(d->err, d->name, "unexpected bytes after the last section");
    for (int k = 0; k < N_SECTIONS; k++)
        if (SECTIONS[k].required && !d->have[k]) {
            char what[64];
            snprintf(what, sizeof what, "the %.4s section is missing", SECTIONS[k].tag);
            return corrupt(d->err, d->name, what);
        }
    if (d->have[S_TRAI] != d->have[S_OPTM])
        return corrupt(d->err, d->name, "half of the training state is missing");
    return DNN_OK;
}

dnn_status dnn_checkpoint_decode(const char *name, const uint8_t *buf, size_t len, size_t max_memory,
                                 dnn_model *m, dnn_train_state *s, dnn_error *err)
{
    memset(m, 0, sizeof *m);
    if (s) memset(s, 0, sizeof *s);
    uint32_t count = 0;
    decoder d = {.name = name, .max_memory = max_memory, .m = m, .s = s, .err = err};
    rcur sec[N_SECTIONS] = {{0}};
    dnn_status st = check_frame(name, buf, len, &count, err);
    if (!st) st = index_sections(&d, buf, len, count, sec);
    if (st) return st;
    /* a run to continue when the caller asks for one and the file holds one; else the model to score */
    const int training = s && d.have[S_TRAI];
    for (int k = 0; k < N_SECTIONS && !st; k++) {
        if (!d.have[k] || (SECTIONS[k].training && !training)) continue;
        st = SECTIONS[k].read(&d, &sec[k]);
        if (!st && (sec[k].bad || sec[k].at != sec[k].n)) {
            char what[64];
            snprintf(what, sizeof what, "the %.4s section has the wrong size", SECTIONS[k].tag);
            st = corrupt(err, name, what);
        }
    }
    /* early stopping's copy of the best weights is in the file exactly when the state says there is one */
    if (!st && training && d.have[S_BEST] != (s->best_params != NULL && s->best_epoch > 0))
        st = corrupt(err, name, "the best epoch's weights are missing or unexpected");
    if (st) {
        if (s) dnn_train_state_free(s);
        dnn_model_free(m);
    }
    return st;
}

dnn_status dnn_checkpoint_load(const char *path, size_t max_memory, dnn_model *m, dnn_train_state *s,
                               dnn_error *err)
{
    char *buf;
    size_t len;
    memset(m, 0, sizeof *m);
    dnn_status st = dnn_read_file(path, SIZE_MAX / 2, &buf, &len, err);
    if (st) return st;
    st = dnn_checkpoint_decode(path, (const uint8_t *)buf, len, max_memory, m, s, err);
    free(buf);
    return st;
}
