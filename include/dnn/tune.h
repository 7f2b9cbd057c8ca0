/* Hyperparameter search: a sweep file names a base config, a search space over its dotted keys, an objective,
 * a sampler (random, grid, TPE), a budget and a pruner (ASHA). Trials are ordinary dnntrain runs in
 * DIR/trials/NNNN/; an append-only journal (DIR/study.jsonl) makes the study resumable after any crash. */
#ifndef DNN_TUNE_H
#define DNN_TUNE_H

#include <signal.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/error.h"

typedef struct cJSON cJSON;

typedef enum { DNN_PARAM_UNIFORM, DNN_PARAM_LOGUNIFORM, DNN_PARAM_INT, DNN_PARAM_CHOICE } dnn_param_kind;

/* One searched key. A value is held as a double: the number itself, or a choice's index; NaN when the key's
 * condition does not hold in a trial (the key is then left as the base config has it). */
typedef struct {
    char *key; /* the dotted config path, as the sweep writes it */
    dnn_param_kind kind;
    double lo, hi; /* uniform, loguniform, int: inclusive bounds */
    double step;   /* int: the spacing of values from lo (1 by default) */
    cJSON *choices;
    int n_choices;
    cJSON *cond; /* "if": {"dotted.path": value, ...}, all of which must hold; NULL: always */
} dnn_param;

typedef enum { DNN_SAMPLER_RANDOM, DNN_SAMPLER_GRID, DNN_SAMPLER_TPE } dnn_sampler_kind;

typedef struct {
    char *file;      /* the sweep file, for messages */
    char *base_file; /* the base config, absolute */
    char *base_dir;  /* where the base's relative data paths resolve */
    cJSON *json;     /* the sweep as written */
    cJSON *base;     /* the base config as written (paths unresolved) */

    dnn_monitor metric; /* the objective: an epoch log's val_loss, val_accuracy, loss or accuracy */
    int maximize;
    uint64_t seed;
    dnn_sampler_kind sampler;
    int startup_trials, candidates; /* tpe: random trials first; draws from l(x) per choice */
    int trials;                     /* the budget in trials (for a grid, at most its size) */
    double seconds;                 /* the budget in seconds (0: none) */
    int asha;                       /* the pruner */
    int min_epochs, max_epochs, eta;
    int epochs; /* the epochs of a whole trial */

    dnn_param *params;
    int n_params;
    /* grid: the distinct points (n_params values each, NaN where a condition leaves a key out), in the
     * seeded order the trials take them */
    double *grid;
    int n_grid;
} dnn_sweep;

/* Read and check a sweep file and its base config. Every error names the sweep file and the key. */
dnn_status dnn_sweep_load(dnn_sweep *sw, const char *path, dnn_error *err);
/* The same from trees already read (a study's journal keeps both): takes ownership of json and base. */
dnn_status dnn_sweep_from_json(dnn_sweep *sw, cJSON *json, const char *file, cJSON *base,
                               const char *base_file, dnn_error *err);
void dnn_sweep_free(dnn_sweep *sw);

/* ---- running trials ---- */

/* A segment of a trial's training: from where its run folder stands to epoch `until`. */
typedef struct {
    int trial;
    const char *dir;         /* the trial's run folder, DIR/trials/NNNN */
    const char *config_path; /* its config, DIR/trials/NNNN/config.json */
    const cJSON *config;     /* the same, parsed */
    int until;
} dnn_tune_job;

/* How a segment ended. */
typedef struct {
    int trial;
    int status;     /* dnntrain's exit code (0, 2..6, 130), or 128 + signal when killed */
    int epochs;     /* epochs the trial's run has done */
    double *values; /* the metric after each epoch 1..epochs (malloc'ed; NaN where missing) */
    double seconds; /* wall time of the segment */
    char message[512];
} dnn_tune_outcome;

/* Runs segments. The default one runs dnntrain in child processes; tests give an objective of their own. */
typedef struct {
    dnn_status (*start)(void *ctx, const dnn_tune_job *job, dnn_error *err);
    /* Block until a started segment ends. DNN_EINTERRUPTED: a signal arrived first (look at the stop flag).
     */
    dnn_status (*wait)(void *ctx, dnn_tune_outcome *out, dnn_error *err);
    /* Ask running segments to checkpoint and stop (force: at once). */
    void (*stop)(void *ctx, int force);
    void *ctx;
} dnn_tune_runner;

/* ---- a study ---- */

typedef enum { DNN_TUNE_STARTED, DNN_TUNE_ENDED, DNN_TUNE_NOTE } dnn_tune_event_kind;

typedef struct {
    dnn_tune_event_kind kind;
    int trial;
    int epochs, until, max_epochs;
    const char *state;  /* ended: "paused", "completed", "failed", "pruned" */
    const char *metric; /* ended: the objective's name */
    double value;       /* ended: the trial's best value so far */
    int best;           /* ended: the best completed trial so far */
    const char *text;   /* started: its values; ended: a failure's reason; note: the note */
} dnn_tune_event;

typedef struct {
    const char *sweep_path;        /* a new study from this sweep file ... */
    const char *resume_dir;        /* ... or the study in this folder, continued */
    const char *out_dir;           /* a new study's folder (NULL: tune/<sweep stem>) */
    int overwrite;                 /* a new study may replace one in out_dir */
    int jobs;                      /* trials at once (0: 1) */
    int threads_per_trial;         /* BLAS threads of each (0: the study's, else cores / jobs) */
    const char *dnntrain;          /* the dnntrain binary for the default runner */
    const dnn_tune_runner *runner; /* NULL: dnntrain child processes */
    void (*on_event)(void *ctx, const dnn_tune_event *e);
    void *ctx;
    volatile sig_atomic_t *stop; /* non-zero: stop starting segments, checkpoint running ones (2: at once) */
} dnn_tune_opts;

typedef struct {
    char dir[4096];
    int trials, completed, pruned, failed, unfinished;
    int best_trial; /* -1: none completed */
    double best_value;
    int best_epoch;
    double seconds;       /* wall time of the study, over all its invocations */
    double trial_seconds; /* the trials' own time, summed */
    long epochs_run;      /* epochs trained over all trials */
    int jobs, threads_per_trial;
    char *summary; /* a few lines for people: counts, the best trial and its values (malloc'ed) */
} dnn_tune_result;

/* Run (or continue) a study to the end of its budget and write trials.csv, best.json and report.html.
 * DNN_OK when at least one trial completed; DNN_EINTERRUPTED when stopped (the study can be resumed); else
 * the exit code of the first trial that failed (2: a config, 3: the data, 5: diverged, ...). */
dnn_status dnn_tune_run(const dnn_tune_opts *o, dnn_tune_result *res, dnn_error *err);
void dnn_tune_result_free(dnn_tune_result *res);

#endif
