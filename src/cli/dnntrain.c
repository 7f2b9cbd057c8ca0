/* dnntrain: parse flags, call dnn_run_train, show progress, map errors to exit codes. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dnn/blas.h"
#include "dnn/comm.h"
#include "dnn/run.h"
#include "dnn/util.h"
#include "options.h"

static volatile sig_atomic_t stop_requested = 0;

/* First signal: finish the batch, checkpoint, exit 130. Second: leave at once; the last checkpoint is
 * intact because every write goes through a temporary file and a rename. */
static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested) _exit(130);
    stop_requested = 1;
}

typedef struct {
    int quiet, verbose, tty;
    double last_draw;
    int drawn;
} ui;

static void fmt_eta(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "--");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void on_batch(void *ctx, const dnn_progress *p)
{
    ui *u = ctx;
    if (u->quiet || !u->tty) return;
    double now = dnn_now();
    if (p->batch != p->batches && now - u->last_draw < 0.1) return; /* redraw ten times a second at most */
    u->last_draw = now;
    int width = 24, done = (int)((double)width * (double)p->batch / (double)p->batches);
    char bar[32], eta[16];
    for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : i == done ? '>' : ' ';
    bar[width] = '\0';
    double rate = p->seconds > 0 ? (double)p->samples / p->seconds : 0;
    fmt_eta(p->seconds * ((double)p->batches / (double)p->batch - 1.0), eta, sizeof eta);
    dnn_fprintf_c(stderr, "\r\033[Kepoch %d/%d [%s] %zu/%zu  %.0f samples/s  loss %.4f  ETA %s", p->epoch,
                  p->epochs, bar, p->batch, p->batches, rate, p->loss, eta);
    u->drawn = 1;
}

static void on_epoch(void *ctx, const dnn_epoch_log *e, int improved)
{
    ui *u = ctx;
    if (u->quiet) return;
    if (u->drawn) fputs("\r\033[K", stderr);
    u->drawn = 0;
    dnn_fprintf_c(stderr, "epoch %d  loss %.4f", e->epoch, e->loss);
    if (isfinite(e->accuracy)) dnn_fprintf_c(stderr, "  accuracy %.4f", e->accuracy);
    if (isfinite(e->val_loss)) dnn_fprintf_c(stderr, "  val_loss %.4f", e->val_loss);
    if (isfinite(e->val_accuracy)) dnn_fprintf_c(stderr, "  val_accuracy %.4f", e->val_accuracy);
    dnn_fprintf_c(stderr, "  lr %.3g  %.2fs  %.0f samples/s%s\n", e->lr, e->seconds, e->samples_per_second,
                  improved ? "  *" : "");
}

static void on_message(void *ctx, int detail, const char *msg)
{
    ui *u = ctx;
    if (u->quiet || (detail && !u->verbose)) return;
    fprintf(stderr, "dnntrain: %s\n", msg);
}

