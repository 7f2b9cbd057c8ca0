/* Streaming: the first pass (counts, classes, vocabularies, statistics, chunks, validation rows), then epochs
 * that re-read the chunks in a seeded order, DNN_STREAM_CYCLE at a time, through a shuffle buffer. Memory is
 * the buffer, the chunk table, the validation rows when they fit a quarter of the budget, and a reader per
 * open chunk: never the data. */
#include "dnn/stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "dnn/cache.h"
#include "dnn/csv.h"
#include "dnn/idx.h"
#include "dnn/stats.h"
#include "dnn/strtab.h"
#include "dnn/util.h"

#define CHUNK_ROWS 1024 /* rows per chunk of a seekable part: the grain of the epoch's order */

int dnn_stream_is_validation(uint64_t seed, double fraction, uint64_t ordinal)
{
    if (!(fraction > 0)) return 0;
    /* splitmix64's finaliser over the row number keyed by the seed: independent of how rows are read */
    uint64_t z = ordinal + 0x9E3779B97F4A7C15ull * (seed + 0x5851F42D4C957F2Dull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 < fraction;
}

/* A place the source can be read again from: a CSV record's position, or an IDX item. */
typedef struct {
    dnn_csv_pos pos; /* CSV */
    uint64_t first;  /* IDX: its first item */
    uint64_t rows;   /* rows it holds (as the reader returns them) */
    uint64_t train;  /* of which training rows */
} chunk;

/* A reader of rows from chunks: CSV text, IDX items, or the cache's rows. */
typedef struct {
    dnn_csv *csv;
    dnn_idx_items *img, *lab;
    unsigned char *raw; /* IDX: one item's bytes; cache: a block of rows */
    uint64_t item;      /* IDX, cache: the next row's number */
    uint64_t end;       /* cache: the chunk's end; rows raw holds: [block, block + in_block) */
    uint64_t block;
    size_t in_block;
} rowsrc;

#define CACHE_BLOCK 256 /* rows read from the cache at a time */

typedef struct {
    rowsrc rs;
    uint64_t left; /* rows left in its chunk */
    int active;
} slot;

/* Rows collected in memory while the first pass runs: numbers as read (NaN where missing), categorical
 * cells as hashes, classes in order of first appearance; coded when the vocabularies are known. */
typedef struct {
    float *x;
    uint8_t *x8;
    uint64_t *hash;
    int32_t *y;
    float *t;
    uint64_t *ordinal;
    size_t n, cap;
} rowstore;

struct dnn_stream {
    const dnn_source_config *src; /* &src_copy */
    dnn_source_config src_copy;   /* the caller's struct may move; the strings it points to may not */
    dnn_task task;
    dnn_stream_opts o;
    dnn_dataset info; /* what the first pass learnt; n = 0 */
    int cls;          /* classification */
    size_t k;         /* regression targets */
    /* IDX: the two files' headers */
    dnn_idx img_h, lab_h;
    char *labels_path;
    size_t img_bytes, lab_bytes; /* of one item */
    int32_t max_label;
    uint64_t max_label_item;
    /* the binary cache: written by the first pass over the text, or read instead of it */
    dnn_cache *cache;
    dnn_cache_writer *writer;
    int cache_use;
    /* the chunks */
    chunk *chunks;
    size_t n_chunks, cap_chunks;
    uint64_t rows, n_train, n_val;
    /* statistics of the training rows */
    dnn_welford *num, *tgt;
    uint64_t *train_missing;
    dnn_gk *med;
    dnn_level_counter *levels;
    int32_t *class_rank; /* first appearance -> sorted */
    /* validation rows: collected while they fit a quarter of the budget, then (CSV) spilled to a temporary
     * rows file, which validation reads; IDX validation reads its chunks */
    rowstore vstore;
    int val_in_memory;
    dnn_dataset val;
    dnn_cache_writer *vwriter;
    dnn_cache *vcache;
    char *vpath;
    rowsrc vrs;
    /* dealing */
    const dnn_encoding *enc;
    const dnn_impute *im;
    size_t batch, cap;    /* rows per batch; shuffle buffer rows */
    size_t local, first;  /* this process's rows of a batch, and where they start in it */
    dnn_dataset buf, one; /* the shuffle buffer; one row at a time (unshuffled, validation) */
    slot slots[DNN_STREAM_CYCLE];
    int cur;
    size_t *order, n_own, next_chunk;
    int shuffle, input_done;
    size_t fill;
    dnn_rng pick;
    uint64_t steps, dealt; /* batches per epoch (several processes: the same for all), dealt so far */
    slot vslot;
    size_t vchunk, val_at,
        val_end; /* validation rows in memory or spilled: this process's [val_at, val_end) */
};

static size_t row_bytes(const dnn_dataset *d, size_t k)
{
    return d->d_num * (d->dtype == DNN_U8 ? 1 : sizeof(float)) + (size_t)d->n_cat * sizeof(uint32_t) +
           (k ? k * sizeof(float) : sizeof(int32_t));
}

/* ---- rows held in memory ---- */

/* A data set of cap rows shaped like info, for the shuffle buffer and validation rows. */
static dnn_status holder_alloc(dnn_dataset *h, const dnn_dataset *info, int cls, size_t k, size_t cap,
                               dnn_error *err)
{
    memset(h, 0, sizeof *h);
    h->n = cap, h->d = info->d, h->d_num = info->d_num, h->dtype = info->dtype, h->n_cat = info->n_cat;
    h->max_value = info->max_value, h->n_targets = (int)k;
    size_t nx, nc, nt;
    if (dnn_mul_size(cap, h->d_num, &nx) || dnn_mul_size(cap, (size_t)h->n_cat, &nc) ||
        dnn_mul_size(cap, k, &nt) || nx > SIZE_MAX / sizeof(float))
        return dnn_fail(err, DNN_ECONFIG, "%s: %zu rows to hold are too many", info->source, cap);
    if (h->dtype == DNN_U8)
        h->x8 = malloc(nx + 1);
    else
        h->x32 = malloc(nx * sizeof(float) + 1);
    h->cat = malloc(nc * sizeof(uint32_t) + 1);
    h->cat_width = malloc(((size_t)h->n_cat + 1) * sizeof(int));
    if (cls) h->y = malloc(cap * sizeof(int32_t) + 1);
    if (k) h->t = malloc(nt * sizeof(float) + 1);
    if ((!h->x8 && !h->x32) || !h->cat || !h->cat_width || (cls && !h->y) || (k && !h->t))
        return dnn_fail_oom(err, info->source, cap * row_bytes(info, k));
    if (h->n_cat) memcpy(h->cat_width, info->cat_width, (size_t)h->n_cat * sizeof(int));
    return DNN_OK;
}

static void holder_copy(dnn_dataset *h, size_t to, size_t from)
{
    const size_t dn = h->d_num, nc = (size_t)h->n_cat, k = (size_t)h->n_targets;
    if (h->x8) memcpy(h->x8 + to * dn, h->x8 + from * dn, dn);
    if (h->x32) memcpy(h->x32 + to * dn, h->x32 + from * dn, dn * sizeof(float));
    memcpy(h->cat + to * nc, h->cat + from * nc, nc * sizeof(uint32_t));
    if (h->y) h->y[to] = h->y[from];
    if (h->t) memcpy(h->t + to * k, h->t + from * k, k * sizeof(float));
}

static void rowstore_free(rowstore *v)
{
    free(v->x);
    free(v->x8);
    free(v->hash);
    free(v->y);
    free(v->t);
    free(v->ordinal);
    memset(v, 0, sizeof *v);
}

/* Room for one more row; -1 when it would pass limit bytes (or memory runs out). */
static int rowstore_room(rowstore *v, const dnn_dataset *info, int cls, size_t k, size_t limit)
{
    if (v->n < v->cap) return 0;
    size_t cap = v->cap ? v->cap * 2 : 256;
    if ((double)cap * (double)(row_bytes(info, k) + 8 * (size_t)info->n_cat) > (double)limit) return -1;
    const size_t dn = info->d_num, nc = (size_t)info->n_cat;
    int ok = 1;
#define GROW(p, per)                                                                                         \
    do {                                                                                                     \
        void *q = realloc(p, cap * (per) + 1);                                                               \
        if (q) p = q;                                                                                        \
        ok &= q != NULL;                                                                                     \
    } while (0)
    if (info->dtype == DNN_U8)
        GROW(v->x8, dn);
    else
        GROW(v->x, dn * sizeof(float));
    if (nc) GROW(v->hash, nc * sizeof(uint64_t));
    if (cls) GROW(v->y, sizeof(int32_t));
    if (k) GROW(v->t, k * sizeof(float));
    GROW(v->ordinal, sizeof(uint64_t));
#undef GROW
    if (!ok) return -1;
    v->cap = cap;
    return 0;
}

/* ---- reading rows from a chunk ---- */

static void rowsrc_close(rowsrc *rs)
{
    dnn_csv_close(rs->csv);
    dnn_idx_items_close(rs->img);
    dnn_idx_items_close(rs->lab);
    free(rs->raw);
    memset(rs, 0, sizeof *rs);
}

/* An IDX label item as a class index or as targets (t NULL: a class). */
static dnn_status idx_label(dnn_stream *s, const unsigned char *raw, uint64_t item, int32_t *y, float *t,
                            dnn_error *err)
{
    float v[256];
    const float *lv = v;
    if (s->lab_h.type == DNN_IDX_U8) {
        for (size_t j = 0; j < s->lab_h.item && j < 256; j++) v[j] = raw[j];
    } else {
        dnn_idx_to_float(s->lab_h.type, raw, s->lab_h.item, v);
    }
    if (t) {
        for (size_t j = 0; j < s->k; j++) {
            if (!isfinite(lv[j]))
                return dnn_fail(err, DNN_EDATA,
                                "%s: byte %llu: target %zu of item %llu is not a finite number",
                                s->labels_path, (unsigned long long)(s->lab_h.header + item * s->lab_bytes),
                                j, (unsigned long long)item);
            t[j] = lv[j];
        }
        return DNN_OK;
    }
    if (v[0] < 0 || v[0] >= 16777216.0f)
        return dnn_fail(err, DNN_EDATA, "%s: byte %llu: label %.0f of item %llu is %s", s->labels_path,
                        (unsigned long long)(s->lab_h.header + item * s->lab_bytes), v[0],
                        (unsigned long long)item,
                        v[0] < 0 ? "negative (classes count from 0)" : "too large to be a class index");
    *y = (int32_t)v[0];
    return DNN_OK;
}

/* One IDX item's values into x8 or x (as floats, which must be finite). */
static dnn_status idx_values(dnn_stream *s, const unsigned char *raw, uint64_t item, uint8_t *x8, float *x,
                             dnn_error *err)
{
    const size_t d = s->img_h.item;
    if (x8) {
        memcpy(x8, raw, d);
        return DNN_OK;
    }
    dnn_idx_to_float(s->img_h.type, raw, d, x);
    for (size_t j = 0; j < d; j++)
        if (!isfinite(x[j]))
            return dnn_fail(err, DNN_EDATA, "%s: byte %llu: element %llu is not a finite number",
                            s->src->images,
                            (unsigned long long)(s->img_h.header + item * s->img_bytes +
                                                 j * dnn_idx_type_size(s->img_h.type)),
                            (unsigned long long)(item * d + j));
    return DNN_OK;
}

/* Rows [c->first, c->first + c->rows) of a rows file, read CACHE_BLOCK at a time. */
static dnn_status cache_seek(const dnn_cache *cache, rowsrc *rs, const chunk *c, dnn_error *err)
{
    const size_t rb = dnn_cache_row_bytes(dnn_cache_shape_of(cache));
    if (!rs->raw && !(rs->raw = malloc(CACHE_BLOCK * rb)))
        return dnn_fail_oom(err, "cache rows", CACHE_BLOCK * rb);
    rs->item = rs->block = c->first;
    rs->end = c->first + c->rows;
    rs->in_block = 0;
    return DNN_OK;
}

static dnn_status rowsrc_seek(dnn_stream *s, rowsrc *rs, const chunk *c, dnn_error *err)
{
    if (s->cache) return cache_seek(s->cache, rs, c, err);
    if (s->src->format == DNN_FORMAT_CSV) {
        if (!rs->csv) {
            dnn_status st = dnn_csv_open(&rs->csv, s->src, s->task, NULL, err);
            if (!st && s->cls && s->info.class_names)
                st = dnn_csv_set_classes(rs->csv, s->info.class_names, s->info.n_classes, err);
            if (st) return st;
        }
        return dnn_csv_seek(rs->csv, &c->pos, err);
    }
    rs->item = c->first;
    if (rs->img) { /* open already: go there */
        dnn_status st = dnn_idx_items_seek(rs->img, c->first, err);
        return st || !rs->lab ? st : dnn_idx_items_seek(rs->lab, c->first, err);
    }
    if (!rs->raw && !(rs->raw = malloc(s->img_bytes + s->lab_bytes + 1)))
        return dnn_fail_oom(err, s->src->images, s->img_bytes);
    dnn_status st = dnn_idx_items_open(&rs->img, s->src->images, &s->img_h, c->first, err);
    if (!st && s->labels_path) st = dnn_idx_items_open(&rs->lab, s->labels_path, &s->lab_h, c->first, err);
    return st;
}

/* The next row of the chunk rs is in, into row i of h (numbers filled from s->im, cells coded by s->enc). */
/* The next row of the cache, coded as rowsrc_read codes a parsed one. */
static dnn_status cache_read(dnn_stream *s, const dnn_cache *cache, rowsrc *rs, dnn_dataset *h, size_t i,
                             uint64_t *ordinal, dnn_error *err)
{
    const dnn_cache_shape *sh = dnn_cache_shape_of(cache);
    const size_t rb = dnn_cache_row_bytes(sh), dn = h->d_num, nc = (size_t)h->n_cat;
    if (rs->item >= rs->block + rs->in_block) {
        uint64_t left = rs->end - rs->item;
        rs->block = rs->item;
        rs->in_block = left < CACHE_BLOCK ? (size_t)left : CACHE_BLOCK;
        dnn_status st = dnn_cache_read(cache, rs->block, rs->in_block, rs->raw, err);
        if (st) return st;
    }
    dnn_cache_row row;
    dnn_cache_row_at(sh, rs->raw + (rs->item++ - rs->block) * rb, &row);
    float *x = h->x32 + i * dn;
    for (size_t j = 0; j < dn; j++) x[j] = isnan(row.x[j]) && s->im ? s->im->fill[j] : row.x[j];
    for (size_t c = 0; c < nc; c++) h->cat[i * nc + c] = dnn_catcol_code(&s->enc->cols[c], row.cat[c]);
    if (h->y) h->y[i] = s->class_rank ? s->class_rank[row.y] : row.y;
    if (h->t) memcpy(h->t + i * s->k, row.t, s->k * sizeof(float));
    *ordinal = row.ordinal;
    return DNN_OK;
}

static dnn_status rowsrc_read(dnn_stream *s, rowsrc *rs, dnn_dataset *h, size_t i, uint64_t *ordinal,
                              dnn_error *err)
{
    const size_t dn = h->d_num, nc = (size_t)h->n_cat;
    if (s->cache) return cache_read(s, s->cache, rs, h, i, ordinal, err);
    if (!rs->csv) {
        dnn_status st = dnn_idx_items_read(rs->img, rs->raw, 1, err);
        if (!st && rs->lab) st = dnn_idx_items_read(rs->lab, rs->raw + s->img_bytes, 1, err);
        if (!st)
            st = idx_values(s, rs->raw, rs->item, h->x8 ? h->x8 + i * dn : NULL,
                            h->x32 ? h->x32 + i * dn : NULL, err);
        if (!st && rs->lab)
            st = idx_label(s, rs->raw + s->img_bytes, rs->item, h->y ? &h->y[i] : NULL,
                           h->t ? h->t + i * s->k : NULL, err);
        *ordinal = rs->item++;
        return st;
    }
    const dnn_csv_row *row;
    dnn_status st = dnn_csv_next(rs->csv, &row, err);
    if (st) return st;
    if (!row)
        return dnn_fail(err, DNN_EDATA, "%s: fewer rows than the first pass counted: did the file change?",
                        s->info.source);
    float *x = h->x32 + i * dn;
    for (size_t j = 0; j < dn; j++) x[j] = isnan(row->x[j]) && s->im ? s->im->fill[j] : row->x[j];
    for (size_t c = 0; c < nc; c++) h->cat[i * nc + c] = dnn_catcol_code(&s->enc->cols[c], row->cat[c]);
    if (h->y) h->y[i] = row->y;
    if (h->t) memcpy(h->t + i * s->k, row->t, s->k * sizeof(float));
    *ordinal = row->ordinal;
    return DNN_OK;
}

/* ---- the first pass ---- */

static dnn_status add_chunk(dnn_stream *s, const chunk *c, dnn_error *err)
{
    if (s->n_chunks == s->cap_chunks) {
        size_t cap = s->cap_chunks ? s->cap_chunks * 2 : 256;
        chunk *p = realloc(s->chunks, cap * sizeof *p);
        if (!p) return dnn_fail_oom(err, "the chunk table", cap * sizeof *p);
        s->chunks = p, s->cap_chunks = cap;
    }
    s->chunks[s->n_chunks++] = *c;
    return DNN_OK;
}

static dnn_status stats_alloc(dnn_stream *s, dnn_error *err)
{
    const size_t dn = s->info.d_num;
    s->num = calloc(dn + 1, sizeof *s->num);
    s->train_missing = calloc(dn + 1, sizeof *s->train_missing);
    s->tgt = calloc(s->k + 1, sizeof *s->tgt);
    if (!s->num || !s->train_missing || !s->tgt) return dnn_fail_oom(err, "column statistics", dn * 48);
    if (s->o.missing == DNN_MISSING_MEDIAN) {
        if (!(s->med = calloc(dn + 1, sizeof *s->med))) return dnn_fail_oom(err, "medians", dn);
        for (size_t j = 0; j < dn; j++) {
            dnn_status st = dnn_gk_init(&s->med[j], DNN_MEDIAN_EPS, err);
            if (st) return st;
        }
    }
    return DNN_OK;
}

/* A training row's values into the statistics. */
static dnn_status count_train(dnn_stream *s, const float *x, const uint8_t *x8, const float *t,
                              dnn_error *err)
{
    const size_t dn = s->info.d_num;
    for (size_t j = 0; j < dn; j++) {
        double v = x8 ? x8[j] : x[j];
        if (isnan(v)) {
            s->train_missing[j]++;
            continue;
        }
        dnn_welford_add(&s->num[j], v);
        if (s->med) {
            dnn_status st = dnn_gk_add(&s->med[j], v, err);
            if (st) return st;
        }
    }
    for (size_t j = 0; t && j < s->k; j++) dnn_welford_add(&s->tgt[j], t[j]);
    s->n_train++;
    return DNN_OK;
}

/* Validation rows past a quarter of the budget go to a temporary rows file (in the cache's format), those
 * kept so far first. */
static dnn_status spill_val(dnn_stream *s, dnn_error *err)
{
    rowstore *v = &s->vstore;
    const size_t dn = s->info.d_num, nc = (size_t)s->info.n_cat;
    const char *dir = s->o.scratch ? s->o.scratch : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char name[64];
    snprintf(name, sizeof name, ".validation.tmp.%ld", (long)getpid());
    dnn_cache_shape sh = {(uint32_t)dn, (uint32_t)nc, (uint32_t)s->k};
    s->val_in_memory = 0;
    if (!(s->vpath = dnn_path_join(dir, name))) return dnn_fail_oom(err, name, 0);
    dnn_status st = dnn_cache_create(&s->vwriter, s->vpath, 0, &sh, err);
    for (size_t i = 0; !st && i < v->n; i++)
        st = dnn_cache_write(s->vwriter, v->x + i * dn, nc ? v->hash + i * nc : NULL, v->y ? v->y[i] : 0,
                             v->t ? v->t + i * s->k : NULL, v->ordinal[i], err);
    rowstore_free(v);
    return st;
}

/* A validation row: kept in memory while they fit a quarter of the budget, then spilled (CSV) or left in the
 * chunks for validation to read (IDX, whose chunks are cheap to read). */
static dnn_status keep_val(dnn_stream *s, const float *x, const uint8_t *x8, const uint64_t *hash, int32_t y,
                           const float *t, uint64_t ordinal, dnn_error *err)
{
    rowstore *v = &s->vstore;
    const size_t dn = s->info.d_num, nc = (size_t)s->info.n_cat;
    if (s->vwriter) return dnn_cache_write(s->vwriter, x, hash, y, t, ordinal, err);
    if (!s->val_in_memory) return DNN_OK;
    if (rowstore_room(v, &s->info, s->cls, s->k, dnn_memory_budget(s->o.max_memory) / 4)) {
        if (s->src->format == DNN_FORMAT_CSV) {
            dnn_status st = spill_val(s, err);
            return st ? st : dnn_cache_write(s->vwriter, x, hash, y, t, ordinal, err);
        }
        rowstore_free(v);
        s->val_in_memory = 0;
        return DNN_OK;
    }
    if (x8) memcpy(v->x8 + v->n * dn, x8, dn);
    if (x) memcpy(v->x + v->n * dn, x, dn * sizeof(float));
    if (nc && hash) memcpy(v->hash + v->n * nc, hash, nc * sizeof(uint64_t));
    if (v->y) v->y[v->n] = y;
    if (v->t) memcpy(v->t + v->n * s->k, t, s->k * sizeof(float));
    v->ordinal[v->n] = ordinal;
    v->n++;
    return DNN_OK;
}

/* The spilled validation rows, ready to read. */
static dnn_status finish_spill(dnn_stream *s, dnn_error *err)
{
    if (!s->vwriter) return DNN_OK;
    cJSON *t = cJSON_CreateObject();
    dnn_status st = t ? dnn_cache_finish(s->vwriter, t, err) : dnn_fail_oom(err, s->vpath, 0);
    s->vwriter = NULL;
    cJSON_Delete(t);
    int usable = 0;
    if (!st) st = dnn_cache_open(&s->vcache, s->vpath, 0, &usable, err);
    if (!st && !usable)
        st = dnn_fail(err, DNN_EIO, "%s: the validation rows just written do not read back", s->vpath);
    return st;
}

/* Count a row into the chunks: a new chunk starts when the last is full (fixed: every CHUNK_ROWS rows, as a
 * seekable file allows) or, with by_part, when the row is in another part. */
static dnn_status chunk_row(dnn_stream *s, const chunk *at, int fixed, int by_part, int val, dnn_error *err)
{
    chunk *c = s->n_chunks ? &s->chunks[s->n_chunks - 1] : NULL;
    if (!c || (by_part && c->pos.part != at->pos.part) || (fixed && c->rows == CHUNK_ROWS)) {
        dnn_status st = add_chunk(s, at, err);
        if (st) return st;
        c = &s->chunks[s->n_chunks - 1];
    }
    c->rows++;
    c->train += !val;
    s->rows++;
    return DNN_OK;
}

static dnn_status scan_csv_info(dnn_stream *s, dnn_csv *r, dnn_error *err)
{
    const dnn_csv_info *in = dnn_csv_info_of(r);
    s->info.source = dnn_strdup(in->source);
    s->info.d = s->info.d_num = (size_t)in->d_num;
    s->info.n_cat = in->n_cat;
    s->info.dtype = DNN_F32;
    s->k = s->cls || !in->labelled ? 0 : (size_t)in->k;
    s->info.n_targets = (int)s->k;
    if (!s->info.source) return dnn_fail_oom(err, in->source, 0);
    if (!in->labelled) return dnn_fail(err, DNN_EDATA, "%s: no label column to train on", in->source);
    dnn_status st = stats_alloc(s, err);
    if (!st && in->n_cat) {
        s->levels = calloc((size_t)in->n_cat, sizeof *s->levels);
        if (!s->levels) return dnn_fail_oom(err, in->source, (size_t)in->n_cat);
        int cap = dnn_levels_cap(s->src->max_categories > 0 ? s->src->max_categories : 32);
        for (int j = 0; j < in->n_cat && !st; j++) st = dnn_levels_init(&s->levels[j], cap, err);
    }
    return st;
}

static dnn_status scan_csv_rows(dnn_stream *s, dnn_csv *r, dnn_error *err)
{
    const dnn_csv_info *in = dnn_csv_info_of(r);
    dnn_status st = DNN_OK;
    const dnn_csv_row *row;
    while (!st && !(st = dnn_csv_next(r, &row, err)) && row) {
        const int val = dnn_stream_is_validation(s->o.seed, s->o.validation_split, row->ordinal);
        /* the text's chunks: a gzip part whole, a plain one cut; or, when a cache is written, its rows */
        chunk at = {{row->part, row->offset, row->line, row->ordinal}, s->rows, 0, 0};
        st = s->writer ? chunk_row(s, &at, 1, 0, val, err)
                       : chunk_row(s, &at, !in->parts[row->part].gzip, 1, val, err);
        for (int j = 0; !st && j < in->n_cat; j++)
            st = dnn_levels_add(&s->levels[j], row->cat_text[j], row->cat_len[j], row->cat[j], err);
        if (!st && s->writer)
            st = dnn_cache_write(s->writer, row->x, row->cat, row->y, row->t, row->ordinal, err);
        if (!st && val) {
            s->n_val++;
            st = keep_val(s, row->x, NULL, row->cat, row->y, row->t, row->ordinal, err);
        } else if (!st) {
            st = count_train(s, row->x, NULL, s->k ? row->t : NULL, err);
        }
    }
    return st;
}

/* What a CSV source's first pass leaves: names, classes sorted (with the map from their order of first
 * appearance), vocabularies, missing counts. */
static dnn_status scan_csv_finish(dnn_stream *s, dnn_csv *r, dnn_error *err)
{
    const dnn_csv_info *in = dnn_csv_info_of(r);
    dnn_dataset *ds = &s->info;
    const size_t ncol = ds->d_num + (size_t)ds->n_cat;
    ds->missing = malloc((ncol + 1) * sizeof(size_t));
    if (!ds->missing) return dnn_fail_oom(err, in->source, ncol);
    memcpy(ds->missing, in->missing, ncol * sizeof(size_t));
    for (size_t j = 0; j < ncol; j++) ds->missing_cells += ds->missing[j];
    ds->dropped_label = in->dropped_label;
    ds->dropped_feature = in->dropped_feature;
    snprintf(ds->header_note, sizeof ds->header_note, "%s", in->header_note);
    if (s->cls) {
        ds->n_classes = in->n_classes;
        ds->class_names = dnn_strings_copy(in->class_names, (size_t)in->n_classes);
        s->class_rank = malloc(((size_t)in->n_classes + 1) * sizeof *s->class_rank);
        if (!ds->class_names || !s->class_rank)
            return dnn_fail_oom(err, "class names", (size_t)in->n_classes);
        dnn_status st = dnn_csv_sort_classes(ds->class_names, ds->n_classes, s->class_rank, err);
        if (st) return st;
    }
    if (ds->n_cat) {
        ds->enc = calloc(1, sizeof *ds->enc);
        if (ds->enc) ds->enc->cols = calloc((size_t)ds->n_cat, sizeof *ds->enc->cols);
        ds->cat_width = malloc((size_t)ds->n_cat * sizeof(int));
        if (!ds->enc || !ds->enc->cols || !ds->cat_width)
            return dnn_fail_oom(err, in->source, (size_t)ds->n_cat);
        int maxc = s->src->max_categories > 0 ? s->src->max_categories : 32;
        for (int j = 0; j < ds->n_cat; j++, ds->enc->n_cat++) {
            dnn_status st = dnn_catcol_fit(&ds->enc->cols[j], in->cat_names[j], in->cat_position[j],
                                           &s->levels[j], maxc, err);
            if (st) return st;
            ds->cat_width[j] = ds->enc->cols[j].n_levels;
        }
        ds->d += dnn_encoding_width(ds->enc);
        /* the counts served their purpose: the epochs need the vocabularies only */
        for (int j = 0; j < ds->n_cat; j++) dnn_levels_free(&s->levels[j]);
    }
    if (!in->has_header) return DNN_OK;
    ds->column_names = calloc(ncol + 1, sizeof(char *));
    if (!ds->column_names) return dnn_fail_oom(err, in->source, ncol);
    for (size_t j = 0; j < ncol; j++)
        if (!(ds->column_names[j] =
                  dnn_strdup(j < ds->d_num ? in->num_names[j] : in->cat_names[j - ds->d_num])))
            return dnn_fail_oom(err, in->source, ncol);
    ds->feature_names = dnn_encoding_names(ds->enc, in->num_names, ds->d_num);
    ds->label_names = dnn_strings_copy(in->label_names, (size_t)in->k);
    ds->n_labels = ds->label_names ? in->k : 0;
    if (s->k) ds->target_names = dnn_strings_copy(in->label_names, s->k);
    if (!ds->feature_names || !ds->label_names || (s->k && !ds->target_names))
        return dnn_fail_oom(err, in->source, ncol);
    return DNN_OK;
}

/* ---- the cache's trailer: what a first pass over it needs besides the rows ---- */

static cJSON *strings_json(char *const *v, size_t n)
{
    return v ? cJSON_CreateStringArray((const char *const *)v, (int)n) : cJSON_CreateNull();
}

/* Names, classes in order of first appearance (the rows' class numbers), vocabularies, missing counts. */
static cJSON *trailer_of(const dnn_stream *s, const dnn_csv_info *in)
{
    const dnn_dataset *ds = &s->info;
    cJSON *j = cJSON_CreateObject(), *lv = cJSON_CreateArray(), *pos = cJSON_CreateArray(),
          *miss = cJSON_CreateArray();
    if (!j || !lv || !pos || !miss) {
        cJSON_Delete(j), cJSON_Delete(lv), cJSON_Delete(pos), cJSON_Delete(miss);
        return NULL;
    }
    cJSON_AddStringToObject(j, "source", ds->source);
    cJSON_AddBoolToObject(j, "has_header", in->has_header);
    cJSON_AddStringToObject(j, "header_note", ds->header_note);
    cJSON_AddItemToObject(j, "num_names", strings_json(in->num_names, (size_t)in->d_num));
    cJSON_AddItemToObject(j, "cat_names", strings_json(in->cat_names, (size_t)in->n_cat));
    cJSON_AddItemToObject(j, "label_names", strings_json(in->label_names, (size_t)in->k));
    cJSON_AddItemToObject(j, "classes", strings_json(in->class_names, (size_t)in->n_classes));
    for (int c = 0; c < ds->n_cat; c++) {
        cJSON_AddItemToArray(lv, strings_json(ds->enc->cols[c].levels, (size_t)ds->enc->cols[c].n_levels));
        cJSON_AddItemToArray(pos, cJSON_CreateNumber(in->cat_position[c]));
    }
    cJSON_AddItemToObject(j, "levels", lv);
    cJSON_AddItemToObject(j, "cat_position", pos);
    for (size_t c = 0; c < ds->d_num + (size_t)ds->n_cat; c++)
        cJSON_AddItemToArray(miss, cJSON_CreateNumber((double)ds->missing[c]));
    cJSON_AddItemToObject(j, "missing", miss);
    cJSON_AddNumberToObject(j, "dropped_label", (double)ds->dropped_label);
    cJSON_AddNumberToObject(j, "dropped_feature", (double)ds->dropped_feature);
    return j;
}

static dnn_status scan_csv(dnn_stream *s, uint64_t key, dnn_error *err)
{
    dnn_csv *r;
    dnn_status st = dnn_csv_open(&r, s->src, s->task, NULL, err);
    if (st) return st;
    st = scan_csv_info(s, r, err);
    const dnn_csv_info *in = dnn_csv_info_of(r);
    dnn_cache_shape sh = {(uint32_t)in->d_num, (uint32_t)in->n_cat, (uint32_t)s->k};
    if (!st && s->o.cache) st = dnn_cache_create(&s->writer, s->o.cache, key, &sh, err);
    if (!st) st = scan_csv_rows(s, r, err);
    if (!st) st = scan_csv_finish(s, r, err);
    if (!st && s->writer) {
        cJSON *t = trailer_of(s, dnn_csv_info_of(r));
        st = t ? dnn_cache_finish(s->writer, t, err) : dnn_fail_oom(err, s->o.cache, 0);
        s->writer = NULL;
        s->cache_use = 1;
        cJSON_Delete(t);
        /* the epochs read the rows just written, as a later run will */
        int usable = 0;
        if (!st) st = dnn_cache_open(&s->cache, s->o.cache, key, &usable, err);
        if (!st && !usable)
            st = dnn_fail(err, DNN_EIO, "%s: the cache just written does not read back", s->o.cache);
    }
    dnn_cache_abort(s->writer); /* an error stopped it: no half cache */
    s->writer = NULL;
    dnn_csv_close(r);
    return st;
}

/* ---- a first pass over the cache instead of the text ---- */

static char **strings_from(const cJSON *a, size_t n, int *ok)
{
    if (cJSON_IsNull(a) || !a) return NULL;
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n) {
        *ok = 0;
        return NULL;
    }
    char **v = calloc(n + 1, sizeof *v);
    size_t i = 0;
    for (const cJSON *e = a->child; v && e; e = e->next, i++)
        if (!cJSON_IsString(e) || !(v[i] = dnn_strdup(e->valuestring))) {
            dnn_strings_free(v, i);
            *ok = 0;
            return NULL;
        }
    if (!v) *ok = 0;
    return v;
}

