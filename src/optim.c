/* Optimizers (PyTorch's update rules), global-norm clipping, and learning-rate schedules. */
#include "dnn/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/util.h"

dnn_status dnn_optim_create(dnn_optim **out, const dnn_optim_config *cfg, size_t n, dnn_error *err)
{
    dnn_optim *o = calloc(1, sizeof *o);
    if (!o) return dnn_fail_oom(err, "the optimizer", sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    /* sgd keeps a momentum buffer when it has momentum; adam(w) and rmsprop keep two moments */
    o->n_slots = cfg->kind == DNN_OPT_SGD ? cfg->momentum > 0 : 2;
    if (o->n_slots >= 1) o->m = dnn_alloc_hot(n, sizeof(float));
    if (o->n_slots >= 2) o->v = dnn_alloc_hot(n, sizeof(float));
    if ((o->n_slots >= 1 && !o->m) || (o->n_slots >= 2 && !o->v)) {
        dnn_optim_free(o);
        return dnn_fail_oom(err, "the optimizer state", 2 * n * sizeof(float));
    }
    *out = o;
    return DNN_OK;
}

void dnn_optim_free(dnn_optim *o)
{
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o);
}

double dnn_optim_step(dnn_optim *o, float *restrict p, float *restrict g, double lr)
{
    double sumsq = 0.0;
    if (o->cfg.clip_norm > 0)
        for (size_t i = 0; i < o->n; i++) sumsq += (double)g[i] * g[i];
    dnn_optim_begin(o);
    dnn_optim_update(o, p, g, lr, dnn_optim_clip_scale(o, sumsq), 0, o->n);
    return o->cfg.clip_norm > 0 ? sqrt(sumsq) : 0.0;
}

float dnn_optim_clip_scale(const dnn_optim *o, double sumsq)
{
    const double norm = sqrt(sumsq);
    return o->cfg.clip_norm > 0 && norm > o->cfg.clip_norm ? (float)(o->cfg.clip_norm / norm) : 1.0f;
}

void dnn_optim_begin(dnn_optim *o)
{
    o->t++;
}

/* Each rule's loop over [lo, hi), with g (g[0] for params[lo]) scaled by s as it is read (a clipped gradient;
 * s = 1 is exact). */
DNN_HOT void dnn_optim_update(dnn_optim *o, float *restrict params, const float *restrict g, double lr,
                              float s, size_t lo, size_t hi)
{
    const dnn_optim_config *c = &o->cfg;
    /* everything indexed from lo, as g is */
    float *restrict p = params + lo, *restrict m = o->m ? o->m + lo : NULL,
                    *restrict v = o->v ? o->v + lo : NULL;
    const size_t n = hi - lo;
    const float lrf = (float)lr;
    switch (c->kind) {
    case DNN_OPT_SGD: {
        const float mu = (float)c->momentum;
        if (mu == 0.0f) {
            for (size_t i = 0; i < n; i++) p[i] -= lrf * (g[i] * s);
        } else if (c->nesterov) {
            for (size_t i = 0; i < n; i++) {
                const float gi = g[i] * s;
                m[i] = mu * m[i] + gi;
                p[i] -= lrf * (gi + mu * m[i]);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                m[i] = mu * m[i] + g[i] * s;
                p[i] -= lrf * m[i];
            }
        }
        break;
    }
    case DNN_OPT_ADAM:
    case DNN_OPT_ADAMW: {
        const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
        const double bc1 = 1.0 - pow(c->beta1, (double)o->t), bc2 = 1.0 - pow(c->beta2, (double)o->t);
        const float step = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
        /* decoupled weight decay shrinks the weights before the Adam step (AdamW) */
        const float decay = c->kind == DNN_OPT_ADAMW ? (float)(1.0 - lr * c->weight_decay) : 1.0f;
        for (size_t i = 0; i < n; i++) {
            const float gi = g[i] * s;
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            p[i] = p[i] * decay - step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
        }
        break;
    }
    case DNN_OPT_RMSPROP: {
        const float rho = (float)c->rho, eps = (float)c->eps, mu = (float)c->momentum;
        for (size_t i = 0; i < n; i++) {
            const float gi = g[i] * s;
            v[i] = rho * v[i] + (1.0f - rho) * gi * gi;
            float d = gi / (sqrtf(v[i]) + eps);
            if (mu > 0.0f) d = m[i] = mu * m[i] + d;
            p[i] -= lrf * d;
        }
        break;
    }
    }
}

void dnn_schedule_start(dnn_schedule *s, const dnn_optim_config *cfg)
{
    s->lr = cfg->learning_rate;
    s->best = INFINITY;
    s->wait = 0;
}

double dnn_schedule_lr(const dnn_schedule *s, const dnn_optim_config *cfg, int epoch, int epochs)
{
    const dnn_schedule_config *c = &cfg->schedule;
    const double base = cfg->learning_rate;
    switch (c->kind) {
    case DNN_SCHED_STEP: return base * pow(c->gamma, (double)(epoch / c->step_size));
    case DNN_SCHED_COSINE: {
        if (epoch < c->warmup_epochs) return base * (epoch + 1) / (double)c->warmup_epochs;
        int span = epochs - c->warmup_epochs;
        if (span <= 1) return base;
        double x = (double)(epoch - c->warmup_epochs) / (double)(span - 1);
        if (x > 1) x = 1;
        return c->min_lr + (base - c->min_lr) * 0.5 * (1.0 + cos(3.141592653589793 * x));
    }
    case DNN_SCHED_PLATEAU: return s->lr;
    default: return base;
    }
}

void dnn_schedule_observe(dnn_schedule *s, const dnn_optim_config *cfg, double value, int minimize)
{
    const dnn_schedule_config *c = &cfg->schedule;
    if (c->kind != DNN_SCHED_PLATEAU || !isfinite(value)) return;
    double v = minimize ? value : -value;
    if (v < s->best - c->min_delta) {
        s->best = v;
        s->wait = 0;
    } else if (++s->wait > c->patience) {
        s->lr = fmax(s->lr * c->factor, c->min_lr);
        s->wait = 0;
    }
}
