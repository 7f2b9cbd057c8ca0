/* A network sized for explanation batches, and the gradient of one chosen output per row with respect to
 * the input: the training backward pass seeded with a one-hot output gradient instead of the loss's. */
#include <stdlib.h>
#include <string.h>

#include "dnn/rng.h"
#include "internal.h"

void *ex_calloc(size_t n, size_t size)
{
    size_t bytes;
    if (dnn_mul_size(n, size, &bytes)) return NULL;
    return calloc(bytes ? n : 1, bytes ? size : 1);
}

dnn_status ex_pass_create(ex_pass *p, const dnn_model *m, int B, dnn_rng *rng, dnn_error *err)
{
    memset(p, 0, sizeof *p);
    dnn_status st = dnn_net_create(&p->net, &m->cfg, m->net->in_shape, B, err);
    if (st) return st;
    const dnn_net *src = m->net;
    if (rng) {
        dnn_net_init(p->net, m->cfg.init, rng); /* fresh statistics come with dnn_net_create */
    } else {
        memcpy(p->net->params, src->params, src->n_params * sizeof(float));
        if (src->n_state) memcpy(p->net->state, src->state, src->n_state * sizeof(float));
    }
    p->B = B;
    p->d = src->n_in;
    p->k = src->n_out;
    p->rows = ex_calloc((size_t)B * (size_t)p->d, sizeof(float));
    p->dx = ex_calloc((size_t)B * (size_t)p->d, sizeof(float));
    p->out = ex_calloc((size_t)B, sizeof(int));
    p->sign = ex_calloc((size_t)B, sizeof(float));
    if (!p->rows || !p->dx || !p->out || !p->sign) {
        ex_pass_free(p);
        return dnn_fail_oom(err, "explanation buffers", (size_t)B * (size_t)src->n_in * 2 * sizeof(float));
    }
    return DNN_OK;
}

void ex_pass_free(ex_pass *p)
{
    dnn_net_free(p->net);
    free(p->rows);
    free(p->dx);
    free(p->out);
    free(p->sign);
    memset(p, 0, sizeof *p);
}

void ex_output_of(const dnn_model *m, int c, int *out, float *sign)
{
    /* one sigmoid unit scores class 1 by its logit z, so class 0 by -z (the log-odds the other way) */
    const int one_unit = m->cfg.task == DNN_TASK_CLASSIFICATION && m->net->n_out == 1;
    *out = one_unit ? 0 : c;
    *sign = one_unit && c == 0 ? -1.0f : 1.0f;
}

const float *ex_forward(ex_pass *p, int b)
{
    return dnn_net_forward(p->net, p->rows, b, 0, NULL);
}

void ex_backward(ex_pass *p, int b)
{
    /* the last layer is dense and takes its output gradient as d/dZ: one-hot on the explained logit */
    float *g = dnn_net_output_grad(p->net);
    memset(g, 0, (size_t)b * (size_t)p->k * sizeof(float));
    for (int i = 0; i < b; i++) g[(size_t)i * p->k + p->out[i]] = p->sign[i];
    dnn_net_backward_input(p->net, p->rows, b, p->dx);
}

void ex_gradient(ex_pass *p, int b)
{
    ex_forward(p, b);
    ex_backward(p, b);
}