/* The vocabularies the trailer holds ("levels", "cat_position"): the rows' categorical cells are coded by
 * them. */
static int cache_levels(dnn_stream *s, const cJSON *t, char *const *cat, dnn_error *err)
{
    dnn_dataset *ds = &s->info;
    const size_t nc = (size_t)ds->n_cat;
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(t, "levels"),
                *pos = cJSON_GetObjectItemCaseSensitive(t, "cat_position");
    if ((size_t)cJSON_GetArraySize(lv) != nc || (size_t)cJSON_GetArraySize(pos) != nc || (nc && !cat))
        return 0;
    if (!nc) return 1;
    ds->enc = calloc(1, sizeof *ds->enc);
    if (ds->enc) ds->enc->cols = calloc(nc, sizeof *ds->enc->cols);
    ds->cat_width = malloc(nc * sizeof(int));
    if (!ds->enc || !ds->enc->cols || !ds->cat_width) return 0;
    const cJSON *l = lv->child, *p = pos->child;
    for (size_t c = 0; c < nc; c++, l = l->next, p = p->next, ds->enc->n_cat++) {
        int n = cJSON_IsArray(l) ? cJSON_GetArraySize(l) : 0, good = 1;
        char **levels = n > 0 ? strings_from(l, (size_t)n, &good) : NULL;
        int ok = good && levels && cJSON_IsNumber(p) &&
                 !dnn_catcol_make(&ds->enc->cols[c], cat[c], (int)p->valuedouble, levels, n, err);
        dnn_strings_free(levels, levels ? (size_t)n : 0);
        if (!ok) return 0;
        ds->cat_width[c] = n;
    }
    ds->d += dnn_encoding_width(ds->enc);
    return 1;
}

