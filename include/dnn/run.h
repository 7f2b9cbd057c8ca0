/* A training run as dnntrain does it: config -> data -> model -> training with checkpoints, the epoch log
 * and the final report in one folder. The command-line main only parses flags and calls this. */
#ifndef DNN_RUN_H
#define DNN_RUN_H

#include <signal.h>

#include "dnn/comm.h"
#include "dnn/error.h"
#include "dnn/train.h"

typedef struct {
    const char *config_path;      /* may be NULL when resuming */
    const char *resume_path;      /* checkpoint to continue from, or NULL */
    const char *const *overrides; /* --set KEY=VALUE */
    int n_overrides;
    const char *out_dir; /* --out, or NULL */
    int overwrite;       /* --overwrite: a fresh run may replace another run's files in its folder */
    int until_epoch;     /* --until-epoch: > 0 pauses the run after this epoch, checkpointed for --resume */
    size_t max_memory;   /* --max-memory: the budget for data and model (0: 3/4 of physical memory) */
    /* progress for the caller to show (may be NULL) */
    void (*on_batch)(void *ctx, const dnn_progress *p);
    void (*on_epoch)(void *ctx, const dnn_epoch_log *log, int improved);
    void (*on_message)(void *ctx, int detail,
                       const char *msg); /* notes for the user; detail: only for --verbose */
    void *ctx;
    volatile sig_atomic_t *stop;
    /* The processes training together (NULL: this one alone). Every process of the job calls dnn_run_train
     * with the same options; rank 0 alone creates, locks and writes the run folder. */
    dnn_comm *comm;
} dnn_run_opts;

typedef struct {
    char out_dir[4096];
    int epochs_run;
    int best_epoch;
    int paused;        /* stopped at until_epoch before training.epochs: no final report yet */
    int nothing_to_do; /* a resumed run that had finished already: nothing was trained or written */
    double test_accuracy, test_loss; /* NaN when there is no test set */
} dnn_run_result;

dnn_status dnn_run_train(const dnn_run_opts *o, dnn_run_result *res, dnn_error *err);

#endif
