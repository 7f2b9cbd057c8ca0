/* net_bench CONFIG [STEPS] [THREADS] [KEY=VALUE]...: where a training step of a config's network (with --set
 * style overrides) spends its time. Builds
 * the network for the config's input shape (the IDX header, or data.shape), runs STEPS steps of its batch
 * size on random data after a warm-up, and prints per layer the milliseconds of the forward and backward
 * passes and the share of matrix products in them, then the optimizer and the loss; a last line "RESULT ..."
 * for scripts/bench.sh. With training.precision=bf16 the dense products and their bound are bf16. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <math.h>

#include "dnn/blas.h"
#include "dnn/config.h"
#include "dnn/data.h"
#include "dnn/gemm.h"
#include "dnn/loss.h"
#include "dnn/net.h"
#include "dnn/optim.h"
#include "dnn/rng.h"
#include "dnn/util.h"

/* Floating-point operations of the matrix products of one training step of b samples (the first layer's
 * input gradient is not computed in training). */
static double step_flops(const dnn_net *net, int b)
{
    double f = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        double one = 0;
        if (L->kind == DNN_LAYER_DENSE) one = 2.0 * b * L->in * L->out;
        if (L->kind == DNN_LAYER_CONV2D)
            one = 2.0 * L->out_shape.c * L->win.c * L->win.kh * L->win.kw * (double)b * L->win.oh * L->win.ow;
        f += one * (l == 0 ? 2 : 3);
    }
    return f;
}

/* The best of five runs of one product C (m, n) = op(A) . op(B), on scratch buffers of its size: sgemm, or
 * when bf16 a bf16 product (operands already rounded, as the bound of that backend). */
static double product_seconds(int bf16, int ta, int tb, int m, int n, int k)
{
    float *A = calloc((size_t)m * k, sizeof(float)), *B = calloc((size_t)k * n, sizeof(float));
    float *C = calloc((size_t)m * n, sizeof(float));
    dnn_bf16_product *p = NULL;
    dnn_error err;
    if (bf16 && dnn_bf16_product_create(&p, ta, tb, m, n, k, ta ? m : k, tb ? k : n, n, &err)) return NAN;
    double best = INFINITY;
    for (int r = 0; A && B && C && r < 5; r++) {
        double t0 = dnn_now();
        if (p)
            dnn_bf16_product_run(p, (const uint16_t *)A, (const uint16_t *)B, C);
        else
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                        k, 1.0f, A, ta ? m : k, B, tb ? k : n, 0.0f, C, n);
        double t = dnn_now() - t0;
        best = t < best ? t : best;
    }
    dnn_bf16_product_free(p);
    free(A);
    free(B);
    free(C);
    return best;
}

/* The sgemm bound of a step: its products alone, each at its own shape, one after another. */
static double products_bound(const dnn_net *net, int b)
{
    double t = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        int m, n, k; /* the forward product's dimensions: (m, k) . (k, n) */
        if (L->kind == DNN_LAYER_DENSE)
            m = b, n = L->out, k = L->in;
        else if (L->kind == DNN_LAYER_CONV2D)
            m = L->out_shape.c, n = b * L->win.oh * L->win.ow, k = L->win.c * L->win.kh * L->win.kw;
        else
            continue;
        int dense = L->kind == DNN_LAYER_DENSE, h = dense && net->half; /* convolutions stay fp32 */
        t += product_seconds(h, 0, 0, m, n, k);
        /* the weight gradient, and the input's (not for the first layer) */
        t += dense ? product_seconds(h, 1, 0, k, n, m) : product_seconds(0, 0, 1, m, k, n);
        if (l > 0) t += dense ? product_seconds(h, 0, 1, m, k, n) : product_seconds(0, 1, 0, k, n, m);
    }
    return t;
}