/* The counts the trailer holds: missing cells per column, dropped rows, and how the header was read. */
static int cache_counts(dnn_dataset *ds, const cJSON *t, size_t ncol)
{
    const cJSON *miss = cJSON_GetObjectItemCaseSensitive(t, "missing"),
                *note = cJSON_GetObjectItemCaseSensitive(t, "header_note");
    ds->missing = calloc(ncol + 1, sizeof(size_t));
    if (!ds->missing || !cJSON_IsArray(miss) || (size_t)cJSON_GetArraySize(miss) != ncol) return 0;
    size_t j = 0;
    for (const cJSON *m = miss->child; m; m = m->next, j++)
        ds->missing_cells += ds->missing[j] = (size_t)m->valuedouble;
    ds->dropped_label = (size_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "dropped_label"));
    ds->dropped_feature =
        (size_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "dropped_feature"));
    if (cJSON_IsString(note)) snprintf(ds->header_note, sizeof ds->header_note, "%s", note->valuestring);
    return 1;
}

/* Names from the header, when the file had one. */
static int cache_names(dnn_stream *s, char *const *num, char *const *cat, char *const *lab)
{
    dnn_dataset *ds = &s->info;
    const size_t dn = ds->d_num, ncol = dn + (size_t)ds->n_cat, nl = s->k ? s->k : 1;
    if (!num || !lab) return 0;
    ds->column_names = calloc(ncol + 1, sizeof(char *));
    for (size_t c = 0; ds->column_names && c < ncol; c++)
        if (!(ds->column_names[c] = dnn_strdup(c < dn ? num[c] : cat[c - dn]))) return 0;
    ds->feature_names = dnn_encoding_names(ds->enc, num, dn);
    ds->label_names = dnn_strings_copy(lab, nl);
    ds->n_labels = ds->label_names ? (int)nl : 0;
    if (s->k) ds->target_names = dnn_strings_copy(lab, s->k);
    return ds->column_names && ds->feature_names && ds->label_names && (!s->k || ds->target_names);
}

