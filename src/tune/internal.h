/* What the files of the tuning module share, and what its unit test reaches into: values of a search space,
 * the trial table, the samplers (random, grid, TPE), ASHA's rungs, the journal, the child-process runner and
 * the result files. */
#ifndef DNN_TUNE_INTERNAL_H
#define DNN_TUNE_INTERNAL_H

#include <stddef.h>

#include "dnn/rng.h"
#include "dnn/tune.h"

/* Random streams of a study, apart from the training streams a trial's own seed drives. */
#define TUNE_STREAM_TRIAL 0x74756e6500000000ull /* + trial number: that trial's draws */
#define TUNE_STREAM_GRID  0x6772696400000000ull /* the order of a grid's points */

/* A grid larger than this is refused: enumerating it would not be a search anyone waits for. */
#define TUNE_MAX_GRID 100000

/* ---- values ---- */

/* The node at a dotted path ("model.layers.1.type" or "model.layers[1].type"), or NULL. */
const cJSON *tune_json_at(const cJSON *root, const char *path);
/* A uniform draw from p (a choice's index for a choice). */
double tune_draw(const dnn_param *p, dnn_rng *r);
/* A value as JSON (the choice itself for a choice); NULL on allocation failure. */
cJSON *tune_value_json(const dnn_param *p, double v);
/* The value that JSON stands for in p: 0, or -1 when it is not one of p's values. */
int tune_value_from_json(const dnn_param *p, const cJSON *j, double *v);
/* Whether p's condition holds in a config built so far. */
int tune_cond_holds(const dnn_param *p, const cJSON *config);
/* "key=value" in a few characters, for progress lines and tables. */
void tune_value_text(const dnn_param *p, double v, char *buf, size_t n);

/* Draws the value of parameter i for a trial whose config so far is `config` (NaN is never asked for). */
typedef double (*tune_draw_fn)(void *ctx, int i, const cJSON *config);
/* Build a trial: for each key in order, when its condition holds in the config so far, draw its value and
 * apply it; vals[i] gets the value or NaN. *config (malloc'ed tree) is the base with the values applied and,
 * with ASHA, training.epochs set to the whole trial's epochs; data paths as the base writes them. */
dnn_status tune_build(const dnn_sweep *sw, tune_draw_fn draw, void *ctx, double *vals, cJSON **config,
                      dnn_error *err);
/* The grid's distinct points in their seeded order (sw->grid, sw->n_grid). */
dnn_status tune_grid_build(dnn_sweep *sw, dnn_error *err);

/* ---- the trial table ---- */

typedef enum {
    TRIAL_NEW,     /* sampled, not started */
    TRIAL_RUNNING, /* a segment runs (after a replay: was running when the study stopped) */
    TRIAL_PAUSED,  /* at a rung, waiting for a promotion */
    TRIAL_COMPLETED,
    TRIAL_FAILED,
    TRIAL_PRUNED /* paused when the study ended */
} tune_state;

typedef struct {
    int number;
    tune_state state;
    double *vals;   /* sw->n_params searched values (NaN: left out by a condition) */
    cJSON *config;  /* its config, data paths resolved (NULL when the values made an invalid config) */
    int max_epochs; /* its config's training.epochs */
    int epochs;     /* done */
    int until;      /* the epoch the running (or last) segment goes to */
    double *values; /* the metric after each epoch (max_epochs slots) */
    double seconds; /* its segments' wall time */
    int status;     /* failed: dnntrain's exit code */
    char *message;  /* failed: why */
    int pending;    /* replayed: its segment to `until` must run before any new decision */
} tune_trial;

/* The best value over epochs 1..epochs as "lower is better" (-value when maximizing); +inf when none is
 * finite. *at gets its epoch (0: none). */
double tune_best_upto(const tune_trial *t, int epochs, int maximize, int *at);
const char *tune_state_name(tune_state s);

/* ---- samplers ---- */

