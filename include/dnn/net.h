/* The network: layers over one contiguous parameter buffer, batched forward and backward passes on
 * cblas_sgemm, and the element-wise kernels around them. Knows nothing of files or data sets. */
#ifndef DNN_NET_H
#define DNN_NET_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/conv.h"
#include "dnn/error.h"
#include "dnn/rng.h"

typedef struct {
    dnn_layer_kind kind;
    int in, out;                   /* values per sample going in and out */
    dnn_shape in_shape, out_shape; /* the same as channels x height x width */
    int in_maps, out_maps; /* whether the batch going in (out) is stored as maps rather than rows (conv.h) */
    dnn_act act;           /* dense, conv2d */
    float slope;           /* leaky_relu */
    float l2;              /* dense, conv2d */
    float rate;            /* dropout */
    float momentum, eps;   /* batchnorm */
    dnn_window win;        /* conv2d, maxpool2d, avgpool2d */
    /* Offsets in params: dense W [in, out] and b [out]; conv2d W [filters][C][kh][kw] (ONNX's order) and
     * b [filters]; batchnorm gamma and beta, one per channel (after image layers) or feature. nw weights. */
    size_t w, b, nw;
    size_t s; /* offset in state: batchnorm's running mean and variance, one each per channel or feature */
    /* Batch workspace, max_batch x out values each: a = output, g = gradient of the loss w.r.t. a, then (in
     * place) w.r.t. the pre-activation; z = pre-activation where it must be kept (the last layer, gelu);
     * else z == a. mask = dropout's scaled keep mask, or batchnorm's normalised input x-hat. */
    float *a, *g, *z, *mask;
    float *bstat; /* batchnorm: batch mean, 1/std and two backward sums, one each per channel or feature */
    float *col; /* conv2d: im2col patches of a block of samples [C*kh*kw][block*oh*ow], then their gradient */
    int block;  /* conv2d: samples per block of patches (sized to stay in cache between im2col and product) */
    uint32_t *arg; /* maxpool2d: where each output's maximum is in its input plane [C][b][oh][ow] */
    /* dense in bf16: its input [max_batch, in], its dL/dZ [max_batch, out] and its weights [in, out] rounded
     * to bf16, and its three products (forward, weight gradient, input gradient) at max_batch rows */
    uint16_t *xh, *gh, *wh;
    struct dnn_bf16_product *prod[3];
    struct dnn_bf16_product *sub[3]; /* the same at the network's sub_rows rows, when it has them */
} dnn_layer;

typedef struct dnn_net dnn_net;
struct dnn_net {
    int n_layers;
    dnn_layer *layers;
    int n_in, n_out;
    dnn_shape in_shape; /* one sample going in; n_in = c * h * w */
    size_t n_params;
    float *params, *grads; /* same layout */
    size_t n_state;
    float *state; /* trained but not by gradient: batchnorm running statistics */
    int max_batch;
    float *work;  /* every layer's batch workspace, one allocation */
    int training; /* the mode of the last forward pass, which the backward pass differentiates */
    /* A profiler's (NULL otherwise): seconds added up per layer l, profile[4l] forward, [4l+1] backward, of
     * both [4l+2] in matrix products and [4l+3] in im2col and col2im; clock points at the current layer's
     * slots while passes run. */
    double *profile, *clock;
    dnn_precision precision; /* of the dense layers' products (convolutions' stay fp32) */
    uint16_t *half;          /* bf16: every dense layer's xh, gh and wh, one allocation */
    int half_stale; /* bf16: the weights changed since they were last rounded (a training pass came since) */
    int sub_rows;   /* bf16: passes of up to this many rows use the products prepared for it (0: none) */
    int borrowed;   /* params and state belong to another network (a view or replica) */
    const dnn_net *base; /* that network */
    int shared_half;     /* bf16: the dense weights' copies are base's, which base rounds */
};

/* Check that every layer of cfg fits the shape it gets from the one before, starting from input samples of
 * shape in: a config error names the layer, its window and its input's shape otherwise. */
dnn_status dnn_net_check(const dnn_config *cfg, dnn_shape in, dnn_error *err);

/* Build a network for input samples of shape in and batches of up to max_batch rows. The parameters are
 * zero until dnn_net_init. */
dnn_status dnn_net_create(dnn_net **out, const dnn_config *cfg, dnn_shape in, int max_batch, dnn_error *err);
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

/* A replica for training on threads: a view that has gradients of its own (same layout as params) and may
 * run training passes, whose dropout comes from a key (dnn_net_forward_rows). Set base's precision before the
 * replica's: in bf16 the replica reads the weights base rounded (dnn_net_round_weights). */
dnn_status dnn_net_create_replica(dnn_net **out, const dnn_config *cfg, const dnn_net *base, int max_batch,
                                  dnn_error *err);

