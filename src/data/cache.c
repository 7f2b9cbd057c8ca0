/* The binary row cache: a header, fixed-size rows (8-byte aligned, the 64-bit fields first), a JSON trailer.
 * Written to a temporary file and renamed into place, so a run killed while writing leaves no cache rather
 * than half of one. */
#include "dnn/cache.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dnn/strtab.h"
#include "dnn/util.h"

enum { HEADER_BYTES = 64, VERSION = 1 };
static const char MAGIC[8] = {'D', 'N', 'N', 'R', 'O', 'W', 'S', 1};
static const uint32_t ORDER_MARK =
    0x01020304u; /* reads back otherwise on a machine of the other byte order */
#define MAX_TRAILER (256u << 20)

typedef struct {
    char magic[8];
    uint32_t version, order;
    uint64_t key;
    uint32_t d_num, n_cat, k, row_bytes;
    uint64_t rows, trailer_at;
    uint32_t crc, pad;
} header;
_Static_assert(sizeof(header) == HEADER_BYTES, "the cache header is 64 bytes");

size_t dnn_cache_row_bytes(const dnn_cache_shape *sh)
{
    size_t n = 8 + 8 * (size_t)sh->n_cat + 4 * (size_t)sh->d_num + 4 * (size_t)(sh->k ? sh->k : 1);
    return (n + 7) & ~(size_t)7;
}

void dnn_cache_row_at(const dnn_cache_shape *sh, const void *bytes, dnn_cache_row *row)
{
    const unsigned char *p = bytes;
    memcpy(&row->ordinal, p, 8);
    row->cat = (const uint64_t *)(const void *)(p + 8);
    row->x = (const float *)(const void *)(p + 8 + 8 * (size_t)sh->n_cat);
    const unsigned char *label = p + 8 + 8 * (size_t)sh->n_cat + 4 * (size_t)sh->d_num;
    row->t = sh->k ? (const float *)(const void *)label : NULL;
    if (!sh->k) memcpy(&row->y, label, 4);
}

/* ---- the key ---- */

typedef struct {
    char *s;
    size_t n, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int k = dnn_vsnprintf_c(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    size_t len = (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1;
    if (t->n + len + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap : 256) * 2 + len;
        char *s = realloc(t->s, cap);
        if (!s) return; /* a shorter key only costs a rebuild */
        t->s = s, t->cap = cap;
    }
    memcpy(t->s + t->n, buf, len);
    t->n += len;
    t->s[t->n] = '\0';
}

static void add_refs(text *t, const char *what, const dnn_colref *r, int n)
{
    add(t, "|%s:", what);
    for (int i = 0; i < n; i++)
        if (r[i].name)
            add(t, "n%zu:%.400s,", strlen(r[i].name), r[i].name);
        else
            add(t, "i%ld,", r[i].index);
}

uint64_t dnn_cache_key(const dnn_source_config *src, dnn_task task, const dnn_part *parts, int n_parts)
{
    text t = {0};
    add(&t, "dnn rows %d|task %d|header %d|delim %d|missing %d|maxcat %d|auto %d", VERSION, (int)task,
        src->header, src->delimiter, (int)src->missing, src->max_categories, src->categorical_auto);
    for (int i = 0; i < src->n_missing_values; i++) add(&t, "|mv:%.400s", src->missing_values[i]);
    add_refs(&t, "label", src->label, src->n_label);
    add_refs(&t, "features", src->features, src->n_features);
    add_refs(&t, "ignore", src->ignore, src->n_ignore);
    add_refs(&t, "categorical", src->categorical, src->n_categorical);
    for (int p = 0; p < n_parts; p++)
        add(&t, "|part %.2000s %llu %lld", parts[p].path, (unsigned long long)parts[p].size,
            (long long)parts[p].mtime);
    uint64_t key = t.s ? dnn_hash_bytes(t.s, t.n) : 0;
    free(t.s);
    return key;
}

/* ---- writing ---- */

struct dnn_cache_writer {
    FILE *f;
    char *path, *tmp;
    header h;
    unsigned char *row;
    uLong crc;
};

void dnn_cache_abort(dnn_cache_writer *w)
{
    if (!w) return;
    if (w->f) fclose(w->f);
    if (w->tmp) unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w->row);
    free(w);
}

