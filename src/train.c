/* The training loop. Buffers are sized once for the batch; the batch loop allocates nothing. */
#include "dnn/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include <zlib.h>

#include "dnn/replicas.h"
#include "dnn/util.h"

dnn_status dnn_train_state_init(dnn_train_state *s, const dnn_model *m, dnn_error *err)
{
    memset(s, 0, sizeof *s);
    dnn_status st = dnn_optim_create(&s->opt, &m->cfg.optim, m->net->n_params, err);
    if (st) return st;
    dnn_schedule_start(&s->sched, &m->cfg.optim);
    dnn_rng_seed(&s->shuffle_rng, m->cfg.seed, DNN_STREAM_SHUFFLE);
    dnn_rng_seed(&s->dropout_rng, m->cfg.seed, DNN_STREAM_DROPOUT);
    s->best_value = INFINITY;
    if (m->cfg.early_stopping.enabled && m->cfg.early_stopping.restore_best) {
        size_t n = m->net->n_params + m->net->n_state;
        s->best_params = calloc(n + 1, sizeof(float));
        if (!s->best_params) return dnn_fail_oom(err, "the best epoch's weights", n * sizeof(float));
    }
    return DNN_OK;
}

void dnn_train_state_free(dnn_train_state *s)
{
    if (!s) return;
    dnn_optim_free(s->opt);
    free(s->history);
    free(s->best_params);
    memset(s, 0, sizeof *s);
}

void dnn_train_use_best(dnn_model *m, const dnn_train_state *s)
{
    if (!s->best_params || !s->best_epoch) return;
    memcpy(m->net->params, s->best_params, m->net->n_params * sizeof(float));
    memcpy(m->net->state, s->best_params + m->net->n_params, m->net->n_state * sizeof(float));
    dnn_net_params_changed(m->net); /* bf16 copies of the weights are rounded again */
}

int dnn_monitor_minimizes(dnn_monitor mon)
{
    return mon == DNN_MONITOR_VAL_LOSS || mon == DNN_MONITOR_LOSS;
}

double dnn_monitored(const dnn_epoch_log *log, dnn_monitor mon)
{
    switch (mon) {
    case DNN_MONITOR_VAL_LOSS: return log->val_loss;
    case DNN_MONITOR_VAL_ACCURACY: return log->val_accuracy;
    case DNN_MONITOR_LOSS: return log->loss;
    default: return log->accuracy;
    }
}

/* Batch buffers for gathering rows: x [B, d], y [B], t [B, k]. */
typedef struct {
    float *x, *t;
    int32_t *y;
} batch_bufs;

static dnn_status bufs_alloc(batch_bufs *bb, const dnn_model *m, dnn_error *err)
{
    size_t B = (size_t)m->cfg.batch_size, d = (size_t)m->net->n_in, k = (size_t)m->net->n_out, nx, nt;
    if (dnn_mul_size(B, d, &nx) || dnn_mul_size(B, k, &nt) || nx > SIZE_MAX / sizeof(float))
        return dnn_fail(err, DNN_ECONFIG, "batch of %zu rows of %zu features is too large", B, d);
    bb->x = malloc(nx * sizeof(float));
    bb->t = malloc(nt * sizeof(float));
    bb->y = malloc(B * sizeof(int32_t));
    if (!bb->x || !bb->t || !bb->y) return dnn_fail_oom(err, "a batch", nx * sizeof(float));
    return DNN_OK;
}

static void bufs_free(batch_bufs *bb)
{
    free(bb->x);
    free(bb->t);
    free(bb->y);
}

static int all_finite(const float *p, size_t n)
{
    /* summing inf * 0 style: any NaN or Inf makes the sum NaN, and the loop vectorises */
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++) acc += p[i] * 0.0f;
    return acc == 0.0f;
}

/* Mean loss and accuracy over the validation rows, in evaluation mode, through the training loop's batch
 * buffers; each process scores the rows data deals it (its part) and the sums are added up. */
