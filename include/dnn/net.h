/* The network: layers over one contiguous parameter buffer, batched forward and backward passes on
 * cblas_sgemm, and the element-wise kernels around them. Knows nothing of files or data sets. */
#ifndef DNN_NET_H
#define DNN_NET_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/error.h"
#include "dnn/rng.h"

typedef struct {
    dnn_layer_kind kind;
    int in, out;         /* features per sample going in and out */
    dnn_act act;         /* dense */
    float slope;         /* leaky_relu */
    float l2;            /* dense */
    float rate;          /* dropout */
    float momentum, eps; /* batchnorm */
    size_t w, b; /* offsets in params: W [in, out] and b [out] (dense); gamma, beta [out] (batchnorm) */
    size_t s;    /* offset in state: running mean and variance [out] each (batchnorm) */
    /* Batch workspace, [max_batch, out] each: a = output, g = gradient of the loss w.r.t. a, then (in
     * place) w.r.t. the pre-activation; z = pre-activation where it must be kept (the last layer, gelu);
     * else z == a. mask = dropout's scaled keep mask, or batchnorm's normalised input x-hat. */
    float *a, *g, *z, *mask;
    float *bstat; /* batchnorm: batch mean and 1/std [out] each */
} dnn_layer;

typedef struct {
    int n_layers;
    dnn_layer *layers;
    int n_in, n_out;
    size_t n_params;
    float *params, *grads; /* same layout */
    size_t n_state;
    float *state; /* trained but not by gradient: batchnorm running statistics */
    int max_batch;
    float *work;  /* every layer's batch workspace, one allocation */
    int borrowed; /* params and state belong to another network (a view); grads is NULL */
} dnn_net;

/* Build a network for inputs of n_in features and batches of up to max_batch rows. The parameters are
 * zero until dnn_net_init. */
dnn_status dnn_net_create(dnn_net **out, const dnn_config *cfg, int n_in, int max_batch, dnn_error *err);
void dnn_net_free(dnn_net *net);
/* Free the gradients and the batch workspace of a network that will only be read through views (a loaded
 * model shared by threads): it holds its parameters and state alone, and cannot run a pass itself. */
void dnn_net_drop_workspace(dnn_net *net);
/* A view for inference: base's parameters and state (read, never written) with a batch workspace of its own
 * for batches of up to max_batch rows, so that threads can run one network at once, each through its own
 * view (forward passes with training = 0 only). cfg is the config base was built from; base must outlive the
 * view. Free it with dnn_net_free. */
dnn_status dnn_net_create_view(dnn_net **out, const dnn_config *cfg, const dnn_net *base, int max_batch,
                               dnn_error *err);

/* Fill the parameters: weights by scheme (auto: Xavier uniform, He normal for sigmoid layers), biases 0,
 * batchnorm scale 1 and shift 0. */
void dnn_net_init(dnn_net *net, dnn_init scheme, dnn_rng *rng);

/* Forward pass of b rows of x [b, n_in]; returns the output [b, n_out]. training enables dropout (drawn from
 * rng) and batch statistics in batchnorm. */
const float *dnn_net_forward(dnn_net *net, const float *x, int b, int training, dnn_rng *rng);

/* The last layer's pre-activation Z [b, n_out] of the last forward pass (the loss reads it). */
const float *dnn_net_logits(const dnn_net *net);
/* Where the loss writes dL/dZ of the last layer [b, n_out] before dnn_net_backward. */
float *dnn_net_output_grad(dnn_net *net);

/* Backward pass for the last forward pass of b rows of x: fills grads (overwriting them) from the
 * output gradient, then adds each dense layer's l2 term. Returns the l2 penalty added to the loss. */
double dnn_net_backward(dnn_net *net, const float *x, int b);

/* Turn g = dL/dA of an activation's output into dL/dZ in place, for n rows of width k.
 * a is the activation's output, z its input (needed by gelu only). */
void dnn_act_backward(dnn_act act, float slope, const float *z, const float *a, float *g, int n, int k);

/* What a network of cfg for n_in features and batches of max_batch would hold, in floats, before it is
 * allocated. Returns -1 when the sizes overflow. */
typedef struct {
    size_t params, state, work;
} dnn_net_sizes_t;
int dnn_net_sizes(const dnn_config *cfg, int n_in, int max_batch, dnn_net_sizes_t *sz);
/* Count of parameters of the layers an n_in-feature network of cfg would have (0 on overflow). */
size_t dnn_net_count_params(const dnn_config *cfg, int n_in);

#endif
