/* The study's journal: an append-only file of JSON lines, each written with one write() and fsync'd before
 * the study acts on it, so a crash at any moment loses at most the line being written. Reading cuts a torn
 * last line off; a damaged line before it is an error, never guessed around. The file is locked for as long
 * as a dnntune works on the study. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnn/report.h"
#include "dnn/util.h"
#include "internal.h"

#define JOURNAL_MAX_BYTES (1u << 30)

static void free_lines(cJSON **lines, int n)
{
    for (int i = 0; i < n; i++) cJSON_Delete(lines[i]);
    free(lines);
}

/* Parse buf into lines; *keep is the length of the whole lines (what survives of the file). */
static dnn_status parse_lines(const char *path, char *buf, size_t len, cJSON ***out, int *n, size_t *keep,
                              dnn_error *err)
{
    int cap = 64, k = 0, line = 0;
    cJSON **lines = malloc((size_t)cap * sizeof *lines);
    if (!lines) return dnn_fail_oom(err, path, 0);
    size_t pos = 0;
    while (pos < len) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) break; /* torn by a crash while it was written: it never counted */
        line++;
        *nl = '\0';
        cJSON *j = cJSON_Parse(buf + pos);
        if (!cJSON_IsObject(j) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "event"))) {
            cJSON_Delete(j);
            free_lines(lines, k);
            return dnn_fail(err, DNN_EIO,
                            "%s:%d: not a journal entry (the file is damaged; a study cannot "
                            "continue from it)",
                            path, line);
        }
        if (k == cap) {
            cJSON **grown = realloc(lines, (size_t)(cap *= 2) * sizeof *lines);
            if (!grown) {
                cJSON_Delete(j);
                free_lines(lines, k);
                return dnn_fail_oom(err, path, 0);
            }
            lines = grown;
        }
        lines[k++] = j;
        pos = (size_t)(nl - buf) + 1;
    }
    *out = lines;
    *n = k;
    *keep = pos;
    return DNN_OK;
}

static dnn_status read_all(int fd, const char *path, char **buf, size_t *len, dnn_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return dnn_fail(err, DNN_EIO, "%s: %s", path, strerror(errno));
    if ((unsigned long long)st.st_size > JOURNAL_MAX_BYTES)
        return dnn_fail(err, DNN_EIO, "%s: %lld bytes, more than a journal can hold", path,
                        (long long)st.st_size);
    size_t n = (size_t)st.st_size, got = 0;
    *buf = malloc(n + 1);
    if (!*buf) return dnn_fail_oom(err, path, n);
    while (got < n) {
        ssize_t r = pread(fd, *buf + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(*buf);
            return dnn_fail(err, DNN_EIO, "%s: read error: %s", path, r < 0 ? strerror(errno) : "short file");
        }
        got += (size_t)r;
    }
    (*buf)[n] = '\0';
    *len = n;
    return DNN_OK;
}

dnn_status tune_journal_open(tune_journal *j, const char *path, cJSON ***lines, int *n, dnn_error *err)
{
    memset(j, 0, sizeof *j);
    j->fd = -1;
    *lines = NULL;
    *n = 0;
    j->path = dnn_strdup(path);
    if (!j->path) return dnn_fail_oom(err, path, 0);
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0)
        return dnn_fail(err, DNN_EIO, "%s: %s", path,
                        errno == EWOULDBLOCK ? "another dnntune is working on this study" : strerror(errno));
    char *buf = NULL;
    size_t len = 0, keep = 0;
    dnn_status st = read_all(j->fd, path, &buf, &len, err);
    if (st) return st;
    st = parse_lines(path, buf, len, lines, n, &keep, err);
    free(buf);
    if (!st && keep < len && ftruncate(j->fd, (off_t)keep) != 0) {
        free_lines(*lines, *n);
        *lines = NULL;
        *n = 0;
        st = dnn_fail(err, DNN_EIO, "%s: cannot cut off a torn last line: %s", path, strerror(errno));
    }
    /* the study's clock goes on from the last line's */
    const cJSON *t = !st && *n ? cJSON_GetObjectItemCaseSensitive((*lines)[*n - 1], "t") : NULL;
    j->t_base = cJSON_IsNumber(t) && t->valuedouble > 0 ? t->valuedouble : 0;
    j->t0 = dnn_now();
    return st;
}

dnn_status tune_journal_reset(tune_journal *j, dnn_error *err)
{
    if (ftruncate(j->fd, 0) != 0 || fsync(j->fd) != 0)
        return dnn_fail(err, DNN_EIO, "%s: cannot empty: %s", j->path, strerror(errno));
    j->t_base = 0;
    j->t0 = dnn_now();
    return DNN_OK;
}

double tune_journal_elapsed(const tune_journal *j)
{
    return j->t_base + (dnn_now() - j->t0);
}

dnn_status tune_journal_append(tune_journal *j, cJSON *line, dnn_error *err)
{
    cJSON_AddItemToObject(line, "t", dnn_json_number(tune_journal_elapsed(j)));
    char *s = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!s) return dnn_fail_oom(err, j->path, 0);
    size_t n = strlen(s);
    s[n++] = '\n'; /* replaces the terminator: one write carries the whole line */
    size_t done = 0;
    dnn_status st = DNN_OK;
    while (done < n) {
        ssize_t w = write(j->fd, s + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            st = dnn_fail(err, DNN_EIO, "%s: write failed: %s", j->path,
                          w < 0 ? strerror(errno) : "no progress");
            break;
        }
        done += (size_t)w;
    }
    if (!st && fsync(j->fd) != 0)
        st = dnn_fail(err, DNN_EIO, "%s: fsync failed: %s", j->path, strerror(errno));
    free(s);
    return st;
}

void tune_journal_close(tune_journal *j)
{
    if (j->fd >= 0) close(j->fd); /* releases the lock */
    free(j->path);
    memset(j, 0, sizeof *j);
    j->fd = -1;
}
