/* Shared helpers: whole-file reads, atomic writes, paths, C-locale numbers, spelling hints. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dnn/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *dnn_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void *dnn_alloc_hot(size_t count, size_t size)
{
    const size_t huge = (size_t)2 << 20;
    size_t bytes;
    if (dnn_mul_size(count, size, &bytes) || bytes > SIZE_MAX - huge) return NULL;
    if (bytes == 0) bytes = 64;
    size_t align = bytes >= (huge >> 1) ? huge : 64;
    bytes = (bytes + align - 1) & ~(align - 1);
    void *p = NULL;
    if (posix_memalign(&p, align, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == huge) madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure costs only speed */
#endif
    memset(p, 0, bytes);
    return p;
}

void dnn_strings_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

char **dnn_strings_copy(char *const *v, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = dnn_strdup(v[i]))) {
            dnn_strings_free(out, i);
            return NULL;
        }
    return out;
}

dnn_status dnn_read_file(const char *path, size_t max_bytes, char **buf, size_t *len, dnn_error *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return dnn_fail(err, DNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return dnn_fail(err, DNN_EIO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return dnn_fail(err, DNN_EIO, "%s: %lld bytes, more than the %zu allowed for this kind of file", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *p = malloc(n + 1);
    if (!p) {
        fclose(f);
        return dnn_fail_oom(err, path, n + 1);
    }
    size_t got = fread(p, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(p);
        return dnn_fail(err, DNN_EIO, "%s: read error after %zu of %zu bytes", path, got, n);
    }
    p[n] = '\0';
    *buf = p;
    *len = n;
    return DNN_OK;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

dnn_status dnn_write_atomic(const char *path, const void *data, size_t len, dnn_error *err)
{
    char *dir = dnn_path_dir(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t tn = strlen(path) + 64; /* the folder and the name, with a dot, ".tmp." and a pid */
    char *tmp = malloc(tn);
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        return dnn_fail_oom(err, path, tn);
    }
    snprintf(tmp, tn, "%s/.%s.tmp.%ld", dir, base, (long)getpid());

    dnn_status st = DNN_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = dnn_fail(err, DNN_EIO, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            st = dnn_fail(err, DNN_EIO, "%s: write failed after %zu of %zu bytes: %s", path, len - left, len,
                          w < 0 ? strerror(errno) : "no progress");
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (st == DNN_OK && fsync(fd) != 0)
        st = dnn_fail(err, DNN_EIO, "%s: fsync failed: %s", path, strerror(errno));
    if (close(fd) != 0 && st == DNN_OK)
        st = dnn_fail(err, DNN_EIO, "%s: close failed: %s", path, strerror(errno));
    if (st == DNN_OK && rename(tmp, path) != 0)
        st = dnn_fail(err, DNN_EIO, "%s: cannot replace: %s", path, strerror(errno));
    if (st != DNN_OK)
        unlink(tmp);
    else
        fsync_dir(dir); /* the rename is durable once the folder is synced; failure here loses nothing */
done:
    free(tmp);
    free(dir);
    return st;
}

dnn_status dnn_mkdirs(const char *path, dnn_error *err)
{
    char *p = dnn_strdup(path);
    if (!p) return dnn_fail_oom(err, path, strlen(path) + 1);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                dnn_status st =
                    dnn_fail(err, DNN_EIO, "%s: cannot create folder %s: %s", path, p, strerror(errno));
                free(p);
                return st;
            }
            *s = c;
            if (c == '\0') break;
        }
    }
    free(p);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return dnn_fail(err, DNN_EIO, "%s: not a folder", path);
    return DNN_OK;
}

dnn_status dnn_check_writable_dir(const char *dir, dnn_error *err)
{
    char *probe = dnn_path_join(dir, ".dnn-write-test");
    if (!probe) return dnn_fail_oom(err, dir, strlen(dir) + 32);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        dnn_status st = dnn_fail(err, DNN_EIO, "%s: folder is not writable: %s", dir, strerror(errno));
        free(probe);
        return st;
    }
    close(fd);
    unlink(probe);
    free(probe);
    return DNN_OK;
}

void dnn_clean_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] == '.' && strstr(n, ".tmp.") != NULL) {
            char *p = dnn_path_join(dir, n);
            if (p) unlink(p);
            free(p);
        }
    }
    closedir(d);
}

