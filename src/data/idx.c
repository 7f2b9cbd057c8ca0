/* IDX reader. The header's claims are checked against the file before anything is allocated, and a gzip
 * body grows its buffer only as data really arrives, so a lying header cannot make us allocate. */
#include "dnn/idx.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dnn/util.h"

/* deflate cannot expand data by more than about 1032:1 */
#define MAX_DEFLATE_RATIO 1032u

const char *dnn_idx_type_name(int type)
{
    switch (type) {
    case DNN_IDX_U8: return "u8";
    case DNN_IDX_I8: return "i8";
    case DNN_IDX_I16: return "i16";
    case DNN_IDX_I32: return "i32";
    case DNN_IDX_F32: return "f32";
    case DNN_IDX_F64: return "f64";
    default: return NULL;
    }
}

size_t dnn_idx_type_size(int type)
{
    switch (type) {
    case DNN_IDX_U8:
    case DNN_IDX_I8: return 1;
    case DNN_IDX_I16: return 2;
    case DNN_IDX_I32:
    case DNN_IDX_F32: return 4;
    default: return 8;
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read up to n bytes; returns the count read, or -1 on a decompression error. */
static long long read_some(gzFile f, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        int r = gzread(f, (char *)buf + done, (unsigned)chunk);
        if (r < 0) return -1;
        if (r == 0) break;
        done += (size_t)r;
    }
    return (long long)done;
}

static dnn_status gz_failure(gzFile f, const char *path, const char *what, dnn_error *err)
{
    int errnum;
    const char *msg = gzerror(f, &errnum);
    if (errnum == Z_ERRNO)
        return dnn_fail(err, DNN_EIO, "%s: read error in %s: %s", path, what, strerror(errno));
    if (errnum == Z_BUF_ERROR) return dnn_fail(err, DNN_EDATA, "%s: truncated gzip stream in %s", path, what);
    return dnn_fail(err, DNN_EDATA, "%s: corrupt gzip data in %s: %s", path, what,
                    msg && *msg ? msg : "unknown error");
}

/* Convert n big-endian elements of type into floats. */
void dnn_idx_to_float(int type, const uint8_t *raw, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = raw + i * dnn_idx_type_size(type);
        switch (type) {
        case DNN_IDX_I8: out[i] = (float)(int8_t)q[0]; break;
        case DNN_IDX_I16: out[i] = (float)(int16_t)((uint16_t)(q[0] << 8 | q[1])); break;
        case DNN_IDX_I32: out[i] = (float)(int32_t)be32(q); break;
        case DNN_IDX_F32: {
            uint32_t u = be32(q);
            float f;
            memcpy(&f, &u, 4);
            out[i] = f;
            break;
        }
        default: {
            uint64_t u = (uint64_t)be32(q) << 32 | be32(q + 4);
            double d;
            memcpy(&d, &u, 8);
            out[i] = (float)d;
            break;
        }
        }
    }
}

/* Read and check the header (magic, element type, dimensions) from f, filling out's type, ndim, dims, count,
 * item and header. *elems is the product of the dimensions. */
