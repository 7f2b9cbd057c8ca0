/* Batches: the training loop's only view of data, served from memory or from a stream. An epoch deals its
 * order from the loop's generator; the loop asks for batches until one comes back empty, then for the
 * validation rows in order.
 *
 * Under data parallelism each process serves the rows of its own share: from memory, its slice of every
 * global batch; from a stream, batches from its own chunks (dnn_stream_opts.rank/ranks), all processes
 * dealing the same number of batches per epoch. */
#ifndef DNN_BATCHES_H
#define DNN_BATCHES_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/dataset.h"
#include "dnn/error.h"
#include "dnn/rng.h"

typedef struct dnn_batches dnn_batches;

/* A batch as one process sees it: its rows, the whole batch's (all processes'), and where its rows start in
 * the whole batch (what keys its dropout masks). Alone, rows == total and first == 0. */
typedef struct {
    size_t rows, total, first;
} dnn_batch_rows;

struct dnn_batches {
    uint64_t n_train, n_val; /* rows per epoch and validation rows, all processes' */
    size_t d;                /* features per row as the network sees them */
    int rank, ranks;         /* this process and how many share the batches (0, 1: alone) */
    /* Begin an epoch: its order drawn from rng when shuffle is set, and the first skip batches passed over
     * (an epoch resumed part way). */
    dnn_status (*epoch)(dnn_batches *b, dnn_rng *rng, int shuffle, size_t skip, dnn_error *err);
    /* The next batch into x [rows, d], y or t (either may be NULL); r->total is 0 after the epoch's last. */
    dnn_status (*next)(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t, dnn_batch_rows *r,
                       dnn_error *err);
    /* Optional (NULL for a source that cannot): next without the gathering, which fill then does, rows
     * [lo, hi) of the batch into x, y, t from their row lo on; fills of disjoint rows may run on several
     * threads at once. */
    dnn_status (*next_rows)(dnn_batches *b, dnn_batch_rows *r, dnn_error *err);
    void (*fill)(const dnn_batches *b, const dnn_norm *nm, size_t lo, size_t hi, float *x, int32_t *y,
                 float *t);
    /* The validation rows, in order, batch by batch. */
    dnn_status (*val_begin)(dnn_batches *b, dnn_error *err);
    dnn_status (*val_next)(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t, size_t *rows,
                           dnn_error *err);
    void *impl;
};

/* Process rank's part [lo, hi) of n rows shared by ranks processes in order: parts differ by at most one
 * row, the first n % ranks processes taking one more. */
void dnn_batch_part(size_t n, int rank, int ranks, size_t *lo, size_t *hi);

/* Batches of at most batch rows from a data set in memory: training rows train[0..n_train) dealt in a fresh
 * seeded order each epoch (as a Fisher-Yates shuffle of those indices), validation rows val[0..n_val). The
 * indices are borrowed; mem is the caller's storage for the state. With ranks > 1, process rank takes its
 * part (dnn_batch_part) of every batch and of the validation rows. */
typedef struct {
    const dnn_dataset *ds;
    const uint32_t *train, *val;
    uint32_t *order;      /* [n_train] this epoch's */
    const uint32_t *rows; /* the current batch's, this process's part */
    size_t batch, at, val_at;
} dnn_memory_batches;

dnn_status dnn_batches_memory(dnn_batches *b, dnn_memory_batches *mem, const dnn_dataset *ds,
                              const uint32_t *train, size_t n_train, const uint32_t *val, size_t n_val,
                              size_t batch, int rank, int ranks, dnn_error *err);
void dnn_batches_memory_free(dnn_memory_batches *mem);

/* Batches read ahead (tf.data's prefetch): b, whose next batch a thread reads and parses while the caller
 * trains on the one before, becomes its prefetching self in place; batch and k size its rows and targets.
 * The rows dealt are b's, in b's order, so results do not change. dnn_prefetch_free (after the last use of b)
 * stops the thread; b's source is still the caller's to close. */
typedef struct dnn_prefetch dnn_prefetch;
dnn_status dnn_batches_prefetch(dnn_batches *b, dnn_prefetch **p, size_t batch, size_t k, dnn_error *err);
void dnn_prefetch_free(dnn_prefetch *p);

#endif