dnn_status dnn_cache_create(dnn_cache_writer **out, const char *path, uint64_t key, const dnn_cache_shape *sh,
                            dnn_error *err)
{
    *out = NULL;
    dnn_cache_writer *w = calloc(1, sizeof *w);
    if (!w) return dnn_fail_oom(err, path, sizeof *w);
    w->path = dnn_strdup(path);
    w->tmp = malloc(strlen(path) + 32);
    w->row = malloc(dnn_cache_row_bytes(sh));
    if (!w->path || !w->tmp || !w->row) {
        dnn_cache_abort(w);
        return dnn_fail_oom(err, path, 0);
    }
    /* ".NAME.tmp.PID" beside it: what a run folder clears after a killed run */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    sprintf(w->tmp, "%.*s.%s.tmp.%ld", (int)(base - path), path, base, (long)getpid());
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        dnn_status st = dnn_fail(err, DNN_EIO, "%s: cannot write the cache: %s", w->tmp, strerror(errno));
        free(w->tmp);
        w->tmp = NULL;
        dnn_cache_abort(w);
        return st;
    }
    setvbuf(w->f, NULL, _IOFBF, 1u << 20);
    memcpy(w->h.magic, MAGIC, 8);
    w->h.version = VERSION, w->h.order = ORDER_MARK, w->h.key = key;
    w->h.d_num = sh->d_num, w->h.n_cat = sh->n_cat, w->h.k = sh->k;
    w->h.row_bytes = (uint32_t)dnn_cache_row_bytes(sh);
    w->crc = crc32(0L, Z_NULL, 0);
    char zero[HEADER_BYTES] = {0}; /* the header is written last, when it is known */
    if (fwrite(zero, 1, HEADER_BYTES, w->f) != HEADER_BYTES) {
        dnn_status st = dnn_fail(err, DNN_EIO, "%s: cannot write the cache: %s", w->tmp, strerror(errno));
        dnn_cache_abort(w);
        return st;
    }
    *out = w;
    return DNN_OK;
}

dnn_status dnn_cache_write(dnn_cache_writer *w, const float *x, const uint64_t *cat, int32_t y,
                           const float *t, uint64_t ordinal, dnn_error *err)
{
    const size_t nc = w->h.n_cat, dn = w->h.d_num, rb = w->h.row_bytes;
    unsigned char *p = w->row;
    memset(p, 0, rb);
    memcpy(p, &ordinal, 8);
    if (nc) memcpy(p + 8, cat, 8 * nc);
    memcpy(p + 8 + 8 * nc, x, 4 * dn);
    if (w->h.k)
        memcpy(p + 8 + 8 * nc + 4 * dn, t, 4 * (size_t)w->h.k);
    else
        memcpy(p + 8 + 8 * nc + 4 * dn, &y, 4);
    w->crc = crc32(w->crc, p, (uInt)rb);
    if (fwrite(p, 1, rb, w->f) != rb)
        return dnn_fail(err, DNN_EIO, "%s: cannot write the cache: %s", w->tmp, strerror(errno));
    w->h.rows++;
    return DNN_OK;
}

dnn_status dnn_cache_finish(dnn_cache_writer *w, const cJSON *trailer, dnn_error *err)
{
    char *json = cJSON_PrintUnformatted(trailer);
    dnn_status st = json ? DNN_OK : dnn_fail_oom(err, w->path, 0);
    if (!st) {
        size_t n = strlen(json);
        w->h.trailer_at = HEADER_BYTES + w->h.rows * w->h.row_bytes;
        w->h.crc = (uint32_t)crc32(w->crc, (const Bytef *)json, (uInt)n);
        int ok = fwrite(json, 1, n, w->f) == n && fseek(w->f, 0, SEEK_SET) == 0 &&
                 fwrite(&w->h, 1, sizeof w->h, w->f) == sizeof w->h && fflush(w->f) == 0 &&
                 fsync(fileno(w->f)) == 0;
        int closed = fclose(w->f) == 0;
        w->f = NULL;
        if (!ok || !closed || rename(w->tmp, w->path) != 0)
            st = dnn_fail(err, DNN_EIO, "%s: cannot write the cache: %s", w->path, strerror(errno));
        else {
            free(w->tmp);
            w->tmp = NULL; /* in place: nothing to remove */
        }
    }
    free(json);
    dnn_cache_abort(w);
    return st;
}

/* ---- reading ---- */

struct dnn_cache {
    int fd;
    char *path;
    header h;
    dnn_cache_shape sh;
    cJSON *trailer;
    uLong crc, trailer_crc;
    uint64_t trailer_len;
};