static dnn_status read_header(gzFile f, const char *path, dnn_idx *out, size_t *elems_out, dnn_error *err)
{
    const char *where = out->gzip ? " (after decompression)" : "";
    uint8_t magic[4];
    long long r = read_some(f, magic, 4);
    if (r < 0) return gz_failure(f, path, "the header", err);
    if (r < 4)
        return dnn_fail(err, DNN_EDATA, "%s: truncated header: %lld of the 4 magic bytes%s", path, r, where);
    if (magic[0] != 0 || magic[1] != 0)
        return dnn_fail(
            err, DNN_EDATA,
            "%s: byte 0: bad magic 0x%02x%02x%02x%02x (an IDX file starts with two zero bytes, a type "
            "byte and a dimension count)",
            path, magic[0], magic[1], magic[2], magic[3]);
    out->type = magic[2];
    out->ndim = magic[3];
    if (!dnn_idx_type_name(out->type))
        return dnn_fail(
            err, DNN_EDATA,
            "%s: byte 2: unknown element type 0x%02x (expected 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d "
            "f32 or 0x0e f64)",
            path, out->type);
    if (out->ndim == 0)
        return dnn_fail(err, DNN_EDATA, "%s: byte 3: zero dimensions (expected at least 1: the item count)",
                        path);
    uint8_t dims[4 * 255];
    size_t dim_bytes = 4 * (size_t)out->ndim;
    r = read_some(f, dims, dim_bytes);
    if (r < 0) return gz_failure(f, path, "the header", err);
    out->header = 4 + dim_bytes;
    if ((size_t)r < dim_bytes)
        return dnn_fail(err, DNN_EDATA,
                        "%s: truncated header: %d dimensions need %zu bytes, the file%s has %lld", path,
                        out->ndim, out->header, where, 4 + r);
    size_t elems = 1;
    for (int i = 0; i < out->ndim; i++) {
        out->dims[i] = be32(dims + 4 * i);
        if (dnn_mul_size(elems, out->dims[i], &elems))
            return dnn_fail(err, DNN_EDATA, "%s: byte %d: dimensions overflow (their product exceeds %zu)",
                            path, 4 + 4 * i, (size_t)SIZE_MAX);
    }
    out->count = out->dims[0];
    out->item = out->count ? elems / out->count : 0;
    if (out->count == 0) {
        out->item = 1;
        for (int i = 1; i < out->ndim; i++) out->item *= out->dims[i] ? out->dims[i] : 1;
    }
    *elems_out = elems;
    return DNN_OK;
}

/* Open an IDX file, plain or gzip (told by content), and say which and how large it is on disk. */
static dnn_status open_idx(const char *path, dnn_idx *out, size_t *file_size, gzFile *f, dnn_error *err)
{
    FILE *probe = fopen(path, "rb");
    if (!probe) return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    unsigned char sig[2] = {0, 0};
    int ok = fstat(fileno(probe), &st) == 0 && S_ISREG(st.st_mode);
    size_t got_sig = ok ? fread(sig, 1, 2, probe) : 0;
    fclose(probe);
    if (!ok) return dnn_fail(err, DNN_EIO, "%s: not a regular file", path);
    *file_size = (size_t)st.st_size;
    out->gzip = got_sig == 2 && sig[0] == 0x1f && sig[1] == 0x8b;
    *f = gzopen(path, "rb");
    if (!*f) return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(*f, 1u << 17);
    return DNN_OK;
}

/* The header's claim against the file, before anything is allocated for it: a plain file must hold exactly
 * the claimed bytes; a gzip one cannot hold more than deflate's ratio allows. */
static dnn_status check_claim(const char *path, const dnn_idx *out, size_t bytes, size_t file_size,
                              dnn_error *err)
{
    if (out->gzip) {
        if (bytes / MAX_DEFLATE_RATIO > file_size)
            return dnn_fail(
                err, DNN_EDATA,
                "%s: the header claims %zu bytes of data, more than %zu compressed bytes can hold", path,
                bytes, file_size);
        return DNN_OK;
    }
    size_t body = file_size - out->header;
    if (bytes > body)
        return dnn_fail(err, DNN_EDATA,
                        "%s: truncated: the header claims %zu items (%zu bytes of data) but the file has %zu "
                        "bytes after the "
                        "%zu-byte header",
                        path, out->count, bytes, body, out->header);
    if (bytes < body)
        return dnn_fail(err, DNN_EDATA,
                        "%s: byte %zu: %zu bytes of unexpected data after the %zu items the header claims",
                        path, out->header + bytes, body - bytes, out->count);
    return DNN_OK;
}

