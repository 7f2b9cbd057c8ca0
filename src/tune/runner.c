/* Trials as dnntrain child processes: each in its own run folder, with its own BLAS threads, its output in
 * DIR/trials/NNNN/dnntrain.log, in a process group of its own (so one Ctrl-C reaches dnntune, which passes a
 * single SIGTERM on and the trial checkpoints), and killed with dnntune if dnntune dies (so a resumed study
 * never races an orphan for a folder). A crash in a trial is that trial's failure, not the study's. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dnn/checkpoint.h"
#include "dnn/report.h"
#include "dnn/util.h"
#include "internal.h"

#define RUNNER_MAX_LOG (64u << 20)

typedef struct {
    pid_t pid; /* 0: no process (free, unless ready) */
    int ready; /* the segment's work was found done: its outcome waits to be collected, nothing runs */
    int pidfd; /* -1 when the kernel has no pidfd_open: then the wait polls */
    int trial, until, max_epochs, signalled;
    double t0;
    char *dir;
} slot;

typedef struct {
    char *dnntrain;
    int threads, jobs;
    dnn_monitor metric;
    slot *slots;
} proc_runner;

dnn_status tune_read_metric(const char *jsonl, const char *metric, int max_epochs, double **values, int *n,
                            dnn_error *err)
{
    *n = 0;
    *values = malloc(((size_t)max_epochs + 1) * sizeof(double));
    if (!*values) return dnn_fail_oom(err, jsonl, 0);
    for (int e = 0; e <= max_epochs; e++) (*values)[e] = NAN;
    char *buf;
    size_t len;
    dnn_error ignore;
    if (dnn_read_file(jsonl, RUNNER_MAX_LOG, &buf, &len, &ignore)) return DNN_OK; /* no epoch yet */
    for (char *line = buf, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "epoch");
        double epoch = cJSON_IsNumber(e) ? e->valuedouble : 0;
        if (epoch >= 1 && epoch <= max_epochs && epoch == floor(epoch)) {
            /* a line repeated by a run resumed after a kill carries the same numbers: the last one wins */
            (*values)[(int)epoch - 1] = dnn_json_value(cJSON_GetObjectItemCaseSensitive(j, metric));
            if ((int)epoch > *n) *n = (int)epoch;
        }
        cJSON_Delete(j);
    }
    free(buf);
    return DNN_OK;
}

/* The last "dnntrain: ..." line of a trial's log: why it failed. */
static void last_error(const char *log, char *out, size_t n)
{
    char *buf;
    size_t len;
    dnn_error ignore;
    snprintf(out, n, "see %s", log);
    if (dnn_read_file(log, RUNNER_MAX_LOG, &buf, &len, &ignore)) return;
    for (char *line = buf, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        /* the error, not the hint dnntrain adds after a divergence */
        if (strncmp(line, "dnntrain: ", 10) == 0 && strncmp(line + 10, "the last good checkpoint", 24) != 0)
            snprintf(out, n, "%s", line + 10);
        if (!nl) break;
    }
    free(buf);
}

static char *in_dir(const char *dir, const char *name)
{
    return dnn_path_join(dir, name);
}

/* The command of a segment: a fresh run, or the trial's run resumed from its checkpoint. */
static int segment_argv(const proc_runner *pr, const dnn_tune_job *job, const char *ckpt, char **argv,
                        char *num)
{
    int k = 0, resume = access(ckpt, F_OK) == 0;
    argv[k++] = pr->dnntrain;
    if (resume) {
        argv[k++] = "--resume";
        argv[k++] = (char *)ckpt;
    } else { /* files of an attempt killed before its first checkpoint are replaced */
        argv[k++] = "--config";
        argv[k++] = (char *)job->config_path;
        argv[k++] = "--out";
        argv[k++] = (char *)job->dir;
        argv[k++] = "--overwrite";
    }
    snprintf(num, 64, "%d", pr->threads);
    argv[k++] = "--threads";
    argv[k++] = num;
    snprintf(num + 64, 64, "%d", job->until);
    argv[k++] = "--until-epoch";
    argv[k++] = num + 64;
    argv[k] = NULL;
    return k;
}

/* A trial of a study killed a moment ago may still be dying (its kernel-sent SIGKILL waits for an fsync to
 * return); wait for its hold on the run folder's lock (dnntrain's .dnntrain.lock) to go, for up to 10 s,
 * rather than have the new segment refused. */
