/* Prefetching batches (tf.data's prefetch): a thread of its own reads and parses the next batch from the
 * source while the network trains on the one before. Only that thread advances the source during an epoch,
 * one batch at a time in the order the training loop would, so the rows dealt (and a resumed epoch) are
 * those of the source alone; the loop pays one copy of a batch instead of the parsing. */
#include "dnn/batches.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { IDLE, ASKED, DONE };

struct dnn_prefetch {
    dnn_batches inner; /* the source's batches, advanced by the thread while a batch is asked */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state, stop, started;
    /* the batch asked for, read into the prefetch's own buffers */
    const dnn_norm *nm;
    float *x, *t; /* [batch, d], [batch, k] */
    int32_t *y;   /* [batch] */
    size_t d, k;
    dnn_batch_rows r;
    dnn_status st;
    dnn_error err;
};

static void *worker(void *arg)
{
    dnn_prefetch *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->state != ASKED && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop) break;
        pthread_mutex_unlock(&p->mu);
        dnn_status st = p->inner.next(&p->inner, p->nm, p->x, p->y, p->t, &p->r, &p->err);
        pthread_mutex_lock(&p->mu);
        p->st = st;
        p->state = DONE;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Wait until no batch is being read; drop a batch read ahead when asked to (a new epoch). */
static void settle(dnn_prefetch *p, int drop)
{
    pthread_mutex_lock(&p->mu);
    while (p->state == ASKED) pthread_cond_wait(&p->cv, &p->mu);
    if (drop) p->state = IDLE;
    pthread_mutex_unlock(&p->mu);
}

static void ask(dnn_prefetch *p, const dnn_norm *nm)
{
    pthread_mutex_lock(&p->mu);
    p->nm = nm;
    p->state = ASKED;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static dnn_status pf_epoch(dnn_batches *b, dnn_rng *rng, int shuffle, size_t skip, dnn_error *err)
{
    dnn_prefetch *p = b->impl;
    settle(p, 1);
    return p->inner.epoch(&p->inner, rng, shuffle, skip, err);
}

/* The batch read ahead, copied out, and the next one asked for; the epoch's first batch is read here. */
static dnn_status pf_next(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t,
                          dnn_batch_rows *r, dnn_error *err)
{
    dnn_prefetch *p = b->impl;
    settle(p, 0);
    if (p->state == DONE) {
        p->state = IDLE;
        if (p->st) {
            *err = p->err;
            return p->st;
        }
        *r = p->r;
        if (x) memcpy(x, p->x, r->rows * p->d * sizeof *x);
        if (y) memcpy(y, p->y, r->rows * sizeof *y);
        if (t) memcpy(t, p->t, r->rows * p->k * sizeof *t);
    } else {
        dnn_status st = p->inner.next(&p->inner, nm, x, y, t, r, err);
        if (st) return st;
    }
    if (r->total) ask(p, nm);
    return DNN_OK;
}

/* Validation reads rows of its own, in order, after the batch being read ahead (kept for the next). */
static dnn_status pf_val_begin(dnn_batches *b, dnn_error *err)
{
    dnn_prefetch *p = b->impl;
    settle(p, 0);
    return p->inner.val_begin(&p->inner, err);
}

static dnn_status pf_val_next(dnn_batches *b, const dnn_norm *nm, float *x, int32_t *y, float *t,
                              size_t *rows, dnn_error *err)
{
    dnn_prefetch *p = b->impl;
    settle(p, 0);
    return p->inner.val_next(&p->inner, nm, x, y, t, rows, err);
}

dnn_status dnn_batches_prefetch(dnn_batches *b, dnn_prefetch **out, size_t batch, size_t k, dnn_error *err)
{
    *out = NULL;
    dnn_prefetch *p = calloc(1, sizeof *p);
    size_t nx, nt;
    if (!p || dnn_mul_size(batch, b->d, &nx) || dnn_mul_size(batch, k, &nt) ||
        nx > SIZE_MAX / sizeof(float) || nt > SIZE_MAX / sizeof(float)) {
        free(p);
        return dnn_fail_oom(err, "the batch read ahead", batch * sizeof(float));
    }
    p->inner = *b, p->d = b->d, p->k = k;
    p->x = malloc(nx * sizeof *p->x + 1);
    p->t = malloc(nt * sizeof *p->t + 1);
    p->y = malloc(batch * sizeof *p->y + 1);
    if (!p->x || !p->t || !p->y) {
        dnn_prefetch_free(p);
        return dnn_fail_oom(err, "the batch read ahead", nx * sizeof(float));
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->started = 1;
    if (pthread_create(&p->thread, NULL, worker, p)) {
        p->started = 0;
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        dnn_prefetch_free(p);
        return dnn_fail(err, DNN_EIO, "could not start the thread that reads batches ahead");
    }
    b->epoch = pf_epoch, b->next = pf_next, b->val_begin = pf_val_begin, b->val_next = pf_val_next;
    b->next_rows = NULL, b->fill = NULL; /* the thread reads whole batches */
    b->impl = p;
    *out = p;
    return DNN_OK;
}

void dnn_prefetch_free(dnn_prefetch *p)
{
    if (!p) return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
    free(p->x);
    free(p->t);
    free(p->y);
    free(p);
}