/* The header, its data size, and that size checked against the file. */
static dnn_status checked_header(gzFile f, const char *path, dnn_idx *out, size_t file_size, size_t *elems,
                                 size_t *bytes, dnn_error *err)
{
    dnn_status rc = read_header(f, path, out, elems, err);
    if (!rc && dnn_mul_size(*elems, dnn_idx_type_size(out->type), bytes))
        rc = dnn_fail(err, DNN_EDATA, "%s: dimensions overflow: %zu elements of %zu bytes", path, *elems,
                      dnn_idx_type_size(out->type));
    return rc ? rc : check_claim(path, out, *bytes, file_size, err);
}

dnn_status dnn_idx_read_header(const char *path, dnn_idx *out, dnn_error *err)
{
    memset(out, 0, sizeof *out);
    size_t file_size, elems, bytes;
    gzFile f;
    dnn_status rc = open_idx(path, out, &file_size, &f, err);
    if (rc) return rc;
    rc = checked_header(f, path, out, file_size, &elems, &bytes, err);
    gzclose(f);
    return rc;
}

/* Read the claimed bytes, growing the buffer as data arrives (a gzip body's true size is only known at its
 * end), then on to the end, which verifies the gzip trailer's CRC and finds trailing data. */
static dnn_status read_body(gzFile f, const char *path, const dnn_idx *out, size_t bytes, uint8_t **raw_out,
                            dnn_error *err)
{
    const char *where = out->gzip ? " (after decompression)" : "";
    size_t cap = bytes < (1u << 24) ? bytes : (1u << 24), have = 0;
    uint8_t *raw = malloc(cap ? cap : 1);
    if (!raw) return dnn_fail_oom(err, path, cap);
    dnn_status rc = DNN_OK;
    long long r = 1;
    while (have < bytes && r > 0) {
        if (have == cap) {
            size_t ncap = cap > bytes / 2 ? bytes : cap * 2;
            uint8_t *p = realloc(raw, ncap);
            if (!p) {
                free(raw);
                return dnn_fail_oom(err, path, ncap);
            }
            raw = p, cap = ncap;
        }
        r = read_some(f, raw + have, cap - have);
        if (r < 0) rc = gz_failure(f, path, "the data", err);
        if (r > 0) have += (size_t)r;
    }
    int errnum = Z_OK;
    if (!rc && have < bytes) {
        gzerror(f, &errnum);
        if (errnum != Z_OK && errnum != Z_BUF_ERROR)
            rc = gz_failure(f, path, "the data", err);
        else
            rc = dnn_fail(
                err, DNN_EDATA,
                "%s: truncated%s: the header claims %zu items (%zu bytes of data), the file holds %zu "
                "bytes (%zu whole items)",
                path, out->gzip ? " gzip stream" : "", out->count, bytes, have,
                out->item ? have / (out->item * dnn_idx_type_size(out->type)) : 0);
    }
    uint8_t extra;
    if (!rc && (r = read_some(f, &extra, 1)) != 0)
        rc = r < 0 ? gz_failure(f, path, "the end of the stream", err)
                   : dnn_fail(err, DNN_EDATA,
                              "%s: byte %zu%s: unexpected data after the %zu items the header claims", path,
                              out->header + bytes, where, out->count);
    if (!rc && out->gzip && (gzerror(f, &errnum), errnum != Z_OK))
        rc = gz_failure(f, path, "the end of the stream", err);
    if (rc) {
        free(raw);
        return rc;
    }
    *raw_out = raw;
    return DNN_OK;
}

/* Keep u8 as it is; convert any other type to floats, which must be finite. */
static dnn_status convert(const char *path, dnn_idx *out, uint8_t *raw, size_t elems, dnn_error *err)
{
    if (out->type == DNN_IDX_U8) {
        out->u8 = raw;
        return DNN_OK;
    }
    out->f32 = malloc(elems ? elems * sizeof(float) : 1);
    if (!out->f32) {
        free(raw);
        return dnn_fail_oom(err, path, elems * sizeof(float));
    }
    dnn_idx_to_float(out->type, raw, elems, out->f32);
    free(raw);
    for (size_t i = 0; i < elems; i++)
        if (!isfinite(out->f32[i]))
            return dnn_fail(err, DNN_EDATA, "%s: byte %zu: element %zu is not a finite number", path,
                            out->header + i * dnn_idx_type_size(out->type), i);
    return DNN_OK;
}