/* Run the dense layers' products in precision p from the next pass on: bf16 rounds each product's operands
 * to bf16 and accumulates in fp32, keeping the weights, gradients and everything else in fp32. DNN_ECONFIG
 * when bf16 cannot run here (dnn_bf16_check). A pass in evaluation mode reuses the weights rounded for the
 * last one unless a training pass came since: call dnn_net_params_changed after writing params otherwise. */
dnn_status dnn_net_set_precision(dnn_net *net, dnn_precision p, dnn_error *err);
void dnn_net_params_changed(dnn_net *net);
/* bf16: also prepare the products for passes of up to rows rows (fewer than max_batch), which would otherwise
 * pad every pass to max_batch rows: for a network that runs a thread's share of each batch. Nothing in fp32
 * or for rows >= max_batch. */
dnn_status dnn_net_prepare_rows(dnn_net *net, int rows, dnn_error *err);
/* bf16: round the dense weights among params[lo, hi) into their bf16 copies (threads may each take a range);
 * once the whole was rounded, clear net->half_stale. Nothing in fp32. */
void dnn_net_round_weights(dnn_net *net, size_t lo, size_t hi);

/* Fill the parameters: weights by scheme (auto: Xavier uniform, He normal for sigmoid layers), biases 0,
 * batchnorm scale 1 and shift 0. */
void dnn_net_init(dnn_net *net, dnn_init scheme, dnn_rng *rng);

/* A table of the layers, like Keras's summary(): each layer, its output shape and parameter count, and the
 * total. malloc'ed, NULL on allocation failure. */
char *dnn_net_summary(const dnn_net *net);
/* A layer as the summary names it: "conv2d 32 3x3 relu pad 1x1". */
void dnn_layer_describe(const dnn_layer *L, char *buf, size_t n);

/* Forward pass of b rows of x [b, n_in]; returns the output [b, n_out]. training enables dropout (drawn from
 * rng) and batch statistics in batchnorm. */
const float *dnn_net_forward(dnn_net *net, const float *x, int b, int training, dnn_rng *rng);

/* The same in training mode, for b rows that are rows row0.. of a batch whose dropout masks come from key
 * (one per step; dnn_net_forward draws it from rng): a row's mask depends only on key, the layer and the
 * row's place in the batch, so a batch split across processes gets the masks it would get whole. */
const float *dnn_net_forward_rows(dnn_net *net, const float *x, int b, uint64_t key, size_t row0);

/* The last layer's pre-activation Z [b, n_out] of the last forward pass (the loss reads it). */
const float *dnn_net_logits(const dnn_net *net);
/* Where the loss writes dL/dZ of the last layer [b, n_out] before dnn_net_backward. */
float *dnn_net_output_grad(dnn_net *net);

/* Backward pass for the last forward pass of b rows of x: fills grads (overwriting them) from the
 * output gradient, then adds each layer's l2 term. Returns the l2 penalty added to the loss. */
double dnn_net_backward(dnn_net *net, const float *x, int b);
/* Its two halves, for a batch split across processes: the gradient of this process's rows (to be summed
 * across processes), then the l2 term, added once to the sum. */
void dnn_net_backward_rows(dnn_net *net, const float *x, int b);
double dnn_net_add_l2(dnn_net *net);
/* The two parts of dnn_net_add_l2 over the parameters [lo, hi) alone, for threads each taking a range: the
 * penalty of the weights there, and its gradient added to g (g[0] for params[lo]). */
double dnn_net_l2_penalty(const dnn_net *net, size_t lo, size_t hi);
void dnn_net_l2_grad(const dnn_net *net, float *g, size_t lo, size_t hi);
/* Whether any layer has an l2 penalty. */
int dnn_net_has_l2(const dnn_net *net);
/* The same, and when dx is not NULL also the gradient of the loss w.r.t. the input, dx [b, n_in] (as for
 * saliency maps; the l2 penalty does not depend on the input). After a forward pass in evaluation mode it is
 * the gradient of that pass: dropout is the identity and batchnorm an affine map of running statistics. */
double dnn_net_backward_input(dnn_net *net, const float *x, int b, float *dx);

/* Turn g = dL/dA of an activation's output into dL/dZ in place, for n rows of width k.
 * a is the activation's output, z its input (needed by gelu only). */
void dnn_act_backward(dnn_act act, float slope, const float *z, const float *a, float *g, int n, int k);

/* What a network of cfg for input samples of shape in and batches of max_batch would hold, in floats, before
 * it is allocated. Returns -1 when the sizes overflow or a layer does not fit (dnn_net_check says which). */
typedef struct {
    size_t params, state, work;
} dnn_net_sizes_t;
int dnn_net_sizes(const dnn_config *cfg, dnn_shape in, int max_batch, dnn_net_sizes_t *sz);
/* Count of parameters of the layers a network of cfg on inputs of shape in would have (0 on overflow or a
 * layer that does not fit). */
size_t dnn_net_count_params(const dnn_config *cfg, dnn_shape in);

#endif