static dnn_status validate(dnn_model *m, dnn_comm *comm, dnn_replicas *reps, dnn_batches *data,
                           const batch_bufs *bb, double *loss, double *accuracy, dnn_error *err)
{
    const uint64_t n = data->n_val;
    double sums[2] = {0.0, 0.0}; /* loss, correct */
    size_t rows;
    dnn_status st = data->val_begin(data, err);
    while (!st && !(st = data->val_next(data, &m->norm, bb->x, bb->y, bb->t, &rows, err)) && rows) {
        dnn_step_rows p = {.x = bb->x, .y = bb->y, .t = bb->t, .rows = (int)rows, .total = (int)rows};
        sums[0] += dnn_replicas_score(reps, &p, &sums[1]);
    }
    /* every process sums, also after a failure of its own, so that none waits for it */
    dnn_error e2;
    dnn_status sum = dnn_comm_sum_f64(comm, sums, 2, &e2);
    if (!st && sum) st = sum, *err = e2;
    *loss = n ? sums[0] / (double)n : NAN;
    *accuracy = n && m->cfg.task == DNN_TASK_CLASSIFICATION ? sums[1] / (double)n : NAN;
    return st;
}

static uint32_t crc_floats(const float *x, size_t n)
{
    return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef *)x, n * sizeof(float));
}

/* The replicas must hold identical parameters; the range of their checksums says whether they do. */
static dnn_status check_replicas(dnn_comm *comm, const dnn_net *net, int epoch, dnn_error *err)
{
    if (dnn_comm_size(comm) == 1) return DNN_OK;
    uint64_t mine =
        (uint64_t)crc_floats(net->params, net->n_params) << 32 | crc_floats(net->state, net->n_state);
    uint64_t lo, hi;
    dnn_status st = dnn_comm_range(comm, mine, &lo, &hi, err);
    if (st || lo == hi) return st;
    return dnn_fail(
        err, DNN_EINTERNAL,
        "after epoch %d the %d processes hold different parameters (checksums %016llx to %016llx): "
        "their arithmetic differs (different CPUs, libraries or builds?). Nothing of this epoch "
        "was written; the last checkpoint is from before",
        epoch, dnn_comm_size(comm), (unsigned long long)lo, (unsigned long long)hi);
}

static dnn_status diverged(int epoch, size_t batch, const char *what, double lr, dnn_error *err)
{
    return dnn_fail(
        err, DNN_EDIVERGED,
        "training diverged at epoch %d, batch %zu: %s is not finite (learning rate %g). Try a smaller "
        "optimizer.learning_rate, optimizer.clip_norm, or data.normalize \"standardize\"",
        epoch, batch, what, lr);
}

/* After an epoch: is it the best so far by the monitored value? Updates best and wait. */
static int track_best(dnn_train_state *s, const dnn_config *c, dnn_monitor mon, const dnn_epoch_log *log)
{
    double v = dnn_monitored(log, mon);
    if (!isfinite(v)) return 0;
    if (!dnn_monitor_minimizes(mon)) v = -v;
    double delta = c->early_stopping.enabled ? c->early_stopping.min_delta : 0.0;
    if (s->best_epoch == 0 || v < s->best_value - delta) {
        s->best_value = v;
        s->best_epoch = log->epoch;
        s->wait = 0;
        return 1;
    }
    s->wait++;
    return 0;
}

dnn_monitor dnn_train_monitor(const dnn_config *c, size_t n_val)
{
    if (c->early_stopping.enabled) return c->early_stopping.monitor;
    return n_val ? DNN_MONITOR_VAL_LOSS : DNN_MONITOR_LOSS;
}

/* What a thread needs to gather its rows of a batch (dnn_batches.fill) */
typedef struct {
    const dnn_batches *data;
    const dnn_norm *norm;
    const batch_bufs *bb;
} filler;

static void fill_rows(void *ctx, size_t lo, size_t hi)
{
    const filler *f = ctx;
    f->data->fill(f->data, f->norm, lo, hi, f->bb->x, f->bb->y, f->bb->t);
}

/* One optimizer step on a batch of which data dealt this process rows (in bb): the gradient of its rows on
 * the threads, summed across the processes, then the update. *loss gets the batch's summed loss (with l2)
 * and sums[1..3) the correct predictions and stop requests of the whole job. */