/* The first pass's findings as the trailer has them. */
static dnn_status cache_info(dnn_stream *s, dnn_error *err)
{
    const cJSON *t = dnn_cache_trailer(s->cache);
    const dnn_cache_shape *sh = dnn_cache_shape_of(s->cache);
    dnn_dataset *ds = &s->info;
    const size_t dn = sh->d_num, nc = sh->n_cat, nl = sh->k ? sh->k : 1;
    ds->source = dnn_strdup(s->src->path);
    ds->d = ds->d_num = dn, ds->n_cat = (int)nc, ds->dtype = DNN_F32;
    s->k = sh->k, ds->n_targets = (int)sh->k;
    int ok = 1, hdr = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "has_header"));
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(t, "classes");
    char **num = strings_from(cJSON_GetObjectItemCaseSensitive(t, "num_names"), dn, &ok),
         **cat = strings_from(cJSON_GetObjectItemCaseSensitive(t, "cat_names"), nc, &ok),
         **lab = strings_from(cJSON_GetObjectItemCaseSensitive(t, "label_names"), nl, &ok);
    ds->n_classes = s->cls && cJSON_IsArray(cls) ? cJSON_GetArraySize(cls) : 0;
    ds->class_names = s->cls ? strings_from(cls, (size_t)ds->n_classes, &ok) : NULL;
    ok = ok && ds->source && (!s->cls || ds->n_classes > 0) && cache_counts(ds, t, dn + nc) &&
         cache_levels(s, t, cat, err) && (!hdr || cache_names(s, num, cat, lab));
    dnn_status st = ok ? stats_alloc(s, err) : DNN_OK;
    if (ok && !st && s->cls) {
        s->class_rank = malloc(((size_t)ds->n_classes + 1) * sizeof *s->class_rank);
        st = s->class_rank ? dnn_csv_sort_classes(ds->class_names, ds->n_classes, s->class_rank, err)
                           : dnn_fail_oom(err, "class names", (size_t)ds->n_classes);
    }
    dnn_strings_free(num, num ? dn : 0);
    dnn_strings_free(cat, cat ? nc : 0);
    dnn_strings_free(lab, lab ? nl : 0);
    if (!st && !ok)
        st = dnn_fail(err, DNN_EDATA, "%s: a damaged cache (its trailer): remove it to have it rebuilt",
                      dnn_cache_path(s->cache));
    return st;
}