/* Point stdout and stderr at /dev/null; returns what restores them (-1 when they were left alone). */
static int mute(void)
{
    int null = open("/dev/null", O_WRONLY), saved = null >= 0 ? dup(STDERR_FILENO) : -1;
    if (saved >= 0) {
        fflush(stdout);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    if (null >= 0) close(null);
    return saved;
}

static void unmute(int saved)
{
    if (saved < 0) return;
    fflush(stdout);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    dup2(saved, STDOUT_FILENO); /* the flags have been parsed: nothing goes to stdout from here */
    close(saved);
}

static int train_main(dnn_comm *comm, int argc, char **argv)
{
    const int rank = dnn_comm_rank(comm);
    /* Rank 0 speaks for the job: every process parses the same flags and meets the same errors. */
    int muted = rank ? mute() : -1;
    cli_parser p;
    static const char *sets[257];
    cli_init(&p, "dnntrain", DNNTRAIN_OPTIONS, DNNTRAIN_N_OPTIONS);
    dnn_run_opts o = {0};
    ui u = {0};
    long threads = 0, seed = -1, until = 0;
    int n_sets = 0, c, want_version = 0;
    char seed_set[64];
    while ((c = cli_next(&p, argc, argv)) != -1) {
        switch (c) {
        case T_CONFIG: o.config_path = optarg; break;
        case T_RESUME: o.resume_path = optarg; break;
        case T_OUT: o.out_dir = optarg; break;
        case T_OVERWRITE: o.overwrite = 1; break;
        case T_SET:
            if (n_sets == 255) {
                fprintf(stderr, "dnntrain: more than 255 --set options\n");
                return 2;
            }
            sets[n_sets++] = optarg;
            break;
        case T_THREADS:
            if (cli_int(p.prog, "threads", optarg, 1, 1024, &threads)) return 2;
            break;
        case T_SEED:
            if (cli_int(p.prog, "seed", optarg, 0, (1L << 53), &seed)) return 2;
            break;
        case T_MAX_MEMORY:
            if (cli_max_memory(p.prog, optarg, &o.max_memory)) return 2;
            break;
        case T_UNTIL_EPOCH:
            if (cli_int(p.prog, "until-epoch", optarg, 1, INT32_MAX, &until)) return 2;
            o.until_epoch = (int)until;
            break;
        case T_QUIET: u.quiet = 1; break;
        case T_VERBOSE: u.verbose = 1; break;
        case T_HELP: cli_help(&p, stdout, DNNTRAIN_USAGE, DNNTRAIN_EXAMPLES); return 0;
        case T_VERSION: want_version = 1; break;
        default: return 2;
        }
    }
    if (!threads && !getenv("OPENBLAS_NUM_THREADS"))
        threads = dnn_comm_threads(comm); /* processes on one machine share its cores */
    if (want_version) {                   /* after every flag, so --version --threads 1 reports 1 thread */
        char job[300];
        cli_set_threads(threads);
        cli_version(p.prog);
        printf("MPI: %s\n", dnn_comm_describe(comm, job, sizeof job));
        return 0;
    }
    if (optind < argc) {
        fprintf(stderr, "dnntrain: unexpected argument \"%s\" (options start with --; see --help)\n",
                argv[optind]);
        return 2;
    }
    if (!o.config_path && !o.resume_path) {
        fprintf(stderr, "dnntrain: --config FILE.json is required (or --resume CKPT); see --help\n");
        return 2;
    }
    unmute(muted);
    u.quiet |= rank != 0;
    if (seed >= 0) {
        snprintf(seed_set, sizeof seed_set, "seed=%ld", seed);
        sets[n_sets++] = seed_set;
    }
    cli_set_threads(threads);
    /* a progress bar needs a terminal that understands its escape sequences */
    const char *term = getenv("TERM");
    u.tty = isatty(STDERR_FILENO) && term && *term && strcmp(term, "dumb") != 0;
    o.overrides = sets;
    o.n_overrides = n_sets;
    o.on_batch = on_batch;
    o.on_epoch = on_epoch;
    o.on_message = on_message;
    o.ctx = &u;
    o.stop = &stop_requested;
    o.comm = comm;

    cli_catch_signals(on_signal);
    /* and SIGUSR1, which mpirun forwards to every process without ending the job itself */
    struct sigaction usr1;
    sigaction(SIGINT, NULL, &usr1);
    sigaction(SIGUSR1, &usr1, NULL);

    dnn_run_result res;
    dnn_error err = {0};
    dnn_status st = dnn_run_train(&o, &res, &err);
    if (u.drawn) fputs("\r\033[K", stderr);
    if (st == DNN_EINTERRUPTED) {
        if (!u.quiet && rank == 0)
            fprintf(stderr, "dnntrain: %s; checkpoint saved in %s/ckpt.bin (continue with --resume)\n",
                    err.msg, res.out_dir);
        return 130;
    }
    if (st) {
        if (rank != 0 && !dnn_comm_failed(comm)) return (int)st; /* rank 0 says it */
        fprintf(stderr, "dnntrain: %s\n", err.msg);
        if (st == DNN_EDIVERGED && res.out_dir[0])
            fprintf(stderr, "dnntrain: the last good checkpoint, if any, is %s/ckpt.bin\n", res.out_dir);
        return (int)st;
    }
    if (!u.quiet && !res.nothing_to_do) {
        if (isfinite(res.test_accuracy))
            dnn_fprintf_c(stdout, "test accuracy %.4f  loss %.4f\n", res.test_accuracy, res.test_loss);
        else if (isfinite(res.test_loss))
            dnn_fprintf_c(stdout, "test loss %.6g\n", res.test_loss);
        if (res.paused)
            printf("paused after epoch %d in %s (continue with --resume %s/ckpt.bin)\n", res.epochs_run,
                   res.out_dir, res.out_dir);
        else
            printf("run folder %s (epochs %d, best %d)\n", res.out_dir, res.epochs_run, res.best_epoch);
    }
    return 0;
}

int main(int argc, char **argv)
{
    dnn_comm *comm = NULL;
    dnn_error err = {0};
    if (dnn_comm_init(&comm, &argc, &argv, &err)) {
        fprintf(stderr, "dnntrain: %s\n", err.msg);
        if (dnn_comm_failed(comm)) dnn_comm_abort(comm, DNN_EIO);
        return DNN_EIO;
    }
    int code = train_main(comm, argc, argv);
    /* the others may be waiting for this process in an operation it could not finish */
    if (dnn_comm_failed(comm)) dnn_comm_abort(comm, code);
    dnn_comm_finalize(comm);
    return code;
}
