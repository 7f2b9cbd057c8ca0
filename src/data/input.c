/* Byte input: files found by name or glob, read with read(2), gzip members inflated one after another. */
#include "dnn/input.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dnn/util.h"

#define ZBUF_BYTES (1u << 16)

/* ---- finding the parts ---- */

void dnn_parts_free(dnn_part *parts, int n)
{
    for (int i = 0; parts && i < n; i++) free(parts[i].path);
    free(parts);
}

static int is_glob(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}

/* Describe one file: size, time, and whether it starts like gzip. */
static dnn_status describe(dnn_part *part, const char *path, dnn_error *err)
{
    memset(part, 0, sizeof *part);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    unsigned char sig[2] = {0, 0};
    int ok = fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode);
    ssize_t got = ok ? read(fd, sig, 2) : -1;
    int saved = errno;
    close(fd);
    if (!ok) return dnn_fail(err, DNN_EIO, "%s: is a folder, not a data file", path);
    if (got < 0) return dnn_fail(err, DNN_EIO, "%s: cannot read: %s", path, strerror(saved));
    part->path = dnn_strdup(path);
    if (!part->path) return dnn_fail_oom(err, path, strlen(path));
    part->gzip = got == 2 && sig[0] == 0x1f && sig[1] == 0x8b;
    part->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    part->mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return DNN_OK;
}

static dnn_status add_part(dnn_part **parts, int *n, int *cap, const char *path, dnn_error *err)
{
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 8;
        dnn_part *p = realloc(*parts, (size_t)c * sizeof *p);
        if (!p) return dnn_fail_oom(err, "the list of data files", (size_t)c * sizeof *p);
        *parts = p, *cap = c;
    }
    dnn_status st = describe(&(*parts)[*n], path, err);
    if (!st) (*n)++;
    return st;
}

dnn_status dnn_parts_find(char *const *paths, int n_paths, dnn_part **parts, int *n_parts, dnn_error *err)
{
    *parts = NULL;
    *n_parts = 0;
    int cap = 0;
    dnn_status st = DNN_OK;
    for (int i = 0; i < n_paths && !st; i++) {
        const char *p = paths[i];
        if (strcmp(p, "-") == 0) { /* standard input: read once, nothing to describe */
            if (n_paths > 1) {
                st = dnn_fail(err, DNN_ECONFIG, "\"-\" (standard input) cannot be one of several data files");
            } else if (!(*parts = calloc(1, sizeof **parts)) || !((*parts)[0].path = dnn_strdup("-"))) {
                st = dnn_fail_oom(err, "a path", 2);
            } else {
                *n_parts = 1;
            }
            continue;
        }
        if (!is_glob(p)) {
            st = add_part(parts, n_parts, &cap, p, err);
            continue;
        }
        glob_t g;
        int rc = glob(p, GLOB_ERR, NULL, &g); /* sorted by name */
        if (rc == GLOB_NOMATCH)
            st = dnn_fail(err, DNN_EIO, "%s: no file matches this pattern", p);
        else if (rc != 0)
            st = dnn_fail(err, DNN_EIO, "%s: cannot list the files this pattern names", p);
        for (size_t k = 0; rc == 0 && k < g.gl_pathc && !st; k++)
            st = add_part(parts, n_parts, &cap, g.gl_pathv[k], err);
        if (rc != GLOB_NOMATCH) globfree(&g);
    }
    if (st) {
        dnn_parts_free(*parts, *n_parts);
        *parts = NULL;
        *n_parts = 0;
    }
    return st;
}

/* ---- reading a part ---- */

struct dnn_input {
    char *path;
    int fd, own_fd;
    int gzip;
    z_stream z;
    int zinit;
    unsigned char *zbuf;
    int raw_eof;            /* the file has no more bytes */
    int member_done;        /* the current gzip member ended; another may follow */
    uint64_t consumed;      /* bytes read from the file */
    unsigned char *scratch; /* where skipped content is inflated to */
};