/* The statistics, chunks and validation rows from the cache's rows, checking their CRC on the way. */
static dnn_status scan_cache(dnn_stream *s, dnn_error *err)
{
    dnn_status st = cache_info(s, err);
    const dnn_cache_shape *sh = dnn_cache_shape_of(s->cache);
    const size_t rb = dnn_cache_row_bytes(sh), rows = (size_t)dnn_cache_rows(s->cache);
    unsigned char *block = st ? NULL : malloc(CACHE_BLOCK * rb);
    if (!st && !block) st = dnn_fail_oom(err, "cache rows", CACHE_BLOCK * rb);
    for (size_t at = 0; !st && at < rows; at += CACHE_BLOCK) {
        size_t n = rows - at < CACHE_BLOCK ? rows - at : CACHE_BLOCK;
        if ((st = dnn_cache_read(s->cache, at, n, block, err))) break;
        dnn_cache_crc_add(s->cache, block, n);
        for (size_t i = 0; !st && i < n; i++) {
            dnn_cache_row row;
            dnn_cache_row_at(sh, block + i * rb, &row);
            if (s->cls && (row.y < 0 || row.y >= s->info.n_classes)) {
                st = dnn_fail(err, DNN_EDATA, "%s: a damaged cache (a class out of range at row %zu)",
                              dnn_cache_path(s->cache), at + i);
                break;
            }
            const int val = dnn_stream_is_validation(s->o.seed, s->o.validation_split, row.ordinal);
            chunk c = {{0}, at + i, 0, 0};
            st = chunk_row(s, &c, 1, 0, val, err);
            if (!st && val) {
                s->n_val++;
                st = keep_val(s, row.x, NULL, row.cat, row.y, row.t, row.ordinal, err);
            } else if (!st) {
                st = count_train(s, row.x, NULL, row.t, err);
            }
        }
    }
    free(block);
    if (!st) st = dnn_cache_crc_check(s->cache, err);
    return st;
}

