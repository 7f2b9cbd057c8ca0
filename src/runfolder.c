/* Run folders: locking, recognising a run's files, pruning numbered checkpoints. */
#include "dnn/runfolder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnn/util.h"

#define LOCK_NAME ".dnntrain.lock"

/* The files a run writes, besides its numbered checkpoints. */
static const char *const RUN_FILES[] = {"ckpt.bin",    "best.bin",    "train.jsonl",
                                        "report.json", "report.html", "curves.svg"};

/* "ckpt-0007.bin" -> 7; -1 for any other name. */
static long numbered_epoch(const char *name)
{
    if (strncmp(name, "ckpt-", 5) != 0) return -1;
    const char *p = name + 5;
    long v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++) v = v * 10 + (*p - '0');
    return digits >= 4 && strcmp(p, ".bin") == 0 ? v : -1;
}

void dnn_run_folder_numbered(int epoch, char *name, size_t n)
{
    snprintf(name, n, "ckpt-%04d.bin", epoch);
}

/* Take the lock, or say who holds it. */
static dnn_status lock(dnn_run_folder *f, dnn_error *err)
{
    char *path = dnn_path_join(f->dir, LOCK_NAME);
    if (!path) return dnn_fail_oom(err, f->dir, 0);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0)
        return dnn_fail(err, DNN_EIO, "%s: folder is not writable: cannot create its lock file: %s", f->dir,
                        strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t got = pread(fd, pid, sizeof pid - 1, 0);
        close(fd);
        if (e != EWOULDBLOCK)
            return dnn_fail(err, DNN_EIO, "%s: cannot lock the folder: %s", f->dir, strerror(e));
        pid[got > 0 ? strcspn(pid, "\n") : 0] = '\0';
        return dnn_fail(err, DNN_EIO,
                        "%s: another dnntrain (PID %s) is training in this folder; wait for it to end or "
                        "choose another --out",
                        f->dir, pid[0] ? pid : "unknown");
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        dnn_status st = dnn_fail(err, DNN_EIO, "%s: cannot write its lock file: %s", f->dir, strerror(errno));
        close(fd);
        return st;
    }
    f->lock_fd = fd;
    return DNN_OK;
}

dnn_status dnn_run_folder_open(dnn_run_folder *f, const char *dir, dnn_error *err)
{
    f->lock_fd = -1;
    f->dir = dnn_strdup(dir);
    if (!f->dir) return dnn_fail_oom(err, "the output folder", strlen(dir));
    dnn_status st = dnn_mkdirs(dir, err);
    if (!st) st = dnn_check_writable_dir(dir, err);
    if (!st) st = lock(f, err);
    if (st) return st;
    dnn_clean_temp_files(dir); /* no writer but us now */
    return DNN_OK;
}

void dnn_run_folder_close(dnn_run_folder *f)
{
    if (f->lock_fd >= 0) close(f->lock_fd); /* releases the lock */
    free(f->dir);
    f->dir = NULL;
    f->lock_fd = -1;
}

/* Whether name in the folder is a regular file (a folder called ckpt.bin is not a run's). */
static int is_file(const dnn_run_folder *f, const char *name)
{
    char *p = dnn_path_join(f->dir, name);
    struct stat st;
    int yes = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return yes;
}

int dnn_run_folder_has_run(const dnn_run_folder *f, char *what, size_t n)
{
    for (size_t i = 0; i < sizeof RUN_FILES / sizeof *RUN_FILES; i++)
        if (is_file(f, RUN_FILES[i])) {
            snprintf(what, n, "%s", RUN_FILES[i]);
            return 1;
        }
    DIR *d = opendir(f->dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL)
        if (numbered_epoch(e->d_name) >= 0 && is_file(f, e->d_name)) {
            snprintf(what, n, "%s", e->d_name);
            found = 1;
        }
    closedir(d);
    return found;
}

dnn_status dnn_run_folder_clear(const dnn_run_folder *f, dnn_error *err)
{
    DIR *d = opendir(f->dir);
    if (!d) return dnn_fail(err, DNN_EIO, "%s: cannot list: %s", f->dir, strerror(errno));
    dnn_status st = DNN_OK;
    struct dirent *e;
    while (!st && (e = readdir(d)) != NULL) {
        int ours = numbered_epoch(e->d_name) >= 0;
        for (size_t i = 0; i < sizeof RUN_FILES / sizeof *RUN_FILES; i++)
            ours |= !strcmp(e->d_name, RUN_FILES[i]);
        if (!ours || !is_file(f, e->d_name)) continue;
        char *p = dnn_path_join(f->dir, e->d_name);
        if (!p)
            st = dnn_fail_oom(err, e->d_name, 0);
        else if (unlink(p) != 0 && errno != ENOENT)
            st = dnn_fail(err, DNN_EIO, "%s: cannot remove (for --overwrite): %s", p, strerror(errno));
        free(p);
    }
    closedir(d);
    return st;
}

static int by_value(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

void dnn_run_folder_prune(const dnn_run_folder *f, int keep)
{
    DIR *d = opendir(f->dir);
    if (!d) return;
    long *ep = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long v = numbered_epoch(e->d_name);
        if (v < 0) continue;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 16;
            long *p = realloc(ep, c * sizeof *p);
            if (!p) break; /* pruning is housekeeping: keep what we cannot sort */
            ep = p, cap = c;
        }
        ep[n++] = v;
    }
    closedir(d);
    if (ep) qsort(ep, n, sizeof *ep, by_value);
    for (size_t i = 0; i + (size_t)keep < n; i++) {
        char name[32];
        dnn_run_folder_numbered((int)ep[i], name, sizeof name);
        char *p = dnn_path_join(f->dir, name);
        if (p) unlink(p);
        free(p);
    }
    free(ep);
}