static dnn_status build(const char *path, const char *const *sets, int n_sets, dnn_config *c, dnn_net **net,
                        dnn_error *err)
{
    dnn_status st = dnn_config_load(c, path, sets, n_sets, err);
    dnn_shape in = c->shape;
    if (!st && !c->has_shape) st = dnn_source_shape(&c->train, &in, err);
    if (!st && in.c == 0) st = dnn_fail(err, DNN_ECONFIG, "%s: CSV data needs data.shape here", path);
    if (!st) st = dnn_net_create(net, c, in, c->batch_size, err);
    if (!st) st = dnn_net_set_precision(*net, c->precision, err);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: net_bench CONFIG.json [STEPS] [THREADS] [KEY=VALUE]...\n");
        return 2;
    }
    int steps = argc > 2 ? atoi(argv[2]) : 50;
    if (steps < 1) steps = 50;
    if (argc > 3) dnn_blas_set_threads(atoi(argv[3]));
    if (argc > 3) dnn_bf16_set_threads(atoi(argv[3]));
    dnn_config c;
    dnn_net *net = NULL;
    dnn_optim *opt = NULL;
    dnn_error err = {0};
    dnn_status st = build(argv[1], (const char *const *)argv + 4, argc > 4 ? argc - 4 : 0, &c, &net, &err);
    if (!st) st = dnn_optim_create(&opt, &c.optim, net->n_params, &err);
    if (st) {
        fprintf(stderr, "net_bench: %s\n", err.msg);
        return (int)st;
    }
    const int b = c.batch_size, k = net->n_out;
    float *x = malloc((size_t)b * (size_t)net->n_in * sizeof(float));
    int32_t *y = malloc((size_t)b * sizeof(int32_t));
    double *prof = calloc(4 * (size_t)net->n_layers, sizeof(double));
    dnn_rng rng;
    dnn_rng_seed(&rng, 1, DNN_STREAM_INIT);
    dnn_net_init(net, c.init, &rng);
    for (size_t i = 0; i < (size_t)b * (size_t)net->n_in; i++) x[i] = (float)dnn_rng_uniform(&rng);
    for (int i = 0; i < b; i++) y[i] = (int32_t)dnn_rng_below(&rng, k > 1 ? (uint64_t)k : 2);
    const dnn_layer *out = &net->layers[net->n_layers - 1];
    double t_opt = 0, t_loss = 0, t_all = 0;
    for (int s = -3; s < steps; s++) { /* three steps of warm-up: pages, caches, BLAS threads */
        if (s == 0) net->profile = prof, t_opt = t_loss = 0;
        double t0 = dnn_now();
        const float *a = dnn_net_forward(net, x, b, 1, &rng);
        double t1 = dnn_now();
        dnn_loss(c.loss, out->act, out->slope, dnn_net_logits(net), a, b, k, y, NULL,
                 dnn_net_output_grad(net));
        double t2 = dnn_now();
        dnn_net_backward(net, x, b);
        double t3 = dnn_now();
        dnn_optim_step(opt, net->params, net->grads, 1e-4);
        double t4 = dnn_now();
        t_loss += t2 - t1;
        t_opt += t4 - t3;
        if (s >= 0) t_all += t4 - t0;
    }
    printf("%s: batch %d, %zu parameters, BLAS threads %d, %d steps, precision %s\n", argv[1], b,
           net->n_params, dnn_blas_threads(), steps, dnn_precision_name(net->precision));
    printf("%-36s %9s %9s %9s %9s\n", "layer (ms per step)", "forward", "backward", "products", "im2col");
    double products = 0, patches = 0, pooling = 0, layers = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        char name[96];
        dnn_layer_describe(L, name, sizeof name);
        const double *p = prof + 4 * l;
        printf("%-36s %9.3f %9.3f %9.3f %9.3f\n", name, 1e3 * p[0] / steps, 1e3 * p[1] / steps,
               1e3 * p[2] / steps, 1e3 * p[3] / steps);
        products += p[2];
        patches += p[3];
        layers += p[0] + p[1];
        if (L->kind == DNN_LAYER_MAXPOOL2D || L->kind == DNN_LAYER_AVGPOOL2D ||
            L->kind == DNN_LAYER_GLOBAL_AVGPOOL)
            pooling += p[0] + p[1];
    }
    double step = t_all / steps, flops = step_flops(net, b);
    printf("%-36s %9.3f\n%-36s %9.3f\n", "loss", 1e3 * t_loss / steps, "optimizer", 1e3 * t_opt / steps);
    double other = layers - products - patches - pooling;
    printf(
        "step %.3f ms (%.1f GFLOP/s): matrix products %.3f ms (%.0f%%, %.1f GFLOP/s), im2col and col2im "
        "%.3f (%.0f%%), pooling %.3f (%.0f%%), bias, activations, dropout, batchnorm, flatten %.3f (%.0f%%), "
        "loss and optimizer %.3f (%.0f%%)\n",
        1e3 * step, flops / step / 1e9, 1e3 * products / steps, 100 * products / t_all,
        flops / (products / steps) / 1e9, 1e3 * patches / steps, 100 * patches / t_all, 1e3 * pooling / steps,
        100 * pooling / t_all, 1e3 * other / steps, 100 * other / t_all, 1e3 * (t_loss + t_opt) / steps,
        100 * (t_loss + t_opt) / t_all);
    double bound = products_bound(net, b);
    printf("the same products alone: %.3f ms (%.1f GFLOP/s)\n", 1e3 * bound, flops / bound / 1e9);
    printf("RESULT step_ms %.4f products_ms %.4f bound_ms %.4f optimizer_ms %.4f flops_per_step %.6g\n",
           1e3 * step, 1e3 * products / steps, 1e3 * bound, 1e3 * t_opt / steps, flops);
    free(x);
    free(y);
    free(prof);
    dnn_optim_free(opt);
    dnn_net_free(net);
    dnn_config_free(&c);
    return 0;
}