/* IDX: the headers of the images and their labels; the values are read by the pass. */
static dnn_status scan_idx_headers(dnn_stream *s, dnn_error *err)
{
    const dnn_source_config *src = s->src;
    dnn_status st = dnn_idx_read_header(src->images, &s->img_h, err);
    if (st) return st;
    if (s->img_h.count == 0 || s->img_h.item == 0)
        return dnn_fail(err, DNN_EDATA, "%s: no data (%zu items of %zu values)", src->images, s->img_h.count,
                        s->img_h.item);
    if (s->img_h.item > INT32_MAX)
        return dnn_fail(err, DNN_EDATA, "%s: %zu values per item is more than a network input can take",
                        src->images, s->img_h.item);
    s->labels_path = src->labels ? dnn_strdup(src->labels) : dnn_idx_labels_path(src->images);
    if (!s->labels_path)
        return dnn_fail(err, DNN_ECONFIG,
                        "%s: no labels file: its name does not pair as *-images-idx3-ubyte[.gz] -> "
                        "*-labels-idx1-ubyte[.gz], so give \"labels\"",
                        src->images);
    if ((st = dnn_idx_read_header(s->labels_path, &s->lab_h, err))) return st;
    if (s->lab_h.count != s->img_h.count)
        return dnn_fail(err, DNN_EDATA, "%s: %zu labels for the %zu images of %s (the counts must match)",
                        s->labels_path, s->lab_h.count, s->img_h.count, src->images);
    int integer = s->lab_h.type == DNN_IDX_U8 || s->lab_h.type == DNN_IDX_I8 ||
                  s->lab_h.type == DNN_IDX_I16 || s->lab_h.type == DNN_IDX_I32;
    if (s->cls && (s->lab_h.item != 1 || !integer))
        return dnn_fail(err, DNN_EDATA,
                        "%s: expected one integer class label per item, got %zu %s value(s) per item",
                        s->labels_path, s->lab_h.item, dnn_idx_type_name(s->lab_h.type));
    if (!s->cls && (s->lab_h.item > 256))
        return dnn_fail(err, DNN_EDATA, "%s: %zu targets per item is too many", s->labels_path,
                        s->lab_h.item);
    s->k = s->cls ? 0 : s->lab_h.item;
    s->img_bytes = s->img_h.item * dnn_idx_type_size(s->img_h.type);
    s->lab_bytes = s->lab_h.item * dnn_idx_type_size(s->lab_h.type);
    dnn_dataset *ds = &s->info;
    ds->source = dnn_strdup(src->images);
    ds->label_source = dnn_strdup(s->labels_path);
    ds->d = ds->d_num = s->img_h.item;
    ds->shape = dnn_idx_shape(&s->img_h);
    ds->n_targets = (int)s->k;
    const int t = s->img_h.type;
    ds->dtype = t == DNN_IDX_U8 ? DNN_U8 : DNN_F32;
    ds->max_value = t == DNN_IDX_U8    ? 255.0f
                    : t == DNN_IDX_I8  ? 127.0f
                    : t == DNN_IDX_I16 ? 32767.0f
                    : t == DNN_IDX_I32 ? 2147483647.0f
                                       : 0.0f;
    ds->label_offset = s->lab_h.header;
    ds->label_stride = s->lab_bytes;
    if (!ds->source || !ds->label_source) return dnn_fail_oom(err, src->images, 0);
    return stats_alloc(s, err);
}

static dnn_status scan_idx(dnn_stream *s, dnn_error *err)
{
    dnn_status st = scan_idx_headers(s, err);
    if (st) return st;
    rowsrc rs = {0};
    dnn_dataset one;
    s->max_label = -1;
    chunk start = {{0}, 0, 0, 0};
    if (!(st = holder_alloc(&one, &s->info, s->cls, s->k, 1, err))) st = rowsrc_seek(s, &rs, &start, err);
    const int seekable = !s->img_h.gzip && !s->lab_h.gzip;
    for (uint64_t i = 0; !st && i < s->img_h.count; i++) {
        uint64_t ordinal;
        if ((st = rowsrc_read(s, &rs, &one, 0, &ordinal, err))) break;
        const int val = dnn_stream_is_validation(s->o.seed, s->o.validation_split, ordinal);
        chunk at = {{0}, i, 0, 0};
        if ((st = chunk_row(s, &at, seekable, 0, val, err))) break;
        if (one.y && one.y[0] > s->max_label) s->max_label = one.y[0], s->max_label_item = i;
        if (val) {
            s->n_val++;
            st = keep_val(s, one.x32, one.x8, NULL, one.y ? one.y[0] : 0, one.t, ordinal, err);
        } else {
            st = count_train(s, one.x32, one.x8, one.t, err);
        }
    }
    rowsrc_close(&rs);
    dnn_dataset_free(&one);
    return st;
}

/* A CSV source: its cache when one matches, else its text (writing a cache when asked to). */
static dnn_status scan_source(dnn_stream *s, dnn_error *err)
{
    if (s->src->format == DNN_FORMAT_IDX) return scan_idx(s, err);
    uint64_t key = 0;
    if (s->o.cache) {
        dnn_part *parts;
        int n, usable;
        char *const one[] = {s->src->path};
        dnn_status st = dnn_parts_find(s->src->paths ? s->src->paths : one,
                                       s->src->paths ? s->src->n_paths : 1, &parts, &n, err);
        if (st) return st;
        key = dnn_cache_key(s->src, s->task, parts, n);
        dnn_parts_free(parts, n);
        if ((st = dnn_cache_open(&s->cache, s->o.cache, key, &usable, err))) return st;
        if (usable) {
            s->cache_use = 2;
            return scan_cache(s, err);
        }
    }
    return scan_csv(s, key, err);
}

int dnn_stream_cache_use(const dnn_stream *s)
{
    return s->cache_use;
}

dnn_status dnn_stream_open(dnn_stream **out, const dnn_source_config *src, dnn_task task,
                           const dnn_stream_opts *o, dnn_error *err)
{
    *out = NULL;
    dnn_stream *s = calloc(1, sizeof *s);
    if (!s) return dnn_fail_oom(err, "a stream", sizeof *s);
    s->src_copy = *src;
    s->src = &s->src_copy, s->task = task, s->o = *o;
    if (s->o.ranks < 1) s->o.ranks = 1, s->o.rank = 0;
    s->cls = task == DNN_TASK_CLASSIFICATION;
    s->val_in_memory = 1;
    dnn_status st = DNN_OK;
    if (src->format == DNN_FORMAT_CSV && strcmp(src->path, "-") == 0)
        st = dnn_fail(err, DNN_ECONFIG, "standard input cannot be streamed: it can be read only once");
    if (!st) st = scan_source(s, err);
    if (!st) st = finish_spill(s, err);
    if (!st && s->n_train == 0)
        st = dnn_fail(err, DNN_EDATA, "%s: no training rows (%llu rows, all for validation or dropped)",
                      s->info.source, (unsigned long long)s->rows);
    if (st) {
        dnn_stream_close(s);
        return st;
    }
    *out = s;
    return DNN_OK;
}

const dnn_dataset *dnn_stream_info(const dnn_stream *s)
{
    return &s->info;
}

void dnn_stream_counts(const dnn_stream *s, uint64_t *rows, uint64_t *train, uint64_t *val, size_t *chunks)
{
    if (rows) *rows = s->rows;
    if (train) *train = s->n_train;
    if (val) *val = s->n_val;
    if (chunks) *chunks = s->n_chunks;
}

int32_t dnn_stream_max_label(const dnn_stream *s, char *where, size_t n)
{
    if (where && n)
        snprintf(where, n, "%s: byte %llu: label of item %llu", s->labels_path ? s->labels_path : "",
                 (unsigned long long)(s->lab_h.header + s->max_label_item * s->lab_bytes),
                 (unsigned long long)s->max_label_item);
    return s->src->format == DNN_FORMAT_IDX ? s->max_label : -1;
}

