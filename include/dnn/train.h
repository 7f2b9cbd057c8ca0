/* The training loop: epochs of seeded shuffled batches, validation, schedules, early stopping, divergence
 * checks. It reports through callbacks and knows nothing of files: the caller checkpoints and logs. */
#ifndef DNN_TRAIN_H
#define DNN_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "dnn/batches.h"
#include "dnn/comm.h"
#include "dnn/data.h"
#include "dnn/error.h"
#include "dnn/model.h"
#include "dnn/optim.h"
#include "dnn/rng.h"

/* Metrics of one epoch. Timings are kept apart from the rest, which must be reproducible. */
typedef struct {
    int epoch; /* 1-based */
    double loss, accuracy, val_loss, val_accuracy, lr;
    double seconds, samples_per_second;
} dnn_epoch_log;

/* Everything besides the model that a resumed run needs to continue exactly. */
typedef struct {
    int epoch;     /* epochs completed */
    uint64_t step; /* optimizer steps taken */
    dnn_optim *opt;
    dnn_schedule sched;
    dnn_rng shuffle_rng, dropout_rng;
    /* An epoch stopped part way (by a signal): batches done, the shuffle generator as it was when the epoch
     * began (to deal the same order again), and the sums so far. */
    size_t batch;
    dnn_rng epoch_rng;
    double part_loss;
    uint64_t part_correct, part_seen;
    double part_seconds;
    dnn_epoch_log *history; /* one per completed epoch */
    int n_history;
    /* the best epoch by the monitored value (early stopping's monitor, else val_loss or loss) */
    double best_value;
    int best_epoch; /* 0: none yet */
    int wait;       /* epochs since the best */
    int stopped_early;
    /* Early stopping with restore_best: the parameters and network state of the best epoch. They are kept
     * apart from the model's, which always continue from the last epoch, so a resumed run is exact; the
     * best ones are what an evaluation scores (dnn_train_use_best, and the checkpoint's BEST section). */
    float *best_params;
} dnn_train_state;

dnn_status dnn_train_state_init(dnn_train_state *s, const dnn_model *m, dnn_error *err);
void dnn_train_state_free(dnn_train_state *s);

typedef struct {
    int epoch, epochs;
    size_t batch, batches;
    size_t samples; /* done in this epoch */
    double loss;    /* running mean of the epoch so far */
    double seconds; /* since the epoch began */
} dnn_progress;

/* What the loop tells the caller at the end of each epoch; improved says the epoch is the best so far. */
typedef dnn_status (*dnn_epoch_fn)(void *ctx, const dnn_epoch_log *log, int improved, dnn_error *err);

typedef struct {
    void (*on_batch)(void *ctx, const dnn_progress *p); /* may be NULL */
    dnn_epoch_fn on_epoch;                              /* may be NULL */
    void *ctx;
    volatile sig_atomic_t *stop; /* when it becomes non-zero the loop ends after the current batch */
    int until_epoch;             /* > 0: pause after this epoch, as if training.epochs ended there */
    /* The processes training together (NULL: this one alone): each computes the gradient of its part of
     * every batch, and they sum them; on_epoch is then rank 0's to give (see dnn_train). */
    dnn_comm *comm;
    /* > 0: the threads that split each batch's rows (dnn_replicas); 0: BLAS's thread count, but at most the
     * CPUs this process may run on (a team waits for all its threads at every job: one without a CPU of its
     * own would stall every step) */
    int threads;
} dnn_train_hooks;

/* Train from s->epoch to the config's epochs (or until early stopping, hooks->until_epoch, or *stop), on the
 * batches data deals (from memory or a stream). Returns DNN_EINTERRUPTED when stopped mid-epoch (the model
 * then holds the state after the last whole batch, and the hook has not seen the partial epoch),
 * DNN_EDIVERGED when a loss or weight became NaN or Inf (the model is then poisoned: the caller keeps its
 * last checkpoint).
 * With hooks->comm, every process of the job calls this with the same model and state, and data dealing it
 * its part of every batch (dnn_batches' rank and ranks), every process the same number of batches. The
 * replicas start from rank 0's parameters and stay identical: each process works on its rows of every batch,
 * the gradients and sums are added up across processes, batchnorm's running statistics averaged, and every
 * output.every_epochs epochs the parameters' checksums compared. A failure of one process's hook (rank 0's
 * on_epoch) and a stop request on any process end the loop on all, at the same step, with the same status. */
dnn_status dnn_train(dnn_model *m, dnn_train_state *s, dnn_batches *data, const dnn_train_hooks *hooks,
                     dnn_error *err);

/* Put the best epoch's weights (kept by restore_best) into the model, for scoring it; no-op without them.
 * Training cannot continue exactly from the result. */
void dnn_train_use_best(dnn_model *m, const dnn_train_state *s);

/* The value that decides the best epoch, and whether lower is better. */
double dnn_monitored(const dnn_epoch_log *log, dnn_monitor mon);
int dnn_monitor_minimizes(dnn_monitor mon);
/* The monitored value of a run: early stopping's, else val_loss with a validation split, else loss. */
dnn_monitor dnn_train_monitor(const dnn_config *c, size_t n_val);

#endif
