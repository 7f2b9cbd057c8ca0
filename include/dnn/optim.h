/* Optimizers over the flat parameter buffer (one loop each), gradient clipping and learning-rate schedules.
 */
#ifndef DNN_OPTIM_H
#define DNN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/error.h"

typedef struct {
    dnn_optim_config cfg;
    size_t n;
    int n_slots;  /* how many of m, v the method keeps (0, 1 or 2) */
    float *m, *v; /* adam(w): first and second moments; sgd: momentum buffer in m; rmsprop: square average in
                   * v, momentum buffer in m */
    uint64_t t;   /* steps taken */
} dnn_optim;

dnn_status dnn_optim_create(dnn_optim **out, const dnn_optim_config *cfg, size_t n_params, dnn_error *err);
void dnn_optim_free(dnn_optim *o);

/* Update params from grads with learning rate lr. Clips the global gradient norm first when the config asks.
 * Returns the gradient's norm before clipping when clipping is on, else 0. */
double dnn_optim_step(dnn_optim *o, float *params, float *grads, double lr);

/* The same step in parts, for threads and processes that each update a share of the parameters: begin once
 * (it counts the step), then update every range [lo, hi) once, from any thread, the ranges disjoint; grads
 * holds that range's gradient (grads[0] is params[lo]'s). scale multiplies the gradient first:
 * dnn_optim_clip_scale's for clipping, else 1. */
void dnn_optim_begin(dnn_optim *o);
void dnn_optim_update(dnn_optim *o, float *params, const float *grads, double lr, float scale, size_t lo,
                      size_t hi);
/* The factor that clips a gradient of squared norm sumsq to the config's clip_norm (1 without clipping, or
 * when it is within the norm). */
float dnn_optim_clip_scale(const dnn_optim *o, double sumsq);

/* Learning-rate schedule state (plateau needs memory; the others are functions of the epoch). */
typedef struct {
    double lr;   /* the learning rate of the current epoch */
    double best; /* plateau: best monitored value so far */
    int wait;    /* plateau: epochs without improvement */
} dnn_schedule;

void dnn_schedule_start(dnn_schedule *s, const dnn_optim_config *cfg);
/* The learning rate for epoch (0-based) of epochs in all, for step and cosine schedules. */
double dnn_schedule_lr(const dnn_schedule *s, const dnn_optim_config *cfg, int epoch, int epochs);
/* After an epoch: let a plateau schedule see the monitored value (lower is better when minimize). */
void dnn_schedule_observe(dnn_schedule *s, const dnn_optim_config *cfg, double value, int minimize);

#endif