dnn_status dnn_stream_fit(const dnn_stream *s, dnn_missing policy, dnn_norm_kind kind, dnn_impute *im,
                          dnn_norm *nm, dnn_error *err)
{
    const dnn_dataset *ds = &s->info;
    const size_t dn = ds->d_num;
    memset(im, 0, sizeof *im);
    im->d = ds->d;
    im->fill = calloc(ds->d + 1, sizeof(float));
    if (!im->fill) return dnn_fail_oom(err, "imputation values", ds->d * sizeof(float));
    dnn_status st = DNN_OK;
    for (size_t j = 0; !st && j < dn && ds->missing; j++) {
        if (!ds->missing[j] || s->num[j].n == 0) continue;
        double median = 0.0;
        if (policy == DNN_MISSING_MEAN) im->fill[j] = (float)s->num[j].mean;
        if (policy != DNN_MISSING_MEDIAN) continue;
        if (!s->med) /* the first pass keeps medians when its options ask for them */
            st = dnn_fail(err, DNN_EINTERNAL, "%s: column %zu: no median was kept", ds->source, j + 1);
        else if (!(st = dnn_gk_query(&s->med[j], 0.5, &median, err)))
            im->fill[j] = (float)median;
    }
    if (!st) st = dnn_norm_init(nm, ds->d, (int)s->k, err);
    if (st) {
        dnn_impute_free(im);
        return st;
    }
    for (size_t j = 0; j < dn; j++) {
        /* the training rows' statistics after imputation, as the data in memory would have them */
        dnn_welford w = dnn_welford_with(s->num[j], (double)s->train_missing[j], im->fill[j]);
        if (kind == DNN_NORM_SCALE && ds->max_value > 0) {
            nm->mul[j] = 1.0f / ds->max_value;
        } else if (kind == DNN_NORM_SCALE && w.n > 0) {
            nm->shift[j] = (float)w.min;
            nm->mul[j] = w.max > w.min ? (float)(1.0 / (w.max - w.min)) : 1.0f;
        } else if (kind == DNN_NORM_STANDARDIZE && w.n > 0) {
            double sd = sqrt(dnn_welford_var(&w));
            nm->shift[j] = (float)w.mean;
            nm->mul[j] = sd > 1e-12 * (fabs(w.mean) + 1.0) ? (float)(1.0 / sd) : 1.0f;
        }
    }
    for (size_t j = 0; j < s->k; j++) {
        double sd = sqrt(dnn_welford_var(&s->tgt[j]));
        nm->tshift[j] = (float)s->tgt[j].mean;
        nm->tmul[j] = sd > 1e-12 * (fabs(s->tgt[j].mean) + 1.0) ? (float)(1.0 / sd) : 1.0f;
    }
    return DNN_OK;
}

/* ---- dealing batches ---- */

/* The validation rows kept by the first pass, coded and filled as training rows are. */
static dnn_status build_val(dnn_stream *s, dnn_error *err)
{
    rowstore *v = &s->vstore;
    dnn_status st = holder_alloc(&s->val, &s->info, s->cls, s->k, v->n, err);
    if (st) return st;
    const size_t dn = s->info.d_num, nc = (size_t)s->info.n_cat;
    for (size_t i = 0; i < v->n; i++) {
        if (v->x8) memcpy(s->val.x8 + i * dn, v->x8 + i * dn, dn);
        for (size_t j = 0; v->x && j < dn; j++) {
            float x = v->x[i * dn + j];
            s->val.x32[i * dn + j] = isnan(x) && s->im ? s->im->fill[j] : x;
        }
        for (size_t c = 0; c < nc; c++)
            s->val.cat[i * nc + c] = dnn_catcol_code(&s->enc->cols[c], v->hash[i * nc + c]);
        if (s->val.y) s->val.y[i] = s->class_rank ? s->class_rank[v->y[i]] : v->y[i];
        if (s->val.t) memcpy(s->val.t + i * s->k, v->t + i * s->k, s->k * sizeof(float));
    }
    rowstore_free(v);
    return DNN_OK;
}

/* The next training row of the epoch into row i of h: from the open chunks in turn, opening the next chunk of
 * the order in a slot that has finished; validation rows are read and passed over. *got is 0 at the end. */
static dnn_status next_input(dnn_stream *s, dnn_dataset *h, size_t i, int *got, dnn_error *err)
{
    const int cycle = s->shuffle ? DNN_STREAM_CYCLE : 1;
    *got = 0;
    for (;;) {
        slot *sl = NULL;
        for (int tries = 0; tries < cycle && !sl; tries++) {
            slot *c = &s->slots[s->cur];
            if (!c->active && s->next_chunk < s->n_own) {
                const chunk *ch = &s->chunks[s->order[s->next_chunk++]];
                dnn_status st = rowsrc_seek(s, &c->rs, ch, err);
                if (st) return st;
                c->left = ch->rows;
                c->active = c->left > 0;
            }
            if (c->active)
                sl = c;
            else
                s->cur = (s->cur + 1) % cycle;
        }
        if (!sl) return DNN_OK;
        uint64_t ordinal;
        dnn_status st = rowsrc_read(s, &sl->rs, h, i, &ordinal, err);
        if (st) return st;
        sl->active = --sl->left > 0;
        s->cur = (s->cur + 1) % cycle;
        if (dnn_stream_is_validation(s->o.seed, s->o.validation_split, ordinal)) continue;
        *got = 1;
        return DNN_OK;
    }
}

static void gather_one(const dnn_stream *s, const dnn_dataset *h, size_t j, const dnn_norm *nm, float *x,
                       int32_t *y, float *t, size_t i)
{
    uint32_t r = (uint32_t)j;
    dnn_gather(h, nm, &r, 1, x + i * h->d, y ? y + i : NULL, t ? t + i * s->k : NULL);
}

/* One row of the batch: tf.data's shuffle, a uniform pick among the buffer's rows, whose slot then takes the
 * next input row; without shuffling, the rows in order. *got is 0 after the last. */
static dnn_status deal_row(dnn_stream *s, const dnn_norm *nm, float *x, int32_t *y, float *t, size_t i,
                           int *got, dnn_error *err)
{
    dnn_status st;
    if (!s->shuffle) {
        if ((st = next_input(s, &s->one, 0, got, err)) || !*got) return st;
        if (x) gather_one(s, &s->one, 0, nm, x, y, t, i);
        return DNN_OK;
    }
    int more = 1;
    while (!s->input_done && s->fill < s->cap) {
        if ((st = next_input(s, &s->buf, s->fill, &more, err))) return st;
        if (more)
            s->fill++;
        else
            s->input_done = 1;
    }
    *got = s->fill > 0;
    if (!*got) return DNN_OK;
    size_t j = (size_t)dnn_rng_below(&s->pick, s->fill);
    if (x) gather_one(s, &s->buf, j, nm, x, y, t, i);
    more = 0;
    if (!s->input_done && (st = next_input(s, &s->buf, j, &more, err))) return st;
    if (!more) { /* no row to take its place: the last one moves in */
        s->input_done = 1;
        if (j != s->fill - 1) holder_copy(&s->buf, j, s->fill - 1);
        s->fill--;
    }
    return DNN_OK;
}

static dnn_status st_next(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t,
                          dnn_batch_rows *r, dnn_error *err)
{
    dnn_stream *s = b->impl;
    *r = (dnn_batch_rows){0, 0, 0};
    if (s->steps && s->dealt == s->steps) return DNN_OK;
    size_t i = 0;
    for (int got = 1; i < s->local; i++) {
        dnn_status st = deal_row(s, nm, x, y, t, i, &got, err);
        if (st) return st;
        if (!got) break;
    }
    /* with several processes every batch is whole (steps counts them), each process's part of it its own */
    *r = (dnn_batch_rows){i, s->o.ranks > 1 ? s->batch : i, s->first};
    s->dealt += i > 0;
    return DNN_OK;
}

static dnn_status st_epoch(dnn_batches *b, dnn_rng *rng, int shuffle, size_t skip, dnn_error *err)
{
    dnn_stream *s = b->impl;
    s->shuffle = shuffle;
    for (size_t i = 0; i < s->n_own; i++) s->order[i] = s->o.rank + i * (size_t)s->o.ranks;
    if (shuffle) {
        /* the chunks' order, then a generator of its own for the buffer's picks */
        for (size_t i = s->n_own; i > 1; i--) {
            size_t j = (size_t)dnn_rng_below(rng, i), tmp = s->order[i - 1];
            s->order[i - 1] = s->order[j];
            s->order[j] = tmp;
        }
        dnn_rng_seed(&s->pick, dnn_rng_u64(rng), DNN_STREAM_SHUFFLE);
    }
    for (int c = 0; c < DNN_STREAM_CYCLE; c++) s->slots[c].active = 0;
    s->cur = 0, s->next_chunk = 0, s->fill = 0, s->input_done = 0, s->dealt = 0;
    /* an epoch resumed part way deals its first batches again, to nobody: the same rows stay in the buffer */
    for (size_t k = 0; k < skip; k++) {
        dnn_batch_rows r;
        dnn_status st = st_next(b, NULL, NULL, NULL, NULL, &r, err);
        if (st) return st;
        if (!r.total) break;
    }
    return DNN_OK;
}

static dnn_status st_val_begin(dnn_batches *b, dnn_error *err)
{
    dnn_stream *s = b->impl;
    /* every process kept or spilled all the validation rows: each scores its part of them (read from the
     * chunks, they are its own chunks') */
    size_t n = s->vcache ? (size_t)dnn_cache_rows(s->vcache) : s->val.n;
    dnn_batch_part(n, s->o.rank, s->o.ranks, &s->val_at, &s->val_end);
    s->vchunk = 0;
    s->vslot.active = 0;
    chunk part = {{0}, s->val_at, s->val_end - s->val_at, 0};
    return s->vcache ? cache_seek(s->vcache, &s->vrs, &part, err) : DNN_OK;
}

