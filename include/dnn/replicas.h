/* A training step's arithmetic shared out. The rows of this process's part of a batch are split across
 * threads, each running a replica of the network (a workspace and gradients of its own, the parameters
 * shared) on single-threaded products, which for the batch sizes of training is faster than threading each
 * product; then the optimizer update is split, each thread, and each process of an MPI job, updating its
 * own share of the parameters, so that no part of a step is repeated on every thread or process.
 *
 * A step: dnn_replicas_gradient, dnn_replicas_sync, dnn_replicas_penalty, dnn_replicas_update. Results
 * depend on the threads and processes only through the order in which the parts' gradients are added. */
#ifndef DNN_REPLICAS_H
#define DNN_REPLICAS_H

#include <stdint.h>

#include "dnn/comm.h"
#include "dnn/model.h"
#include "dnn/optim.h"
#include "dnn/workers.h"

typedef struct dnn_replicas dnn_replicas;

/* Fewest rows a thread gets, and fewest weights times rows (about the multiply-adds of a pass): below, a
 * batch is too little work to share out (a step of a small tabular network takes microseconds, less than
 * waking a thread), and stays on one thread, its products using threads instead. */
#define DNN_REPLICA_MIN_ROWS 8
#define DNN_REPLICA_MIN_WORK (1 << 20)

/* The threads (of threads) that split batches of up to rows rows of net: for training, none for a network
 * with batchnorm (its statistics would become a thread's rows'). 1: the batch stays whole. */
int dnn_row_threads(const dnn_net *net, int rows, int threads, int training);

/* Threads that each run a network of their own over their share of a batch's rows: thread 0 net itself, the
 * others views of it (with gradients of their own for training) for up to max_rows / n rows. Training and
 * evaluation both run on one. While a team of more than one lives, BLAS and the bf16 products run one thread
 * per caller (OpenBLAS's idle threads parked), and net's bf16 products are prepared for a thread's share. */
typedef struct {
    dnn_workers *workers; /* NULL for a team of one */
    dnn_net **nets;       /* n */
    int n;
    int blas_threads; /* to restore */
} dnn_row_team;
/* dnn_row_threads(net, rows, threads, training) threads (threads <= 0: BLAS's thread count, but at most the
 * CPUs this process may run on, as a team waits for all its threads at every job); cfg is net's config. */
dnn_status dnn_row_team_create(dnn_row_team *t, const dnn_config *cfg, dnn_net *net, int rows, int max_rows,
                               int threads, int training, dnn_error *err);
/* Free the views and threads and restore the BLAS threads (a zeroed team is fine). */
void dnn_row_team_free(dnn_row_team *t);

/* For m's network (with its precision set) and optimizer opt, on job comm (NULL: alone): a dnn_row_team of
 * threads threads (<= 0: the default) for this process's part of a batch; with one, it runs the step with the
 * BLAS threads as they are. */
dnn_status dnn_replicas_create(dnn_replicas **out, dnn_model *m, dnn_optim *opt, dnn_comm *comm, int threads,
                               dnn_error *err);
/* Restores the BLAS threads (NULL is fine). */
void dnn_replicas_free(dnn_replicas *r);
/* The threads that split a batch's rows (1: none do). */
int dnn_replicas_threads(const dnn_replicas *r);

/* A part of a batch: rows of x [rows, n_in] with their classes y or targets t [rows, n_out], which are
 * rows row0.. of a batch of total rows whose dropout masks come from key. When fill is not NULL the rows are
 * not there yet: each thread first calls fill(fill_ctx, lo, hi) to gather its own rows [lo, hi) into x, y
 * and t, so that the gathering is shared out too and each thread's rows are in its own cache. */
typedef struct {
    float *x, *t;
    int32_t *y;
    int rows, total;
    size_t row0;
    uint64_t key;
    void (*fill)(void *fill_ctx, size_t lo, size_t hi);
    void *fill_ctx;
} dnn_step_rows;

/* Training pass of the part: the gradient of the whole batch's mean loss from these rows (without l2), in
 * the threads' replicas until dnn_replicas_sync adds them up; returns their summed loss and adds their
 * correct predictions to *correct. */
double dnn_replicas_gradient(dnn_replicas *r, const dnn_step_rows *p, double *correct);
/* Evaluation pass of the part (key and total unused): its summed loss, correct predictions added. */
double dnn_replicas_score(dnn_replicas *r, const dnn_step_rows *p, double *correct);
/* Add up the gradients across the threads and processes (a sharded step leaves this process its part
 * alone; alone, the update adds up the threads' as it goes) and sums[0..n) across the processes; average
 * batchnorm's running statistics. */
dnn_status dnn_replicas_sync(dnn_replicas *r, double *sums, int n, dnn_error *err);
/* The l2 penalty of the weights (the same on every process). */
double dnn_replicas_penalty(dnn_replicas *r);
/* The optimizer step at learning rate lr, with l2's gradient and clipping, after which every process holds
 * the updated parameters (and in bf16 their rounded copies). */
dnn_status dnn_replicas_update(dnn_replicas *r, double lr, dnn_error *err);
/* Make the optimizer's state whole on every process (a sharded step keeps each process's part current), as
 * a checkpoint needs it. */
dnn_status dnn_replicas_gather_state(dnn_replicas *r, dnn_error *err);

#endif