void dnn_cache_close(dnn_cache *c)
{
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    cJSON_Delete(c->trailer);
    free(c->path);
    free(c);
}

static dnn_status malformed(dnn_cache *c, const char *what, dnn_error *err)
{
    dnn_status st =
        dnn_fail(err, DNN_EDATA, "%s: a damaged cache (%s): remove it to have it rebuilt", c->path, what);
    dnn_cache_close(c);
    return st;
}

dnn_status dnn_cache_open(dnn_cache **out, const char *path, uint64_t key, int *usable, dnn_error *err)
{
    *out = NULL;
    *usable = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? DNN_OK
                               : dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    dnn_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->path = dnn_strdup(path))) {
        close(fd);
        free(c);
        return dnn_fail_oom(err, path, 0);
    }
    c->fd = fd;
    struct stat st;
    if (fstat(fd, &st) != 0 || pread(fd, &c->h, sizeof c->h, 0) != (ssize_t)sizeof c->h ||
        memcmp(c->h.magic, MAGIC, 8) != 0 || c->h.version != VERSION || c->h.order != ORDER_MARK ||
        c->h.key != key) {
        dnn_cache_close(c); /* another version's, another machine's, another source's: not ours */
        return DNN_OK;
    }
    c->sh = (dnn_cache_shape){c->h.d_num, c->h.n_cat, c->h.k};
    const uint64_t size = (uint64_t)st.st_size, rb = dnn_cache_row_bytes(&c->sh);
    if (c->h.row_bytes != rb || c->h.d_num > (1u << 24) || c->h.n_cat > (1u << 20) || c->h.k > (1u << 20) ||
        c->h.rows > (size - HEADER_BYTES) / rb || c->h.trailer_at != HEADER_BYTES + c->h.rows * rb ||
        size - c->h.trailer_at > MAX_TRAILER)
        return malformed(c, "its sizes do not add up", err);
    c->trailer_len = size - c->h.trailer_at;
    char *json = malloc(c->trailer_len + 1);
    if (!json) {
        dnn_cache_close(c);
        return dnn_fail_oom(err, path, c->trailer_len);
    }
    int ok = pread(fd, json, c->trailer_len, (off_t)c->h.trailer_at) == (ssize_t)c->trailer_len;
    c->trailer_crc = crc32(0L, (const Bytef *)json, (uInt)c->trailer_len);
    c->trailer = ok ? cJSON_ParseWithLength(json, c->trailer_len) : NULL;
    free(json);
    if (!c->trailer) return malformed(c, "its trailer is not readable", err);
    c->crc = crc32(0L, Z_NULL, 0);
    *out = c;
    *usable = 1;
    return DNN_OK;
}

const dnn_cache_shape *dnn_cache_shape_of(const dnn_cache *c)
{
    return &c->sh;
}

uint64_t dnn_cache_rows(const dnn_cache *c)
{
    return c->h.rows;
}

const cJSON *dnn_cache_trailer(const dnn_cache *c)
{
    return c->trailer;
}

const char *dnn_cache_path(const dnn_cache *c)
{
    return c->path;
}

dnn_status dnn_cache_read(const dnn_cache *c, uint64_t first, size_t n, void *buf, dnn_error *err)
{
    const size_t want = n * c->h.row_bytes;
    size_t done = 0;
    off_t at = (off_t)(HEADER_BYTES + first * c->h.row_bytes);
    while (done < want) {
        ssize_t r = pread(c->fd, (char *)buf + done, want - done, at + (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return dnn_fail(err, r < 0 ? DNN_EIO : DNN_EDATA, "%s: %s at row %llu", c->path,
                            r < 0 ? strerror(errno) : "the cache is shorter than it says",
                            (unsigned long long)first);
        done += (size_t)r;
    }
    return DNN_OK;
}

void dnn_cache_crc_add(dnn_cache *c, const void *rows, size_t n)
{
    c->crc = crc32(c->crc, rows, (uInt)(n * c->h.row_bytes));
}

dnn_status dnn_cache_crc_check(const dnn_cache *c, dnn_error *err)
{
    uLong all = crc32_combine(c->crc, c->trailer_crc, (z_off_t)c->trailer_len);
    if ((uint32_t)all == c->h.crc) return DNN_OK;
    return dnn_fail(err, DNN_EDATA,
                    "%s: the cache is damaged (checksum %08x, expected %08x): remove it to have it rebuilt",
                    c->path, (unsigned)all, c->h.crc);
}