static dnn_status read_raw(dnn_input *in, void *buf, size_t n, size_t *got, dnn_error *err)
{
    ssize_t r;
    *got = 0;
    do r = read(in->fd, buf, n);
    while (r < 0 && errno == EINTR);
    if (r < 0) return dnn_fail(err, DNN_EIO, "%s: read error: %s", in->path, strerror(errno));
    *got = (size_t)r;
    in->consumed += (uint64_t)r;
    return DNN_OK;
}

/* Make at least need bytes of the file available at next_in, unless it ends first: leftover bytes move to the
 * front of the buffer and more are read after them. */
static dnn_status fill_z(dnn_input *in, size_t need, dnn_error *err)
{
    while (in->z.avail_in < need && !in->raw_eof) {
        if (in->z.avail_in) memmove(in->zbuf, in->z.next_in, in->z.avail_in);
        in->z.next_in = in->zbuf;
        size_t got;
        dnn_status st = read_raw(in, in->zbuf + in->z.avail_in, ZBUF_BYTES - in->z.avail_in, &got, err);
        if (st) return st;
        in->z.avail_in += (uInt)got;
        if (got == 0) in->raw_eof = 1;
    }
    return DNN_OK;
}

static uint64_t zpos(const dnn_input *in)
{
    return in->consumed - in->z.avail_in;
}

/* After a member's end: the end of the file, or the next member (gzip allows several, as cat a.gz b.gz). */
static dnn_status next_member(dnn_input *in, int *more, dnn_error *err)
{
    *more = 0;
    dnn_status st = fill_z(in, 2, err);
    if (st || in->z.avail_in == 0) return st;
    int magic = in->z.avail_in >= 2 && in->z.next_in[0] == 0x1f && in->z.next_in[1] == 0x8b;
    if (!magic)
        return dnn_fail(err, DNN_EDATA, "%s: byte %llu: unexpected data after the end of the gzip stream",
                        in->path, (unsigned long long)zpos(in));
    if (inflateReset(&in->z) != Z_OK)
        return dnn_fail(err, DNN_EINTERNAL, "%s: inflateReset failed", in->path);
    in->member_done = 0;
    *more = 1;
    return DNN_OK;
}

static dnn_status read_gzip(dnn_input *in, unsigned char *buf, size_t n, size_t *got, dnn_error *err)
{
    size_t done = 0;
    dnn_status st = DNN_OK;
    while (done < n && !st) {
        if (in->member_done) {
            int more;
            if ((st = next_member(in, &more, err)) || !more) break;
        }
        if ((st = fill_z(in, 1, err))) break;
        if (in->z.avail_in == 0 && in->raw_eof) {
            st = dnn_fail(err, DNN_EDATA,
                          "%s: truncated gzip stream: the file ends after %llu bytes, inside compressed data",
                          in->path, (unsigned long long)in->consumed);
            break;
        }
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        in->z.next_out = buf + done;
        in->z.avail_out = (uInt)chunk;
        int rc = inflate(&in->z, Z_NO_FLUSH);
        done += chunk - in->z.avail_out;
        if (rc == Z_STREAM_END)
            in->member_done = 1;
        else if (rc == Z_MEM_ERROR)
            st = dnn_fail_oom(err, in->path, 1u << 15);
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            st = dnn_fail(err, DNN_EDATA, "%s: corrupt gzip data near compressed byte %llu: %s", in->path,
                          (unsigned long long)zpos(in), in->z.msg ? in->z.msg : "invalid data");
    }
    *got = done;
    return st;
}

dnn_status dnn_input_read(dnn_input *in, void *buf, size_t n, size_t *got, dnn_error *err)
{
    if (in->gzip) return read_gzip(in, buf, n, got, err);
    if (in->z.avail_in > 0 && n > 0) { /* the first bytes, read to tell gzip from plain on a pipe */
        size_t k = in->z.avail_in < n ? in->z.avail_in : n;
        memcpy(buf, in->z.next_in, k);
        in->z.next_in += k;
        in->z.avail_in -= (uInt)k;
        size_t more = 0;
        dnn_status st = k < n ? read_raw(in, (unsigned char *)buf + k, n - k, &more, err) : DNN_OK;
        *got = k + more;
        return st;
    }
    return read_raw(in, buf, n, got, err);
}

