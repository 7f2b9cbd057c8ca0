/* IDX reader. The header's claims are checked against the file before anything is allocated, and a gzip
 * body grows its buffer only as data really arrives, so a lying header cannot make us allocate. */
#include "dnn/idx.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static size_t type_size(int type)
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
static void to_float(int type, const uint8_t *raw, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = raw + i * type_size(type);
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

dnn_status dnn_idx_read(const char *path, size_t max_memory, dnn_idx *out, dnn_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *probe = fopen(path, "rb");
    if (!probe) return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    unsigned char sig[2] = {0, 0};
    int ok = fstat(fileno(probe), &st) == 0 && S_ISREG(st.st_mode);
    size_t got_sig = ok ? fread(sig, 1, 2, probe) : 0;
    fclose(probe);
    if (!ok) return dnn_fail(err, DNN_EIO, "%s: not a regular file", path);
    const size_t file_size = (size_t)st.st_size;
    out->gzip = got_sig == 2 && sig[0] == 0x1f && sig[1] == 0x8b;

    gzFile f = gzopen(path, "rb");
    if (!f) return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(f, 1u << 17);
    dnn_status rc = DNN_OK;
    uint8_t *raw = NULL;
    const char *where = out->gzip ? " (after decompression)" : "";

    uint8_t magic[4];
    long long r = read_some(f, magic, 4);
    if (r < 0) {
        rc = gz_failure(f, path, "the header", err);
        goto fail;
    }
    if (r < 4) {
        rc = dnn_fail(err, DNN_EDATA, "%s: truncated header: %lld of the 4 magic bytes%s", path, r, where);
        goto fail;
    }
    if (magic[0] != 0 || magic[1] != 0) {
        rc = dnn_fail(
            err, DNN_EDATA,
            "%s: byte 0: bad magic 0x%02x%02x%02x%02x (an IDX file starts with two zero bytes, a type "
            "byte and a dimension count)",
            path, magic[0], magic[1], magic[2], magic[3]);
        goto fail;
    }
    out->type = magic[2];
    out->ndim = magic[3];
    if (!dnn_idx_type_name(out->type)) {
        rc = dnn_fail(
            err, DNN_EDATA,
            "%s: byte 2: unknown element type 0x%02x (expected 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d "
            "f32 or 0x0e f64)",
            path, out->type);
        goto fail;
    }
    if (out->ndim == 0) {
        rc = dnn_fail(err, DNN_EDATA, "%s: byte 3: zero dimensions (expected at least 1: the item count)",
                      path);
        goto fail;
    }
    uint8_t dims[4 * 255];
    size_t dim_bytes = 4 * (size_t)out->ndim;
    r = read_some(f, dims, dim_bytes);
    if (r < 0) {
        rc = gz_failure(f, path, "the header", err);
        goto fail;
    }
    out->header = 4 + dim_bytes;
    if ((size_t)r < dim_bytes) {
        rc = dnn_fail(err, DNN_EDATA,
                      "%s: truncated header: %d dimensions need %zu bytes, the file%s has %lld", path,
                      out->ndim, out->header, where, 4 + r);
        goto fail;
    }
    size_t elems = 1, bytes;
    for (int i = 0; i < out->ndim; i++) {
        out->dims[i] = be32(dims + 4 * i);
        if (dnn_mul_size(elems, out->dims[i], &elems)) {
            rc = dnn_fail(err, DNN_EDATA, "%s: byte %d: dimensions overflow (their product exceeds %zu)",
                          path, 4 + 4 * i, (size_t)SIZE_MAX);
            goto fail;
        }
    }
    out->count = out->dims[0];
    out->item = out->count ? elems / out->count : 0;
    if (out->count == 0) {
        out->item = 1;
        for (int i = 1; i < out->ndim; i++) out->item *= out->dims[i] ? out->dims[i] : 1;
    }
    if (dnn_mul_size(elems, type_size(out->type), &bytes)) {
        rc = dnn_fail(err, DNN_EDATA, "%s: dimensions overflow: %zu elements of %zu bytes", path, elems,
                      type_size(out->type));
        goto fail;
    }
    /* Check the claim against the file before allocating. */
    if (!out->gzip) {
        size_t body = file_size - out->header;
        if (bytes > body) {
            rc = dnn_fail(
                err, DNN_EDATA,
                "%s: truncated: the header claims %zu items (%zu bytes of data) but the file has %zu bytes "
                "after the %zu-byte header",
                path, out->count, bytes, body, out->header);
            goto fail;
        }
        if (bytes < body) {
            rc = dnn_fail(err, DNN_EDATA,
                          "%s: byte %zu: %zu bytes of unexpected data after the %zu items the header claims",
                          path, out->header + bytes, body - bytes, out->count);
            goto fail;
        }
    } else if (bytes / MAX_DEFLATE_RATIO > file_size) {
        rc = dnn_fail(err, DNN_EDATA,
                      "%s: the header claims %zu bytes of data, more than %zu compressed bytes can hold",
                      path, bytes, file_size);
        goto fail;
    }

    size_t need = out->type == DNN_IDX_U8 ? bytes : bytes + (bytes / type_size(out->type)) * sizeof(float);
    if (need > dnn_memory_budget(max_memory)) {
        char a[32], b[32];
        rc =
            dnn_fail(err, DNN_EDATA, "%s: %zu items take %s in memory, more than the memory limit of %s (%s)",
                     path, out->count, dnn_format_bytes((double)need, a, sizeof a),
                     dnn_format_bytes((double)dnn_memory_budget(max_memory), b, sizeof b),
                     dnn_memory_budget_source(max_memory));
        goto fail;
    }
    /* Read the body, growing the buffer as data arrives (a gzip body's true size is only known at its end).
     */
    size_t cap = bytes < (1u << 24) ? bytes : (1u << 24), have = 0;
    raw = malloc(cap ? cap : 1);
    if (!raw) {
        rc = dnn_fail_oom(err, path, cap);
        goto fail;
    }
    while (have < bytes) {
        if (have == cap) {
            size_t ncap = cap > bytes / 2 ? bytes : cap * 2;
            uint8_t *p = realloc(raw, ncap);
            if (!p) {
                rc = dnn_fail_oom(err, path, ncap);
                goto fail;
            }
            raw = p, cap = ncap;
        }
        r = read_some(f, raw + have, cap - have);
        if (r < 0) {
            rc = gz_failure(f, path, "the data", err);
            goto fail;
        }
        if (r == 0) break;
        have += (size_t)r;
    }
    if (have < bytes) {
        int errnum;
        gzerror(f, &errnum);
        if (errnum != Z_OK && errnum != Z_BUF_ERROR) {
            rc = gz_failure(f, path, "the data", err);
            goto fail;
        }
        rc = dnn_fail(
            err, DNN_EDATA,
            "%s: truncated%s: the header claims %zu items (%zu bytes of data), the file holds %zu bytes "
            "(%zu whole items)",
            path, out->gzip ? " gzip stream" : "", out->count, bytes, have,
            out->item ? have / (out->item * type_size(out->type)) : 0);
        goto fail;
    }
    /* Reading on to the end verifies the gzip trailer's CRC and finds trailing data. */
    uint8_t extra;
    r = read_some(f, &extra, 1);
    if (r < 0) {
        rc = gz_failure(f, path, "the end of the stream", err);
        goto fail;
    }
    if (r > 0) {
        rc = dnn_fail(err, DNN_EDATA, "%s: byte %zu%s: unexpected data after the %zu items the header claims",
                      path, out->header + bytes, where, out->count);
        goto fail;
    }
    if (out->gzip) {
        int errnum;
        gzerror(f, &errnum);
        if (errnum != Z_OK) {
            rc = gz_failure(f, path, "the end of the stream", err);
            goto fail;
        }
    }
    gzclose(f);
    f = NULL;

    if (out->type == DNN_IDX_U8) {
        out->u8 = raw;
        raw = NULL;
    } else {
        out->f32 = malloc(elems ? elems * sizeof(float) : 1);
        if (!out->f32) {
            rc = dnn_fail_oom(err, path, elems * sizeof(float));
            goto fail;
        }
        to_float(out->type, raw, elems, out->f32);
        for (size_t i = 0; i < elems; i++)
            if (!isfinite(out->f32[i])) {
                rc = dnn_fail(err, DNN_EDATA, "%s: byte %zu: element %zu is not a finite number", path,
                              out->header + i * type_size(out->type), i);
                goto fail;
            }
        free(raw);
        raw = NULL;
    }
    return DNN_OK;

fail:
    if (f) gzclose(f);
    free(raw);
    dnn_idx_free(out);
    return rc;
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