static void wait_for_folder(const char *dir)
{
    char *lock = in_dir(dir, ".dnntrain.lock");
    int fd = lock ? open(lock, O_RDONLY | O_CLOEXEC) : -1;
    for (int i = 0; fd >= 0 && i < 500 && flock(fd, LOCK_SH | LOCK_NB) != 0; i++) usleep(20000);
    if (fd >= 0) close(fd);
    free(lock);
}

/* In the child, between fork and exec: only async-signal-safe calls (dnntune has BLAS threads). */
static void child(const char *path, char **argv, pid_t parent, int in, int log)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127); /* dnntune died before the line above */
    if (dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) _exit(127);
    execv(path, argv);
    static const char msg[] = "dnntrain: dnntune could not start this program\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(127);
    _exit(127);
}

static dnn_status spawn(proc_runner *pr, slot *s, const dnn_tune_job *job, dnn_error *err)
{
    char *ckpt = in_dir(job->dir, "ckpt.bin"), *log = in_dir(job->dir, "dnntrain.log"), *argv[16], num[128];
    if (!ckpt || !log) {
        free(ckpt);
        free(log);
        return dnn_fail_oom(err, job->dir, 0);
    }
    wait_for_folder(job->dir);
    int n = segment_argv(pr, job, ckpt, argv, num);
    int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dnn_status st = DNN_OK;
    if (lfd < 0 || in < 0) {
        st = dnn_fail(err, DNN_EIO, "%s: cannot open: %s", lfd < 0 ? log : "/dev/null", strerror(errno));
    } else {
        dprintf(lfd, "== dnntune runs:");
        for (int i = 0; i < n; i++) dprintf(lfd, " %s", argv[i]);
        dprintf(lfd, "\n");
        pid_t parent = getpid(), pid = fork();
        if (pid == 0) child(pr->dnntrain, argv, parent, in, lfd);
        if (pid < 0) st = dnn_fail(err, DNN_EIO, "cannot start %s: %s", pr->dnntrain, strerror(errno));
        s->pid = pid > 0 ? pid : 0;
        s->pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    }
    if (lfd >= 0) close(lfd);
    if (in >= 0) close(in);
    free(ckpt);
    free(log);
    return st;
}

/* A segment whose work is done already: a study killed after its trial's run ended and before the journal
 * said so. The checkpoint has reached `until`, or early stopping ended the run; running dnntrain again would
 * train an early-stopped run further, so the outcome is only collected. */
static int segment_done(const char *dir, int until)
{
    char *ckpt = in_dir(dir, "ckpt.bin");
    dnn_model m;
    dnn_train_state st;
    dnn_error e;
    int done = 0;
    if (ckpt && access(ckpt, F_OK) == 0 && dnn_checkpoint_load(ckpt, 0, &m, &st, &e) == DNN_OK) {
        done = st.batch == 0 && (st.epoch >= until || st.stopped_early);
        dnn_train_state_free(&st);
        dnn_model_free(&m);
    }
    free(ckpt);
    return done;
}

static dnn_status proc_start(void *ctx, const dnn_tune_job *job, dnn_error *err)
{
    proc_runner *pr = ctx;
    slot *s = NULL;
    for (int i = 0; i < pr->jobs && !s; i++)
        if (!pr->slots[i].pid && !pr->slots[i].ready) s = &pr->slots[i];
    if (!s) return dnn_fail(err, DNN_EINTERNAL, "more segments started than --jobs allows");
    const cJSON *ep = tune_json_at(job->config, "training.epochs");
    s->max_epochs = cJSON_IsNumber(ep) ? (int)ep->valuedouble : 10; /* dnntrain's default */
    s->dir = dnn_strdup(job->dir);
    if (!s->dir) return dnn_fail_oom(err, job->dir, 0);
    s->trial = job->trial;
    s->until = job->until;
    s->signalled = 0;
    s->t0 = dnn_now();
    if (segment_done(job->dir, job->until)) {
        s->ready = 1;
        return DNN_OK;
    }
    dnn_status st = spawn(pr, s, job, err);
    if (st) {
        free(s->dir);
        s->dir = NULL;
    }
    return st;
}