/* Skip the first offset bytes of the content. */
static dnn_status skip_to(dnn_input *in, uint64_t offset, dnn_error *err)
{
    if (offset == 0) return DNN_OK;
    if (!in->gzip && lseek(in->fd, (off_t)offset, SEEK_SET) == (off_t)offset) {
        in->consumed = offset;
        return DNN_OK;
    }
    if (!in->scratch && !(in->scratch = malloc(ZBUF_BYTES))) return dnn_fail_oom(err, in->path, ZBUF_BYTES);
    dnn_status st = DNN_OK;
    while (offset > 0 && !st) {
        size_t got;
        st = dnn_input_read(in, in->scratch, offset < ZBUF_BYTES ? (size_t)offset : ZBUF_BYTES, &got, err);
        if (!st && got == 0)
            st = dnn_fail(err, DNN_EDATA, "%s: the file is shorter than it was (it changed while being read)",
                          in->path);
        offset -= got;
    }
    return st;
}

dnn_status dnn_input_open(dnn_input **out, const char *path, uint64_t offset, dnn_error *err)
{
    *out = NULL;
    dnn_input *in = calloc(1, sizeof *in);
    if (!in) return dnn_fail_oom(err, path, sizeof *in);
    int std_in = strcmp(path, "-") == 0;
    in->path = dnn_strdup(std_in ? "<stdin>" : path);
    in->fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    in->own_fd = !std_in;
    if (!in->path || in->fd < 0) {
        dnn_status st = in->path ? dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno))
                                 : dnn_fail_oom(err, path, strlen(path));
        if (in->fd < 0) in->own_fd = 0;
        dnn_input_close(in);
        return st;
    }
    /* Told by content: read the first bytes into the inflate buffer, which also serves a plain file. */
    in->zbuf = malloc(ZBUF_BYTES);
    size_t got = 0;
    dnn_status st = in->zbuf ? read_raw(in, in->zbuf, 2, &got, err) : dnn_fail_oom(err, path, ZBUF_BYTES);
    if (!st) {
        in->gzip = got == 2 && in->zbuf[0] == 0x1f && in->zbuf[1] == 0x8b;
        in->z.next_in = in->zbuf;
        in->z.avail_in = (uInt)got;
        if (in->gzip) {
            if (inflateInit2(&in->z, 16 + MAX_WBITS) != Z_OK)
                st = dnn_fail_oom(err, path, 1u << 15);
            else
                in->zinit = 1;
        }
    }
    if (!st && !in->gzip) {
        /* plain: the bytes read go back by seeking, or on a pipe are served first by dnn_input_read */
        if (lseek(in->fd, 0, SEEK_SET) == 0) {
            in->consumed = 0;
            in->z.avail_in = 0;
        }
    }
    if (!st) st = skip_to(in, offset, err);
    if (st) {
        dnn_input_close(in);
        return st;
    }
    *out = in;
    return DNN_OK;
}

dnn_status dnn_input_seek(dnn_input *in, uint64_t offset, dnn_error *err)
{
    if (!in->own_fd) return dnn_fail(err, DNN_EINTERNAL, "%s: standard input cannot go back", in->path);
    /* from the start: a gzip stream inflates up to offset again, a plain file seeks there */
    if (lseek(in->fd, 0, SEEK_SET) != 0)
        return dnn_fail(err, DNN_EIO, "%s: cannot go back in it: %s", in->path, strerror(errno));
    if (in->zinit && inflateReset(&in->z) != Z_OK)
        return dnn_fail(err, DNN_EINTERNAL, "%s: inflateReset failed", in->path);
    in->consumed = 0, in->raw_eof = 0, in->member_done = 0;
    in->z.next_in = in->zbuf;
    in->z.avail_in = 0;
    return skip_to(in, offset, err);
}

uint64_t dnn_input_consumed(const dnn_input *in)
{
    return zpos(in);
}

void dnn_input_close(dnn_input *in)
{
    if (!in) return;
    if (in->zinit) inflateEnd(&in->z);
    if (in->own_fd && in->fd >= 0) close(in->fd);
    free(in->zbuf);
    free(in->scratch);
    free(in->path);
    free(in);
}