dnn_status dnn_idx_read(const char *path, size_t max_memory, dnn_idx *out, dnn_error *err)
{
    memset(out, 0, sizeof *out);
    size_t file_size, elems, bytes;
    gzFile f;
    dnn_status rc = open_idx(path, out, &file_size, &f, err);
    if (rc) return rc;
    uint8_t *raw = NULL;
    rc = checked_header(f, path, out, file_size, &elems, &bytes, err);
    if (!rc) rc = dnn_idx_check_budget(path, out, max_memory, err);
    if (!rc) rc = read_body(f, path, out, bytes, &raw, err);
    gzclose(f);
    if (!rc) rc = convert(path, out, raw, elems, err);
    if (rc) dnn_idx_free(out);
    return rc;
}

dnn_status dnn_idx_check_budget(const char *path, const dnn_idx *h, size_t max_memory, dnn_error *err)
{
    double bytes = (double)h->count * (double)h->item;
    double need =
        h->type == DNN_IDX_U8 ? bytes : bytes * ((double)dnn_idx_type_size(h->type) + sizeof(float));
    if (need <= (double)dnn_memory_budget(max_memory)) return DNN_OK;
    char a[32], b[32];
    return dnn_fail(
        err, DNN_EDATA,
        "%s: %zu items take %s in memory, more than the memory limit of %s (%s); a training source too "
        "large for memory can stream (\"stream\": true)",
        path, h->count, dnn_format_bytes(need, a, sizeof a),
        dnn_format_bytes((double)dnn_memory_budget(max_memory), b, sizeof b),
        dnn_memory_budget_source(max_memory));
}

/* ---- items one after another, for streaming ---- */

struct dnn_idx_items {
    gzFile f;
    const char *path;
    size_t item_bytes;
    uint64_t next, count, header;
    int gzip;
};