static dnn_status train_step(dnn_replicas *reps, const dnn_batch_rows *rows, uint64_t key,
                             const batch_bufs *bb, filler *fill, double lr, double sums[3], double *loss,
                             dnn_error *err)
{
    dnn_step_rows part = {.x = bb->x,
                          .y = bb->y,
                          .t = bb->t,
                          .rows = (int)rows->rows,
                          .total = (int)rows->total,
                          .row0 = rows->first,
                          .key = key,
                          .fill = fill ? fill_rows : NULL,
                          .fill_ctx = fill};
    sums[0] = dnn_replicas_gradient(reps, &part, &sums[1]);
    dnn_status st = dnn_replicas_sync(reps, sums, 3, err);
    if (st) return st;
    *loss = sums[0] + dnn_replicas_penalty(reps) * (double)rows->total;
    if (!isfinite(*loss)) return DNN_EDIVERGED; /* the caller says where */
    return dnn_replicas_update(reps, lr, err);
}

dnn_status dnn_train(dnn_model *m, dnn_train_state *s, dnn_batches *data, const dnn_train_hooks *hooks,
                     dnn_error *err)
{
    const dnn_config *c = &m->cfg;
    dnn_net *net = m->net;
    const size_t n = data->n_train, B = (size_t)c->batch_size;
    const size_t batches = (n + B - 1) / B;
    dnn_comm *comm = hooks ? hooks->comm : NULL;
    const dnn_monitor mon = dnn_train_monitor(c, data->n_val);
    batch_bufs bb = {0};
#if defined(__SSE2__)
    /* Flush denormals to zero while training. Adam's moments of weights that never get a gradient (inputs
     * that are always 0, like the border pixels of an image) decay geometrically into the denormal range,
     * where every operation on them costs a microcode assist: the update loop got 2x slower by epoch 2. */
    const unsigned int mxcsr = _mm_getcsr();
    _mm_setcsr(mxcsr | 0x8040); /* FTZ | DAZ */
#endif
    dnn_replicas *reps = NULL;
    dnn_status st = bufs_alloc(&bb, m, err);
    if (st) goto done;
    dnn_epoch_log *hist =
        realloc(s->history, (size_t)(c->epochs > s->n_history ? c->epochs : s->n_history + 1) * sizeof *hist);
    if (!hist) {
        st = dnn_fail_oom(err, "the metric history", (size_t)c->epochs * sizeof *hist);
        goto done;
    }
    s->history = hist;

    /* every replica starts from rank 0's parameters */
    st = dnn_comm_bcast(comm, net->params, net->n_params, err);
    if (!st) st = dnn_comm_bcast(comm, net->state, net->n_state, err);
    if (!st) st = dnn_replicas_create(&reps, m, s->opt, comm, hooks ? hooks->threads : 0, err);
    if (st) goto done;
    /* the threads gather their own rows when the data can deal rows without gathering them */
    filler fill = {data, &m->norm, &bb}, *gather = data->next_rows && data->fill ? &fill : NULL;

    /* A pause (until_epoch) leaves the schedule, which depends on training.epochs, as the whole run has it.
     */
    const int last =
        hooks && hooks->until_epoch > 0 && hooks->until_epoch < c->epochs ? hooks->until_epoch : c->epochs;
    while (s->epoch < last && !s->stopped_early) {
        const int epoch = s->epoch + 1;
        const double lr = dnn_schedule_lr(&s->sched, &c->optim, s->epoch, c->epochs);
        double t0 = dnn_now() - s->part_seconds;
        /* A fresh epoch draws its order now; a resumed one deals the order it drew before, from where it
         * stopped. Every process draws from the same generator. */
        if (s->batch == 0) s->epoch_rng = s->shuffle_rng;
        dnn_rng deal = s->epoch_rng;
        if ((st = data->epoch(data, &deal, c->shuffle, s->batch, err))) goto done;
        s->shuffle_rng = deal;

        for (; s->batch < batches; s->batch++) {
            /* this process's part of the batch (every process's batch has the same total) */
            dnn_batch_rows rows;
            st = gather ? data->next_rows(data, &rows, err)
                        : data->next(data, &m->norm, bb.x, bb.y, bb.t, &rows, err);
            if (st) goto done;
            if (rows.total == 0) break;
            const int b = (int)rows.total;
            const uint64_t key = dnn_rng_u64(&s->dropout_rng); /* this step's dropout masks */
            double sums[3] = {0.0, 0.0, hooks && hooks->stop && *hooks->stop}, loss = 0.0;
            st = train_step(reps, &rows, key, &bb, gather, lr, sums, &loss, err);
            if (st == DNN_EDIVERGED) st = diverged(epoch, s->batch + 1, "the loss", lr, err);
            if (st) goto done;
            s->step++;
            s->part_loss += loss;
            s->part_seen += (uint64_t)b;
            if (c->task == DNN_TASK_CLASSIFICATION) s->part_correct += (uint64_t)sums[1];
            if (hooks && hooks->on_batch) {
                dnn_progress p = {epoch,
                                  c->epochs,
                                  s->batch + 1,
                                  batches,
                                  (size_t)s->part_seen,
                                  s->part_loss / (double)s->part_seen,
                                  dnn_now() - t0};
                hooks->on_batch(hooks->ctx, &p);
            }
            if (sums[2] > 0 && s->batch + 1 < batches) {
                s->batch++;
                s->part_seconds = dnn_now() - t0;
                if ((st = dnn_replicas_gather_state(reps, err))) goto done;
                st = dnn_fail(err, DNN_EINTERRUPTED, "interrupted at epoch %d, batch %zu of %zu", epoch,
                              s->batch, batches);
                goto done;
            }
        }
        double train_seconds = dnn_now() - t0;

        if (!all_finite(net->params, net->n_params)) {
            st = diverged(epoch, batches, "a weight", lr, err);
            goto done;
        }
        dnn_epoch_log log = {.epoch = epoch, .lr = lr, .val_loss = NAN, .val_accuracy = NAN};
        log.loss = s->part_loss / (double)s->part_seen;
        log.accuracy =
            c->task == DNN_TASK_CLASSIFICATION ? (double)s->part_correct / (double)s->part_seen : NAN;
        if (data->n_val && (st = validate(m, comm, reps, data, &bb, &log.val_loss, &log.val_accuracy, err)))
            goto done;
        log.seconds = dnn_now() - t0;
        log.samples_per_second = train_seconds > 0 ? (double)n / train_seconds : 0;
        s->epoch = epoch;
        s->batch = 0;
        s->part_loss = s->part_seconds = 0;
        s->part_correct = s->part_seen = 0;
        s->history[s->n_history++] = log;
        int improved = track_best(s, c, mon, &log);
        if (improved && s->best_params) {
            memcpy(s->best_params, net->params, net->n_params * sizeof(float));
            memcpy(s->best_params + net->n_params, net->state, net->n_state * sizeof(float));
        }
        dnn_schedule_observe(&s->sched, &c->optim, dnn_monitored(&log, c->optim.schedule.monitor),
                             dnn_monitor_minimizes(c->optim.schedule.monitor));
        if (c->early_stopping.enabled && s->wait > c->early_stopping.patience) s->stopped_early = 1;
        /* before rank 0 writes this epoch's checkpoint, when it writes one */
        if ((epoch % c->every_epochs == 0 || epoch == last || s->stopped_early) &&
            (st = check_replicas(comm, net, epoch, err)))
            goto done;
        if ((st = dnn_replicas_gather_state(reps, err))) goto done; /* the checkpoint's optimizer state */
        if (hooks && hooks->on_epoch) st = hooks->on_epoch(hooks->ctx, &log, improved, err);
        int stop = hooks && hooks->stop && *hooks->stop;
        st = dnn_comm_agree(comm, st, &stop, err);
        if (st) goto done;
        if (stop && s->epoch < last && !s->stopped_early) {
            st = dnn_fail(err, DNN_EINTERRUPTED, "interrupted after epoch %d", epoch);
            goto done;
        }
    }
done:
#if defined(__SSE2__)
    _mm_setcsr(mxcsr);
#endif
    dnn_replicas_free(reps);
    bufs_free(&bb);
    return st;
}
