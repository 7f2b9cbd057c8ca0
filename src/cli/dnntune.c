/* dnntune: parse flags, find dnntrain, call dnn_tune_run, show each trial's progress, map errors to exit
 * codes. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dnn/tune.h"
#include "dnn/util.h"
#include "options.h"

static volatile sig_atomic_t stop_requested = 0;

/* First signal: start nothing new, let running trials checkpoint, exit 130. Second: stop them at once. */
static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested < 2) stop_requested++;
}

static void on_event(void *ctx, const dnn_tune_event *e)
{
    if (*(const int *)ctx) return; /* --quiet */
    switch (e->kind) {
    case DNN_TUNE_STARTED:
        if (e->text)
            fprintf(stderr, "trial %d: started (to epoch %d)  %s\n", e->trial, e->until, e->text);
        else
            fprintf(stderr, "trial %d: %s epoch %d to %d\n", e->trial,
                    e->epochs ? "goes on from" : "starts again at", e->epochs, e->until);
        break;
    case DNN_TUNE_ENDED:
        if (strcmp(e->state, "failed") == 0) {
            fprintf(stderr, "trial %d: failed: %s\n", e->trial, e->text ? e->text : "");
            break;
        }
        dnn_fprintf_c(stderr, "trial %d: %s at epoch %d of %d  %s %.6g%s\n", e->trial, e->state, e->epochs,
                      e->max_epochs, e->metric, e->value, e->best ? "  (best so far)" : "");
        break;
    default: fprintf(stderr, "dnntune: %s\n", e->text); break;
    }
}

/* dnntrain beside this program (as installed, and in the build tree), else the first on PATH. */
static int find_dnntrain(char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, n, "%s/dnntrain", self);
            if (access(out, X_OK) == 0) return 0;
        }
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t seg = strcspn(path, ":");
        snprintf(out, n, "%.*s/dnntrain", (int)seg, path);
        if (seg && access(out, X_OK) == 0) return 0;
        path += seg + (path[seg] == ':');
    }
    return -1;
}

int main(int argc, char **argv)
{
    cli_parser p;
    cli_init(&p, "dnntune", DNNTUNE_OPTIONS, DNNTUNE_N_OPTIONS);
    dnn_tune_opts o = {0};
    int quiet = 0, c;
    long jobs = 1, threads = 0;
    while ((c = cli_next(&p, argc, argv)) != -1) {
        switch (c) {
        case U_CONFIG: o.sweep_path = optarg; break;
        case U_OUT: o.out_dir = optarg; break;
        case U_RESUME: o.resume_dir = optarg; break;
        case U_JOBS:
            if (cli_int(p.prog, "jobs", optarg, 1, 64, &jobs)) return 2;
            break;
        case U_THREADS_PER_TRIAL:
            if (cli_int(p.prog, "threads-per-trial", optarg, 1, 1024, &threads)) return 2;
            break;
        case U_OVERWRITE: o.overwrite = 1; break;
        case U_QUIET: quiet = 1; break;
        case U_HELP: cli_help(&p, stdout, DNNTUNE_USAGE, DNNTUNE_EXAMPLES); return 0;
        case U_VERSION: cli_version(p.prog); return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dnntune: unexpected argument \"%s\" (options start with --; see --help)\n",
                argv[optind]);
        return 2;
    }
    if (!o.sweep_path == !o.resume_dir) {
        fprintf(stderr, "dnntune: %s\n",
                o.sweep_path ? "--config starts a study and --resume continues one: give one of them"
                             : "--config SWEEP.json is required (or --resume DIR); see --help");
        return 2;
    }
    if (o.resume_dir && (o.out_dir || o.overwrite)) {
        fprintf(stderr, "dnntune: --resume continues the study in its own folder: drop --%s\n",
                o.out_dir ? "out" : "overwrite");
        return 2;
    }
    char dnntrain[PATH_MAX + 16];
    if (find_dnntrain(dnntrain, sizeof dnntrain)) {
        fprintf(stderr, "dnntune: cannot find dnntrain beside dnntune or on PATH\n");
        return 2;
    }
    cli_set_threads(1); /* the trials do the arithmetic, each with its own threads */
    o.jobs = (int)jobs;
    o.threads_per_trial = (int)threads;
    o.dnntrain = dnntrain;
    o.on_event = on_event;
    o.ctx = &quiet;
    o.stop = &stop_requested;

    cli_catch_signals(on_signal);

    dnn_tune_result res;
    dnn_error err = {0};
    dnn_status st = dnn_tune_run(&o, &res, &err);
    if (res.summary && !quiet) fputs(res.summary, stdout);
    if (st) fprintf(stderr, "dnntune: %s\n", err.msg);
    dnn_tune_result_free(&res);
    return (int)st;
}