dnn_status dnn_idx_items_open(dnn_idx_items **out, const char *path, const dnn_idx *h, uint64_t first,
                              dnn_error *err)
{
    *out = NULL;
    dnn_idx_items *it = calloc(1, sizeof *it);
    if (!it) return dnn_fail_oom(err, path, sizeof *it);
    *it = (dnn_idx_items){.path = path,
                          .item_bytes = h->item * dnn_idx_type_size(h->type),
                          .next = first,
                          .count = h->count,
                          .header = h->header,
                          .gzip = h->gzip};
    it->f = gzopen(path, "rb");
    if (!it->f) {
        free(it);
        return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    gzbuffer(it->f, 1u << 17);
    dnn_status st = dnn_idx_items_seek(it, first, err);
    if (st) {
        dnn_idx_items_close(it);
        return st;
    }
    *out = it;
    return DNN_OK;
}

dnn_status dnn_idx_items_seek(dnn_idx_items *it, uint64_t first, dnn_error *err)
{
    /* zlib seeks a plain file; in a gzip one it inflates forward, or from the start to go back */
    if (gzseek(it->f, (z_off_t)(it->header + first * it->item_bytes), SEEK_SET) < 0) {
        dnn_status st = gz_failure(it->f, it->path, "the data", err);
        return st ? st
                  : dnn_fail(err, DNN_EDATA, "%s: cannot reach item %llu", it->path,
                             (unsigned long long)first);
    }
    it->next = first;
    return DNN_OK;
}

dnn_status dnn_idx_items_read(dnn_idx_items *it, void *raw, size_t n, dnn_error *err)
{
    size_t want = n * it->item_bytes;
    long long r = read_some(it->f, raw, want);
    if (r < 0) return gz_failure(it->f, it->path, "the data", err);
    if ((size_t)r < want)
        return dnn_fail(err, DNN_EDATA,
                        "%s: byte %llu: truncated%s: item %llu of the %llu the header claims is not "
                        "all there (did the file change while training?)",
                        it->path, (unsigned long long)(it->header + it->next * it->item_bytes),
                        it->gzip ? " gzip stream" : "",
                        (unsigned long long)(it->next + (size_t)r / it->item_bytes),
                        (unsigned long long)it->count);
    it->next += n;
    return DNN_OK;
}

void dnn_idx_items_close(dnn_idx_items *it)
{
    if (!it) return;
    if (it->f) gzclose(it->f);
    free(it);
}

/* ---- IDX data sets: images and their labels ---- */

/* Labels of an IDX file: integers for classification (one per item), numbers for regression. */
static dnn_status idx_labels(dnn_dataset *ds, const char *path, size_t max_memory, const dnn_idx *im,
                             dnn_task task, dnn_error *err)
{
    dnn_idx lb;
    dnn_status st = dnn_idx_read(path, max_memory, &lb, err);
    if (st) return st;
    if (lb.count != im->count) {
        st = dnn_fail(err, DNN_EDATA, "%s: %zu labels for the %zu images of %s (the counts must match)", path,
                      lb.count, im->count, ds->source);
        goto done;
    }
    if (task == DNN_TASK_CLASSIFICATION) {
        if (lb.item != 1 || !(lb.type == DNN_IDX_U8 || lb.type == DNN_IDX_I8 || lb.type == DNN_IDX_I16 ||
                              lb.type == DNN_IDX_I32)) {
            st = dnn_fail(err, DNN_EDATA,
                          "%s: expected one integer class label per item, got %zu %s value(s) per item", path,
                          lb.item, dnn_idx_type_name(lb.type));
            goto done;
        }
        ds->y = malloc(lb.count * sizeof(int32_t) + 1);
        if (!ds->y) {
            st = dnn_fail_oom(err, path, lb.count * sizeof(int32_t));
            goto done;
        }
        const size_t stride = lb.type == DNN_IDX_I16 ? 2 : lb.type == DNN_IDX_I32 ? 4 : 1;
        for (size_t i = 0; i < lb.count; i++) {
            double v = lb.u8 ? lb.u8[i] : lb.f32[i];
            /* no model has 2^24 classes; refusing here also keeps the conversion to int defined */
            if (v < 0 || v >= 16777216.0) {
                st = dnn_fail(err, DNN_EDATA, "%s: byte %zu: label %.0f of item %zu is %s", path,
                              lb.header + i * stride, v, i,
                              v < 0 ? "negative (classes count from 0)" : "too large to be a class index");
                goto done;
            }
            ds->y[i] = (int32_t)v;
        }
        ds->label_offset = lb.header;
        ds->label_stride = stride;
    } else {
        size_t n;
        if (lb.item > 1u << 20 || dnn_mul_size(lb.count, lb.item, &n)) {
            st = dnn_fail(err, DNN_EDATA, "%s: %zu targets per item is too many", path, lb.item);
            goto done;
        }
        ds->t = malloc(n * sizeof(float) + 1);
        if (!ds->t) {
            st = dnn_fail_oom(err, path, n * sizeof(float));
            goto done;
        }
        for (size_t i = 0; i < n; i++) ds->t[i] = lb.u8 ? lb.u8[i] : lb.f32[i];
        ds->n_targets = (int)lb.item;
    }
    ds->label_source = dnn_strdup(path);
    if (!ds->label_source) st = dnn_fail_oom(err, path, strlen(path));
done:
    dnn_idx_free(&lb);
    return st;
}

dnn_shape dnn_idx_shape(const dnn_idx *im)
{
    const uint32_t *d = im->dims;
    if (im->ndim == 3 && d[1] <= INT32_MAX && d[2] <= INT32_MAX) return (dnn_shape){1, (int)d[1], (int)d[2]};
    if (im->ndim == 4 && d[1] <= INT32_MAX && d[2] <= INT32_MAX && d[3] <= INT32_MAX)
        return (dnn_shape){(int)d[1], (int)d[2], (int)d[3]};
    return (dnn_shape){im->item <= INT32_MAX ? (int)im->item : 0, 1, 1};
}

dnn_status dnn_idx_load(dnn_dataset *ds, const dnn_source_config *src, dnn_task task, const dnn_schema *sc,
                        dnn_error *err)
{
    dnn_idx im;
    dnn_status st = dnn_idx_read(src->images, src->max_memory, &im, err);
    if (st) return st;
    ds->source = dnn_strdup(src->images);
    if (!ds->source) {
        dnn_idx_free(&im);
        return dnn_fail_oom(err, "a path", strlen(src->images));
    }
    if (im.count == 0 || im.item == 0) {
        dnn_idx_free(&im);
        return dnn_fail(err, DNN_EDATA, "%s: no data (%zu items of %zu values)", src->images, im.count,
                        im.item);
    }
    if (im.item > INT32_MAX) {
        dnn_idx_free(&im);
        return dnn_fail(err, DNN_EDATA, "%s: %zu values per item is more than a network input can take",
                        src->images, im.item);
    }
    ds->n = im.count;
    ds->d = ds->d_num = im.item;
    ds->shape = dnn_idx_shape(&im);
    if (im.u8) {
        ds->dtype = DNN_U8;
        ds->x8 = im.u8;
        ds->max_value = 255.0f;
    } else {
        ds->dtype = DNN_F32;
        ds->x32 = im.f32;
        ds->max_value = im.type == DNN_IDX_I8    ? 127.0f
                        : im.type == DNN_IDX_I16 ? 32767.0f
                        : im.type == DNN_IDX_I32 ? 2147483647.0f
                                                 : 0.0f;
    }
    char *labels = src->labels ? dnn_strdup(src->labels) : dnn_idx_labels_path(src->images);
    if (!labels && sc && sc->labels_optional) {
        snprintf(
            ds->label_note, sizeof ds->label_note,
            "%s: no labels file (the name does not pair as *-images-idx3-ubyte -> *-labels-idx1-ubyte; give "
            "--labels): scoring in predict-only mode, without metrics",
            src->images);
        return DNN_OK;
    }
    if (!labels) {
        return dnn_fail(err, DNN_ECONFIG,
                        "%s: no labels file: its name does not pair as *-images-idx3-ubyte[.gz] -> "
                        "*-labels-idx1-ubyte[.gz], so give \"labels\"",
                        src->images);
    }
    if (!src->labels && sc && sc->labels_optional && access(labels, F_OK) != 0) {
        /* images without their paired labels file: scored for prediction only, as CSV without labels */
        snprintf(ds->label_note, sizeof ds->label_note,
                 "%s: no labels file %s: scoring in predict-only mode, without metrics", src->images, labels);
        free(labels);
        return DNN_OK;
    }
    st = idx_labels(ds, labels, src->max_memory, &im, task, err);
    free(labels);
    return st;
}

void dnn_idx_free(dnn_idx *idx)
{
    if (!idx) return;
    free(idx->u8);
    free(idx->f32);
    idx->u8 = NULL;
    idx->f32 = NULL;
}

char *dnn_idx_labels_path(const char *images)
{
    const char *base = strrchr(images, '/');
    base = base ? base + 1 : images;
    const char *im = strstr(base, "images");
    const char *i3 = strstr(base, "idx3");
    if (!im || !i3) return NULL;
    char *p = dnn_strdup(images);
    if (!p) return NULL;
    memcpy(p + (im - images), "labels", 6);
    memcpy(p + (i3 - images), "idx1", 4);
    return p;
}