/* The next validation row: from the spilled rows, or read from the chunks in order. */
static dnn_status next_val_row(dnn_stream *s, int *got, dnn_error *err)
{
    *got = 0;
    if (s->vcache) {
        if (!(*got = s->vrs.item < s->vrs.end)) return DNN_OK;
        uint64_t ordinal;
        return cache_read(s, s->vcache, &s->vrs, &s->one, 0, &ordinal, err);
    }
    for (;;) {
        slot *sl = &s->vslot;
        while (!sl->active && s->vchunk < s->n_own) {
            const chunk *ch = &s->chunks[s->o.rank + s->vchunk++ * (size_t)s->o.ranks];
            if (ch->rows == ch->train) continue; /* no validation row in it */
            dnn_status st = rowsrc_seek(s, &sl->rs, ch, err);
            if (st) return st;
            sl->left = ch->rows;
            sl->active = 1;
        }
        if (!sl->active) return DNN_OK;
        uint64_t ordinal;
        dnn_status st = rowsrc_read(s, &sl->rs, &s->one, 0, &ordinal, err);
        if (st) return st;
        sl->active = --sl->left > 0;
        if (dnn_stream_is_validation(s->o.seed, s->o.validation_split, ordinal)) {
            *got = 1;
            return DNN_OK;
        }
    }
}

static dnn_status st_val_next(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t,
                              size_t *rows, dnn_error *err)
{
    dnn_stream *s = b->impl;
    size_t i = 0;
    for (int got = 1; i < s->local && got; i++) {
        if (s->val.n) {
            if (!(got = s->val_at < s->val_end)) break;
            gather_one(s, &s->val, s->val_at++, nm, x, y, t, i);
            continue;
        }
        dnn_status st = next_val_row(s, &got, err);
        if (st) return st;
        if (!got) break;
        gather_one(s, &s->one, 0, nm, x, y, t, i);
    }
    *rows = i;
    return DNN_OK;
}

/* The shuffle buffer's rows: data.shuffle_buffer (at most a quarter of the budget), else the default, or
 * fewer when an eighth of the budget holds fewer. */
static dnn_status buffer_rows(dnn_stream *s, size_t *cap, dnn_error *err)
{
    const double per = (double)row_bytes(&s->info, s->k), budget = (double)dnn_memory_budget(s->o.max_memory);
    if (s->o.shuffle_buffer > 0) {
        *cap = (size_t)s->o.shuffle_buffer;
        if ((double)*cap * per > budget / 4) {
            char a[32], c[32];
            return dnn_fail(
                err, DNN_ECONFIG,
                "data.shuffle_buffer: %zu rows of %.0f bytes take %s, more than a quarter of the memory "
                "limit (%s)",
                *cap, per, dnn_format_bytes((double)*cap * per, a, sizeof a),
                dnn_format_bytes(budget, c, sizeof c));
        }
        return DNN_OK;
    }
    double fit = budget / 8 / per;
    *cap = fit < DNN_SHUFFLE_BUFFER ? (fit < 1 ? 1 : (size_t)fit) : DNN_SHUFFLE_BUFFER;
    return DNN_OK;
}

/* How many batches each process deals an epoch: with several, the fewest whole parts any of them has, so
 * they step together (each part of a batch being dnn_batch_part's); alone, every row. */
static void share(dnn_stream *s, dnn_batches *b)
{
    const size_t R = (size_t)s->o.ranks, me = (size_t)s->o.rank;
    s->n_own = s->n_chunks > me ? (s->n_chunks - me + R - 1) / R : 0;
    size_t hi;
    dnn_batch_part(s->batch, (int)me, (int)R, &s->first, &hi);
    s->local = hi - s->first;
    uint64_t all_val = 0, least = UINT64_MAX;
    for (size_t r = 0; r < R; r++) {
        size_t lo, up;
        dnn_batch_part(s->batch, (int)r, (int)R, &lo, &up);
        uint64_t train = 0, local = up - lo;
        for (size_t c = r; c < s->n_chunks; c += R) {
            train += s->chunks[c].train;
            all_val += s->chunks[c].rows - s->chunks[c].train;
        }
        if (local && train / local < least) least = train / local;
    }
    s->steps = R > 1 ? least : 0;
    b->n_train = R > 1 ? s->steps * s->batch : s->n_train;
    b->n_val = all_val; /* all processes': each scores its part */
    b->rank = (int)me, b->ranks = (int)R;
}

dnn_status dnn_stream_start(dnn_stream *s, const dnn_encoding *enc, const dnn_impute *im, size_t batch,
                            dnn_batches *b, dnn_error *err)
{
    if ((enc ? enc->n_cat : 0) != s->info.n_cat)
        return dnn_fail(err, DNN_EDATA, "%s: %d categorical columns, but the model has %d", s->info.source,
                        s->info.n_cat, enc ? enc->n_cat : 0);
    s->enc = enc, s->im = im, s->batch = batch ? batch : 1;
    for (int c = 0; c < s->info.n_cat; c++) s->info.cat_width[c] = enc->cols[c].n_levels;
    s->info.d = s->info.d_num + dnn_encoding_width(enc);
    dnn_status st = s->val_in_memory && s->vstore.n ? build_val(s, err) : DNN_OK;
    if (!st) st = buffer_rows(s, &s->cap, err);
    if (!st) st = holder_alloc(&s->buf, &s->info, s->cls, s->k, s->cap, err);
    if (!st) st = holder_alloc(&s->one, &s->info, s->cls, s->k, 1, err);
    if (!st && !(s->order = malloc((s->n_chunks + 1) * sizeof *s->order)))
        st = dnn_fail_oom(err, "the chunk order", s->n_chunks * sizeof *s->order);
    if (st) return st;
    *b = (dnn_batches){.d = s->info.d,
                       .epoch = st_epoch,
                       .next = st_next,
                       .val_begin = st_val_begin,
                       .val_next = st_val_next,
                       .impl = s};
    share(s, b);
    /* a process without a whole part of a batch would make every process deal no batch at all */
    if (s->o.ranks > 1 && s->steps == 0)
        return dnn_fail(
            err, DNN_EDATA,
            "%s: streamed on %d processes, its %zu chunk%s leave%s some process fewer training rows "
            "than its part of a batch of %zu: each process reads whole chunks (a gzip file is "
            "one), so give the data as at least %d files (a glob of parts, or uncompressed)",
            s->info.source, s->o.ranks, s->n_chunks, s->n_chunks == 1 ? "" : "s", s->n_chunks == 1 ? "s" : "",
            s->batch, s->o.ranks);
    return DNN_OK;
}

size_t dnn_stream_bytes(const dnn_stream *s)
{
    size_t per = row_bytes(&s->info, s->k), readers = (DNN_STREAM_CYCLE + 1) * (2u << 16);
    size_t gk = 0;
    for (size_t j = 0; s->med && j < s->info.d_num; j++) gk += dnn_gk_bytes(&s->med[j]);
    return (s->cap + s->val.n + 1) * per + s->vstore.cap * (per + 8 * (size_t)s->info.n_cat) +
           s->cap_chunks * sizeof(chunk) + readers + gk;
}

void dnn_stream_close(dnn_stream *s)
{
    if (!s) return;
    for (int c = 0; c < DNN_STREAM_CYCLE; c++) rowsrc_close(&s->slots[c].rs);
    rowsrc_close(&s->vslot.rs);
    for (size_t j = 0; s->med && j < s->info.d_num; j++) dnn_gk_free(&s->med[j]);
    for (int j = 0; s->levels && j < s->info.n_cat; j++) dnn_levels_free(&s->levels[j]);
    dnn_dataset_free(&s->buf);
    dnn_dataset_free(&s->one);
    dnn_dataset_free(&s->val);
    dnn_dataset_free(&s->info);
    rowstore_free(&s->vstore);
    free(s->med);
    free(s->levels);
    free(s->num);
    free(s->tgt);
    free(s->train_missing);
    free(s->class_rank);
    free(s->chunks);
    free(s->order);
    free(s->labels_path);
    dnn_cache_close(s->cache);
    dnn_cache_abort(s->writer);
    dnn_cache_abort(s->vwriter);
    dnn_cache_close(s->vcache);
    rowsrc_close(&s->vrs);
    if (s->vpath) unlink(s->vpath); /* the spilled validation rows are the run's alone */
    free(s->vpath);
    free(s);
}