char *dnn_path_join(const char *dir, const char *name)
{
    if (name[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0) return dnn_strdup(name);
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

char *dnn_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return dnn_strdup(".");
    if (slash == path) return dnn_strdup("/");
    size_t n = (size_t)(slash - path);
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, path, n);
    p[n] = '\0';
    return p;
}

char *dnn_path_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = (dot && dot != base) ? (size_t)(dot - base) : strlen(base);
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, base, n);
    p[n] = '\0';
    return p;
}

char *dnn_path_absolute(const char *path)
{
    if (path[0] == '/') return dnn_strdup(path);
    char *cwd = getcwd(NULL, 0);
    if (!cwd) return dnn_strdup(path);
    const char *rel = path;
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    char *p = strcmp(rel, ".") == 0 ? dnn_strdup(cwd) : dnn_path_join(cwd, rel);
    free(cwd);
    return p;
}

/* The C locale, made once for every thread (a locale object is read-only once made). If it cannot be made
 * (no memory at start-up), numbers go through the thread's own locale, which is "C" unless the program
 * set another. */
static locale_t c_loc = (locale_t)0;
static pthread_once_t c_loc_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t c_locale(void)
{
    pthread_once(&c_loc_once, make_c_locale);
    return c_loc;
}

/* Switch this thread to the C locale; returns what to switch back to, (locale_t)0 when nothing changed. */
static locale_t enter_c(void)
{
    locale_t c = c_locale();
    return c ? uselocale(c) : (locale_t)0;
}

static void leave_c(locale_t old)
{
    if (old) uselocale(old);
}

int dnn_fprintf_c(FILE *f, const char *fmt, ...)
{
    locale_t old = enter_c();
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    leave_c(old);
    return n;
}

int dnn_snprintf_c(char *buf, size_t size, const char *fmt, ...)
{
    locale_t old = enter_c();
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    leave_c(old);
    return n;
}

int dnn_vsnprintf_c(char *buf, size_t size, const char *fmt, va_list ap)
{
    locale_t old = enter_c();
    int n = vsnprintf(buf, size, fmt, ap);
    leave_c(old);
    return n;
}

double dnn_strtod_c(const char *s, char **end)
{
    locale_t c = c_locale();
    return c ? strtod_l(s, end, c) : strtod(s, end);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *dnn_nearest(const char *s, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(s, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    size_t len = strlen(s);
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best_d <= limit ? best : NULL;
}

double dnn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t dnn_memory_budget(size_t max_memory)
{
    if (max_memory) return max_memory;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return SIZE_MAX;
    double bytes = (double)pages * (double)page * 0.75;
    return bytes >= (double)SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

const char *dnn_memory_budget_source(size_t max_memory)
{
    return max_memory ? "set by --max-memory" : "3/4 of this machine's memory; raise it with --max-memory";
}

const char *dnn_format_bytes(double b, char *buf, size_t n)
{
    const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (b >= 1024 && u < 6) b /= 1024, u++;
    if (u == 0)
        dnn_snprintf_c(buf, n, "%.0f bytes", b);
    else
        dnn_snprintf_c(buf, n, "%.1f %s", b, units[u]);
    return buf;
}

int dnn_parse_bytes(const char *s, size_t *out)
{
    char *end;
    double v = dnn_strtod_c(s, &end);
    if (end == s || !(v > 0)) return -1;
    double mul = 1;
    switch (*end) {
    case 'k':
    case 'K': mul = 1024.0, end++; break;
    case 'm':
    case 'M': mul = 1024.0 * 1024, end++; break;
    case 'g':
    case 'G': mul = 1024.0 * 1024 * 1024, end++; break;
    case 't':
    case 'T': mul = 1024.0 * 1024 * 1024 * 1024, end++; break;
    default: break;
    }
    if (*end == 'i') end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end) return -1;
    v *= mul;
    if (v >= (double)SIZE_MAX || v < 1) return -1;
    *out = (size_t)v;
    return 0;
}
