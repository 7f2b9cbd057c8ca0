/* Batches from a data set in memory: an epoch is a Fisher-Yates shuffle of the training indices, dealt in
 * slices of the batch size. */
#include "dnn/batches.h"

#include <stdlib.h>
#include <string.h>

static dnn_status mem_epoch(dnn_batches *b, dnn_rng *rng, int shuffle, size_t skip, dnn_error *err)
{
    (void)err;
    dnn_memory_batches *m = b->impl;
    const size_t n = (size_t)b->n_train;
    memcpy(m->order, m->train, n * sizeof *m->order);
    if (shuffle) dnn_rng_shuffle(rng, m->order, n);
    m->at = skip >= (n + m->batch - 1) / m->batch ? n : skip * m->batch;
    return DNN_OK;
}

static size_t take(const dnn_memory_batches *m, const uint32_t *idx, size_t n, size_t at, const dnn_norm *nm,
                   float *x, int32_t *y, float *t)
{
    size_t rows = n - at < m->batch ? n - at : m->batch;
    if (rows) dnn_gather(m->ds, nm, idx + at, rows, x, y, t);
    return rows;
}

static dnn_status mem_next(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t, size_t *rows,
                           dnn_error *err)
{
    (void)err;
    dnn_memory_batches *m = b->impl;
    *rows = take(m, m->order, (size_t)b->n_train, m->at, nm, x, y, t);
    m->at += *rows;
    return DNN_OK;
}

static dnn_status mem_val_begin(dnn_batches *b, dnn_error *err)
{
    (void)err;
    ((dnn_memory_batches *)b->impl)->val_at = 0;
    return DNN_OK;
}

static dnn_status mem_val_next(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t,
                               size_t *rows, dnn_error *err)
{
    (void)err;
    dnn_memory_batches *m = b->impl;
    *rows = take(m, m->val, (size_t)b->n_val, m->val_at, nm, x, y, t);
    m->val_at += *rows;
    return DNN_OK;
}

dnn_status dnn_batches_memory(dnn_batches *b, dnn_memory_batches *mem, const dnn_dataset *ds,
                              const uint32_t *train, size_t n_train, const uint32_t *val, size_t n_val,
                              size_t batch, dnn_error *err)
{
    memset(mem, 0, sizeof *mem);
    mem->ds = ds, mem->train = train, mem->val = val, mem->batch = batch ? batch : 1;
    mem->order = malloc(n_train * sizeof *mem->order + 1);
    if (!mem->order) return dnn_fail_oom(err, "the epoch order", n_train * sizeof *mem->order);
    *b = (dnn_batches){.n_train = n_train,
                       .n_val = n_val,
                       .d = ds->d,
                       .epoch = mem_epoch,
                       .next = mem_next,
                       .val_begin = mem_val_begin,
                       .val_next = mem_val_next,
                       .impl = mem};
    return DNN_OK;
}

void dnn_batches_memory_free(dnn_memory_batches *mem)
{
    if (!mem) return;
    free(mem->order);
    mem->order = NULL;
}