/* An observation for TPE: a trial's values and how good it is (more epochs first, then the value). */
typedef struct {
    const double *vals;
    double steps; /* epochs reached; INFINITY when completed */
    double score; /* lower is better */
    int number;
} tune_obs;

/* Split observations into the good (first gamma(n)) and the rest, each in trial order. Sorts obs. */
int tune_tpe_split(tune_obs *obs, int n);
/* TPE's choice for parameter i given good and bad observations: `candidates` draws from the good
 * estimator l(x), the one with the largest l(x)/g(x). */
double tune_tpe_draw(const dnn_param *p, int i, const tune_obs *good, int n_good, const tune_obs *bad,
                     int n_bad, int candidates, dnn_rng *r);
/* Values for a new trial from the sweep's sampler, given the trials so far; *config as tune_build. */
dnn_status tune_sample(const dnn_sweep *sw, const tune_trial *trials, int n, int number, double *vals,
                       cJSON **config, dnn_error *err);

/* ---- ASHA ---- */

typedef struct {
    int n;
    int epochs[32]; /* min_epochs * eta^k below max_epochs */
    int max_epochs, eta;
} tune_rungs;

void tune_rungs_init(tune_rungs *r, int min_epochs, int max_epochs, int eta);
/* The epoch a trial that has done `epochs` runs to next: the next rung, else the end. */
int tune_rung_next(const tune_rungs *r, int epochs, int max_epochs);
/* The promotion ASHA makes now: the best paused trial among the top 1/eta of its rung, highest rung first.
 * Returns the index in t[] and sets *until, or -1. */
int tune_asha_promotion(const tune_rungs *r, const tune_trial *t, int n, int maximize, int *until);
/* When the budget is spent and no trial has completed: the best paused trial of the highest rung. */
int tune_asha_fallback(const tune_rungs *r, const tune_trial *t, int n, int maximize, int *until);

/* ---- the journal: DIR/study.jsonl, one JSON object a line, each written whole and fsync'd ---- */

typedef struct {
    int fd;
    char *path;
    double t0, t_base; /* this invocation's start; the study's elapsed time before it */
} tune_journal;

/* Open (creating it when missing) and lock the journal; read its lines (a torn last line is cut off).
 * *lines is a malloc'ed array of parsed objects. */
dnn_status tune_journal_open(tune_journal *j, const char *path, cJSON ***lines, int *n, dnn_error *err);
/* Empty it (a study started afresh in the same folder). */
dnn_status tune_journal_reset(tune_journal *j, dnn_error *err);
/* Append one line, stamped with "t" (the study's elapsed seconds), and fsync it. Consumes line. */
dnn_status tune_journal_append(tune_journal *j, cJSON *line, dnn_error *err);
double tune_journal_elapsed(const tune_journal *j);
void tune_journal_close(tune_journal *j);

/* ---- the default runner: dnntrain in child processes ---- */

dnn_status tune_proc_runner_create(dnn_tune_runner *r, const char *dnntrain, int threads, int jobs,
                                   dnn_monitor metric, dnn_error *err);
void tune_proc_runner_free(dnn_tune_runner *r);
/* The metric of each epoch in a train.jsonl (the last line of an epoch wins; a torn last line is skipped). */
dnn_status tune_read_metric(const char *jsonl, const char *metric, int max_epochs, double **values, int *n,
                            dnn_error *err);

/* ---- results ---- */

/* trials.csv, best.json (when a trial completed) and report.html in dir. best: index in t[] or -1. */
dnn_status tune_write_csv(const char *dir, const dnn_sweep *sw, const tune_trial *t, int n, dnn_error *err);
dnn_status tune_write_best(const char *dir, const dnn_sweep *sw, const tune_trial *best, dnn_error *err);
dnn_status tune_write_report(const char *dir, const dnn_sweep *sw, const tune_trial *t, int n, int best,
                             double seconds, dnn_error *err);
/* The folder of trial `number` under dir ("DIR/trials/0007"); malloc'ed. */
char *tune_trial_dir(const char *dir, int number);

#endif
