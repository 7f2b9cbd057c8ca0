/* The training loop. Buffers are sized once for the batch; the batch loop allocates nothing. */
#include "dnn/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "dnn/loss.h"
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

/* Mean loss and accuracy over rows idx[0..n), in evaluation mode, through the training loop's batch buffers.
 */
static void validate(dnn_model *m, const dnn_dataset *ds, const uint32_t *idx, size_t n, const batch_bufs *bb,
                     double *loss, double *accuracy)
{
    const dnn_layer *out = &m->net->layers[m->net->n_layers - 1];
    const int B = m->cfg.batch_size, k = m->net->n_out;
    double sum = 0.0;
    size_t correct = 0;
    for (size_t start = 0; start < n; start += (size_t)B) {
        int b = (int)(n - start < (size_t)B ? n - start : (size_t)B);
        dnn_gather(ds, &m->norm, idx + start, (size_t)b, bb->x, bb->y, bb->t);
        const float *a = dnn_net_forward(m->net, bb->x, b, 0, NULL);
        sum +=
            dnn_loss(m->cfg.loss, out->act, out->slope, dnn_net_logits(m->net), a, b, k, bb->y, bb->t, NULL);
        if (m->cfg.task == DNN_TASK_CLASSIFICATION) correct += (size_t)dnn_count_correct(a, b, k, bb->y);
    }
    *loss = n ? sum / (double)n : NAN;
    *accuracy = n && m->cfg.task == DNN_TASK_CLASSIFICATION ? (double)correct / (double)n : NAN;
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

dnn_status dnn_train(dnn_model *m, dnn_train_state *s, const dnn_split_view *data,
                     const dnn_train_hooks *hooks, dnn_error *err)
{
    const dnn_config *c = &m->cfg;
    dnn_net *net = m->net;
    const dnn_layer *out = &net->layers[net->n_layers - 1];
    const size_t n = data->n_train, B = (size_t)c->batch_size;
    const size_t batches = (n + B - 1) / B;
    const int k = net->n_out;
    const dnn_monitor mon = dnn_train_monitor(c, data->n_val);
    batch_bufs bb = {0};
#if defined(__SSE2__)
    /* Flush denormals to zero while training. Adam's moments of weights that never get a gradient (inputs
     * that are always 0, like the border pixels of an image) decay geometrically into the denormal range,
     * where every operation on them costs a microcode assist: the update loop got 2x slower by epoch 2. */
    const unsigned int mxcsr = _mm_getcsr();
    _mm_setcsr(mxcsr | 0x8040); /* FTZ | DAZ */
#endif
    uint32_t *order = malloc(n * sizeof(uint32_t) + 1);
    dnn_status st =
        order ? bufs_alloc(&bb, m, err) : dnn_fail_oom(err, "the epoch order", n * sizeof(uint32_t));
    if (st) goto done;
    dnn_epoch_log *hist =
        realloc(s->history, (size_t)(c->epochs > s->n_history ? c->epochs : s->n_history + 1) * sizeof *hist);
    if (!hist) {
        st = dnn_fail_oom(err, "the metric history", (size_t)c->epochs * sizeof *hist);
        goto done;
    }
    s->history = hist;

    /* A pause (until_epoch) leaves the schedule, which depends on training.epochs, as the whole run has it.
     */
    const int last =
        hooks && hooks->until_epoch > 0 && hooks->until_epoch < c->epochs ? hooks->until_epoch : c->epochs;
    while (s->epoch < last && !s->stopped_early) {
        const int epoch = s->epoch + 1;
        const double lr = dnn_schedule_lr(&s->sched, &c->optim, s->epoch, c->epochs);
        double t0 = dnn_now() - s->part_seconds;
        /* A fresh epoch draws its order now; a resumed one deals the order it drew before. */
        if (s->batch == 0) s->epoch_rng = s->shuffle_rng;
        dnn_rng deal = s->epoch_rng;
        memcpy(order, data->train, n * sizeof(uint32_t));
        if (c->shuffle) dnn_rng_shuffle(&deal, order, n);
        s->shuffle_rng = deal;

        for (; s->batch < batches; s->batch++) {
            size_t start = s->batch * B;
            int b = (int)(n - start < B ? n - start : B);
            dnn_gather(data->ds, &m->norm, order + start, (size_t)b, bb.x, bb.y, bb.t);
            const float *a = dnn_net_forward(net, bb.x, b, 1, &s->dropout_rng);
            double loss = dnn_loss(c->loss, out->act, out->slope, dnn_net_logits(net), a, b, k, bb.y, bb.t,
                                   dnn_net_output_grad(net));
            loss += dnn_net_backward(net, bb.x, b) * b;
            if (!isfinite(loss)) {
                st = diverged(epoch, s->batch + 1, "the loss", lr, err);
                goto done;
            }
            dnn_optim_step(s->opt, net->params, net->grads, lr);
            s->step++;
            s->part_loss += loss;
            s->part_seen += (uint64_t)b;
            if (c->task == DNN_TASK_CLASSIFICATION)
                s->part_correct += (uint64_t)dnn_count_correct(a, b, k, bb.y);
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
            if (hooks && hooks->stop && *hooks->stop && s->batch + 1 < batches) {
                s->batch++;
                s->part_seconds = dnn_now() - t0;
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
        if (data->n_val) validate(m, data->ds, data->val, data->n_val, &bb, &log.val_loss, &log.val_accuracy);
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
        if (hooks && hooks->on_epoch) {
            st = hooks->on_epoch(hooks->ctx, &log, improved, err);
            if (st) goto done;
        }
        if (hooks && hooks->stop && *hooks->stop && s->epoch < last && !s->stopped_early) {
            st = dnn_fail(err, DNN_EINTERRUPTED, "interrupted after epoch %d", epoch);
            goto done;
        }
    }
done:
#if defined(__SSE2__)
    _mm_setcsr(mxcsr);
#endif
    bufs_free(&bb);
    free(order);
    return st;
}