static dnn_status collect(proc_runner *pr, slot *s, int status, dnn_tune_outcome *out, dnn_error *err)
{
    memset(out, 0, sizeof *out);
    out->trial = s->trial;
    out->seconds = dnn_now() - s->t0;
    out->status =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    char *jsonl = in_dir(s->dir, "train.jsonl"), *log = in_dir(s->dir, "dnntrain.log");
    dnn_status st = jsonl && log ? tune_read_metric(jsonl, dnn_monitor_name(pr->metric), s->max_epochs,
                                                    &out->values, &out->epochs, err)
                                 : dnn_fail_oom(err, s->dir, 0);
    if (!st && out->status == 127)
        snprintf(out->message, sizeof out->message, "cannot run %s", pr->dnntrain);
    else if (!st && WIFSIGNALED(status))
        snprintf(out->message, sizeof out->message, "killed by signal %d", WTERMSIG(status));
    else if (!st && out->status != 0)
        last_error(log, out->message, sizeof out->message);
    free(jsonl);
    free(log);
    if (s->pidfd >= 0) close(s->pidfd);
    free(s->dir);
    memset(s, 0, sizeof *s);
    s->pidfd = -1;
    return st;
}

static dnn_status proc_wait(void *ctx, dnn_tune_outcome *out, dnn_error *err)
{
    proc_runner *pr = ctx;
    struct pollfd fds[64];
    for (;;) {
        int n = 0, blind = 0, running = 0;
        for (int i = 0; i < pr->jobs; i++) {
            slot *s = &pr->slots[i];
            if (s->ready) return collect(pr, s, 0, out, err); /* 0: a wait status of exit 0 */
            if (!s->pid) continue;
            running++;
            int status;
            pid_t r = waitpid(s->pid, &status, WNOHANG);
            if (r == s->pid) return collect(pr, s, status, out, err);
            if (r < 0 && errno != EINTR)
                return dnn_fail(err, DNN_EINTERNAL, "trial %d: waitpid: %s", s->trial, strerror(errno));
            if (s->pidfd >= 0 && n < 64)
                fds[n++] = (struct pollfd){.fd = s->pidfd, .events = POLLIN};
            else
                blind = 1;
        }
        if (!running) return dnn_fail(err, DNN_EINTERNAL, "waiting with no trial running");
        /* a pidfd becomes readable when its process ends; without them, look again every 50 ms */
        if (poll(fds, (nfds_t)n, blind ? 50 : -1) < 0 && errno == EINTR) return DNN_EINTERRUPTED;
    }
}

static void proc_stop(void *ctx, int force)
{
    proc_runner *pr = ctx;
    for (int i = 0; i < pr->jobs; i++) {
        slot *s = &pr->slots[i];
        if (!s->pid || s->signalled > force) continue;
        kill(s->pid,
             force ? SIGKILL : SIGTERM); /* one SIGTERM: a second would make dnntrain skip its checkpoint */
        s->signalled = force + 1;
    }
}

dnn_status tune_proc_runner_create(dnn_tune_runner *r, const char *dnntrain, int threads, int jobs,
                                   dnn_monitor metric, dnn_error *err)
{
    memset(r, 0, sizeof *r);
    if (jobs > 64) return dnn_fail(err, DNN_ECONFIG, "--jobs %d: at most 64 trials run at once", jobs);
    proc_runner *pr = calloc(1, sizeof *pr);
    if (!pr) return dnn_fail_oom(err, "the trial runner", 0);
    pr->slots = calloc((size_t)jobs, sizeof *pr->slots);
    pr->dnntrain = dnn_strdup(dnntrain);
    if (!pr->slots || !pr->dnntrain) {
        free(pr->slots);
        free(pr->dnntrain);
        free(pr);
        return dnn_fail_oom(err, "the trial runner", 0);
    }
    for (int i = 0; i < jobs; i++) pr->slots[i].pidfd = -1;
    pr->threads = threads;
    pr->jobs = jobs;
    pr->metric = metric;
    *r = (dnn_tune_runner){proc_start, proc_wait, proc_stop, pr};
    return DNN_OK;
}

void tune_proc_runner_free(dnn_tune_runner *r)
{
    proc_runner *pr = r ? r->ctx : NULL;
    if (!pr) return;
    for (int i = 0; i < pr->jobs; i++) {
        slot *s = &pr->slots[i];
        if (!s->pid) {
            free(s->dir); /* a ready outcome never collected */
            continue;
        }
        kill(s->pid, SIGKILL); /* only after an error: nothing may outlive the study */
        waitpid(s->pid, NULL, 0);
        if (s->pidfd >= 0) close(s->pidfd);
        free(s->dir);
    }
    free(pr->slots);
    free(pr->dnntrain);
    free(pr);
    r->ctx = NULL;
}
