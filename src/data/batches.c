/* Batches from a data set in memory: an epoch is a Fisher-Yates shuffle of the training indices, dealt in
 * slices of the batch size. */
#include "dnn/batches.h"
#include "dnn/workers.h"

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

void dnn_batch_part(size_t n, int rank, int ranks, size_t *lo, size_t *hi)
{
    dnn_share(n, ranks > 1 ? rank : 0, ranks > 1 ? ranks : 1, 1, lo, hi);
}

static void part(const dnn_batches *b, size_t n, size_t *lo, size_t *hi)
{
    dnn_batch_part(n, b->rank, b->ranks, lo, hi);
}

static dnn_status mem_next_rows(dnn_batches *b, dnn_batch_rows *r, dnn_error *err)
{
    (void)err;
    dnn_memory_batches *m = b->impl;
    const size_t n = (size_t)b->n_train, total = n - m->at < m->batch ? n - m->at : m->batch;
    size_t lo, hi;
    part(b, total, &lo, &hi);
    m->rows = m->order + m->at + lo;
    *r = (dnn_batch_rows){hi - lo, total, lo};
    m->at += total;
    return DNN_OK;
}

static void mem_fill(const dnn_batches *b, const dnn_norm *nm, size_t lo, size_t hi, float *x, int32_t *y,
                     float *t)
{
    const dnn_memory_batches *m = b->impl;
    const dnn_dataset *ds = m->ds;
    if (hi > lo)
        dnn_gather(ds, nm, m->rows + lo, hi - lo, x + lo * ds->d, y ? y + lo : NULL,
                   t ? t + lo * (size_t)ds->n_targets : NULL);
    /* The rows are scattered over the data set: ask for the next batch's (the same share of it) now, so that
     * they come from memory while this step computes rather than when the next one gathers them. */
    const uint32_t *next = m->rows + m->batch, *end = m->order + b->n_train;
    const size_t row = ds->d_num * (ds->dtype == DNN_U8 ? 1 : sizeof(float));
    const char *base = ds->dtype == DNN_U8 ? (const char *)ds->x8 : (const char *)ds->x32;
    for (size_t i = lo; i < hi && next + i < end; i++)
        for (size_t at = 0; at < row; at += 64) __builtin_prefetch(base + (size_t)next[i] * row + at);
}

static dnn_status mem_next(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t,
                           dnn_batch_rows *r, dnn_error *err)
{
    dnn_status st = mem_next_rows(b, r, err);
    if (!st) mem_fill(b, nm, 0, r->rows, x, y, t);
    return st;
}

static dnn_status mem_val_begin(dnn_batches *b, dnn_error *err)
{
    (void)err;
    dnn_memory_batches *m = b->impl;
    size_t hi;
    part(b, (size_t)b->n_val, &m->val_at, &hi);
    return DNN_OK;
}

static dnn_status mem_val_next(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t,
                               size_t *rows, dnn_error *err)
{
    (void)err;
    dnn_memory_batches *m = b->impl;
    size_t lo, hi;
    part(b, (size_t)b->n_val, &lo, &hi);
    *rows = hi - m->val_at < m->batch ? hi - m->val_at : m->batch;
    if (*rows) dnn_gather(m->ds, nm, m->val + m->val_at, *rows, x, y, t);
    m->val_at += *rows;
    return DNN_OK;
}

dnn_status dnn_batches_memory(dnn_batches *b, dnn_memory_batches *mem, const dnn_dataset *ds,
                              const uint32_t *train, size_t n_train, const uint32_t *val, size_t n_val,
                              size_t batch, int rank, int ranks, dnn_error *err)
{
    memset(mem, 0, sizeof *mem);
    mem->ds = ds, mem->train = train, mem->val = val, mem->batch = batch ? batch : 1;
    mem->order = malloc(n_train * sizeof *mem->order + 1);
    if (!mem->order) return dnn_fail_oom(err, "the epoch order", n_train * sizeof *mem->order);
    *b = (dnn_batches){.n_train = n_train,
                       .n_val = n_val,
                       .d = ds->d,
                       .rank = ranks > 1 ? rank : 0,
                       .ranks = ranks > 1 ? ranks : 1,
                       .epoch = mem_epoch,
                       .next = mem_next,
                       .next_rows = mem_next_rows,
                       .fill = mem_fill,
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
