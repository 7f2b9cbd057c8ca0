/* What the explanation sources share: a network sized for explanation batches and its input gradient. */
#ifndef DNN_EXPLAIN_INTERNAL_H
#define DNN_EXPLAIN_INTERNAL_H

#include "dnn/explain.h"
#include "dnn/net.h"

/* A copy of a model's network for batches of up to B rows, with the buffers of one gradient pass. */
typedef struct {
    dnn_net *net;
    int B, d, k;
    float *rows; /* [B, d] inputs (normalised) */
    float *dx;   /* [B, d] d score / d input */
    int *out;    /* [B] the output each row explains */
    float *sign; /* [B] +1, or -1 for class 0 of one sigmoid unit (its logit is the other class's) */
} ex_pass;

/* A network like m's for B rows: with m's parameters and statistics, or (rng not NULL) re-initialised by
 * the model's scheme from rng, with fresh batchnorm statistics. */
dnn_status ex_pass_create(ex_pass *p, const dnn_model *m, int B, dnn_rng *rng, dnn_error *err);
void ex_pass_free(ex_pass *p);

/* Forward pass (evaluation mode) of rows[0..b): the network's outputs [b, k]. */
const float *ex_forward(ex_pass *p, int b);
/* After ex_forward of the same rows, with out and sign set: dx [b, d] = d score / d rows, the score being the
 * explained output's pre-activation times sign. */
void ex_backward(ex_pass *p, int b);
/* Both. */
void ex_gradient(ex_pass *p, int b);

/* The output index and sign that explain class (or regression target) c of model m. */
void ex_output_of(const dnn_model *m, int c, int *out, float *sign);

/* Permutation importance of the groups on ds with net p (result arrays allocated by the caller). */
dnn_status ex_permutation(ex_pass *p, const dnn_model *m, const dnn_dataset *ds, const dnn_explain_opts *o,
                          const dnn_feature_groups *gs, dnn_perm_result *r, dnn_error *err);

/* Saliency and/or integrated gradients over all of ds (which methods: o->methods), with the sanity
 * check's random network when rnd is not NULL. */
dnn_status ex_attributions(ex_pass *p, ex_pass *rnd, const dnn_model *m, const dnn_dataset *ds,
                           const dnn_explain_opts *o, const float *baseline, dnn_explanation *e,
                           dnn_error *err);

/* A copy of src, whose columns must be below d. */
dnn_status ex_groups_copy(dnn_feature_groups *dst, const dnn_feature_groups *src, int d, dnn_error *err);

/* calloc of n elements of size bytes with the product checked; NULL on overflow or failure. */
void *ex_calloc(size_t n, size_t size);

#endif
