/* Network layers: forward and backward passes of a batch with every matrix product a cblas_sgemm (dense
 * layers over the whole batch, convolutions through im2col over blocks of its samples), and the bias,
 * activation, pooling, dropout and batchnorm work done in plain loops over contiguous memory. */
#include "dnn/net.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/gemm.h"
#include "dnn/util.h"

/* Every matrix product of the network goes through here, so the backend changes in one place:
 * C (m, n) = op(A) . op(B) + beta C, row-major; op transposes when ta (tb) is set. Under a profiler, the
 * time joins the current layer's products. */
static void gemm(dnn_net *net, int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B,
                 int ldb, float beta, float *C, int ldc)
{
    double t0 = net->clock ? dnn_now() : 0.0;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                A, lda, B, ldb, beta, C, ldc);
    if (net->clock) *net->clock += dnn_now() - t0;
}

/* A bf16 product prepared for its rows (dnn_net_set_precision, dnn_net_prepare_rows), timed as gemm. */
static void product(dnn_net *net, dnn_bf16_product *p, const uint16_t *A, const uint16_t *B, float *C)
{
    double t0 = net->clock ? dnn_now() : 0.0;
    dnn_bf16_product_run(p, A, B, C);
    if (net->clock) *net->clock += dnn_now() - t0;
}

/* Round b rows of k floats to bf16 into h [B, k], and clear its rows past b: a bf16 product always runs on
 * B rows (one prepared shape, so a short batch allocates nothing), and zero rows keep the padding finite and
 * out of the sums over the batch. */
static void to_half(const float *x, uint16_t *h, int b, int k, int B)
{
    dnn_bf16_from_float(x, h, (size_t)b * (size_t)k);
    if (b < B) memset(h + (size_t)b * (size_t)k, 0, (size_t)(B - b) * (size_t)k * sizeof *h);
}

/* y (n) = W^T x for one row x (k) and W (k, n), row-major: a dense layer's product for a batch of one (a
 * library caller's single prediction), where sgemm would copy all of W into its packed layout for that one
 * row, which takes as long as the product. */
static void gemv(dnn_net *net, int k, int n, const float *W, const float *x, float *y)
{
    double t0 = net->clock ? dnn_now() : 0.0;
    cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, W, n, x, 1, 0.0f, y, 1);
    if (net->clock) *net->clock += dnn_now() - t0;
}

/* Round a float count up to a whole 64-byte line, so every workspace buffer starts aligned. */
static size_t lines(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static size_t shape_size(dnn_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

/* The sum of n floats in 16 running sums, which the compiler keeps in vector registers (a single running
 * float sum cannot be vectorised without reordering the additions). */
DNN_HOT static float sum16(const float *x, size_t n)
{
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += x[i + (size_t)j];
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    for (int j = 0; j < 16; j++) s += acc[j];
    return s;
}

/* ReLU's backward pass over n values (g = dL/dA becomes dL/dZ), returning the sum of the result: a
 * convolution's bias gradient in the same pass. */
DNN_HOT static float relu_backward_sum(const float *restrict a, float *restrict g, size_t n)
{
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            float v = a[i + (size_t)j] > 0.0f ? g[i + (size_t)j] : 0.0f;
            g[i + (size_t)j] = v;
            acc[j] += v;
        }
    float s = 0.0f;
    for (; i < n; i++) s += g[i] = a[i] > 0.0f ? g[i] : 0.0f;
    for (int j = 0; j < 16; j++) s += acc[j];
    return s;
}

/* ---- shapes ---- */

/* Lay a convolution or pooling window over input in: L->win and the output shape. Returns 0, or -1 with why
 * saying what does not fit. */
static int window_geometry(const dnn_layer_config *lc, dnn_shape in, dnn_layer *L, char *why, size_t n)
{
    const int conv = lc->kind == DNN_LAYER_CONV2D;
    const char *what = conv ? "kernel" : "pool";
    dnn_window *g = &L->win;
    long long size[2] = {in.h, in.w}, k[2] = {lc->kernel[0], lc->kernel[1]};
    long long s[2] = {lc->stride[0], lc->stride[1]}, pad[2] = {0, 0}, out[2];
    for (int d = 0; d < 2; d++) {
        if (conv && lc->padding == DNN_PAD_SAME) {
            /* as TensorFlow: ceil(size / stride) outputs, the odd padding row or column at the end */
            out[d] = (size[d] + s[d] - 1) / s[d];
            long long total = (out[d] - 1) * s[d] + k[d] - size[d];
            pad[d] = total > 0 ? total / 2 : 0;
            continue;
        }
        pad[d] = conv && lc->padding == DNN_PAD_EXPLICIT ? lc->pad[d] : 0;
        long long padded = size[d] + 2 * pad[d];
        if (k[d] > padded) {
            snprintf(why, n, "its %lldx%lld %s is larger than its input %dx%dx%d%s", k[0], k[1], what, in.c,
                     in.h, in.w, pad[d] ? " with its padding" : "");
            return -1;
        }
        out[d] = (padded - k[d]) / s[d] + 1;
        long long unread = size[d] - ((out[d] - 1) * s[d] - pad[d] + k[d]); /* past the last window */
        if (unread > 0) {
            /* Keras and PyTorch would ignore these silently; a config should not */
            char last[48];
            if (unread == 1)
                snprintf(last, sizeof last, "the last %s", d ? "column" : "row");
            else
                snprintf(last, sizeof last, "the last %lld %s", unread, d ? "columns" : "rows");
            snprintf(
                why, n,
                "a %lldx%lld %s with stride %lldx%lld leaves %s of its input %dx%dx%d unread (choose a %s "
                "and stride that fit%s)",
                k[0], k[1], what, s[0], s[1], last, in.c, in.h, in.w, conv ? "kernel_size" : "pool_size",
                conv ? ", or padding \"same\"" : "");
            return -1;
        }
    }
    *g = (dnn_window){in.c,      in.h,        in.w,        (int)k[0],   (int)k[1],  (int)s[0],
                      (int)s[1], (int)pad[0], (int)pad[1], (int)out[0], (int)out[1]};
    L->out_shape = (dnn_shape){conv ? lc->filters : in.c, g->oh, g->ow};
    L->out_maps = 1;
    return 0;
}

/* Lay out layer lc on input samples of shape in (stored as maps when in_maps): L's shapes, window and
 * storage. Returns 0, or -1 with why saying what does not fit. */
static int geometry(const dnn_layer_config *lc, dnn_shape in, int in_maps, dnn_layer *L, char *why, size_t n)
{
    memset(L, 0, sizeof *L);
    L->kind = lc->kind;
    L->in_shape = L->out_shape = in;
    L->in_maps = L->out_maps = in_maps;
    switch (lc->kind) {
    case DNN_LAYER_DENSE:
        if (in_maps) {
            snprintf(why, n,
                     "takes a flat input, and gets %dx%dx%d feature maps: put {\"type\": \"flatten\"} or "
                     "{\"type\": \"global_avgpool\"} before it",
                     in.c, in.h, in.w);
            return -1;
        }
        L->out_shape = (dnn_shape){lc->units, 1, 1};
        break;
    case DNN_LAYER_FLATTEN:
        L->out_shape = (dnn_shape){(int)shape_size(in), 1, 1};
        L->out_maps = 0;
        break;
    case DNN_LAYER_GLOBAL_AVGPOOL:
        L->out_shape = (dnn_shape){in.c, 1, 1};
        L->out_maps = 0;
        break;
    case DNN_LAYER_CONV2D:
    case DNN_LAYER_MAXPOOL2D:
    case DNN_LAYER_AVGPOOL2D:
        if (window_geometry(lc, in, L, why, n)) return -1;
        break;
    case DNN_LAYER_DROPOUT:
    case DNN_LAYER_BATCHNORM: break;
    }
    if (shape_size(L->out_shape) > INT32_MAX) {
        snprintf(why, n, "its output of %dx%dx%d values per sample is too large", L->out_shape.c,
                 L->out_shape.h, L->out_shape.w);
        return -1;
    }
    L->in = (int)shape_size(in);
    L->out = (int)shape_size(L->out_shape);
    return 0;
}

/* A convolution works through its batch in blocks of samples whose patches take about this much memory, so
 * that a block is still in cache when the product reads what im2col wrote, and the input gradient's patches
 * when col2im reads them (the whole batch's take 22 MB for configs/cnn.json's second convolution). */
#ifndef CONV_BLOCK_BYTES /* a build may set it, to measure other block sizes */
#define CONV_BLOCK_BYTES ((size_t)2 << 20)
#endif

static int conv_block(const dnn_window *g, size_t B)
{
    size_t per = (size_t)g->c * g->kh * g->kw * g->oh * g->ow * sizeof(float), n = CONV_BLOCK_BYTES / per;
    return (int)(n < 1 ? 1 : n > B ? B : n);
}

/* Batchnorm normalises per channel after image layers (as BatchNorm2d), per feature elsewhere. */
static int bn_channels(const dnn_layer *L)
{
    return L->in_maps ? L->in_shape.c : L->in;
}

/* One laid-out layer's floats: weights and biases (or batchnorm's scale and shift), state, and batch
 * workspace (a and g always; z for the last layer and gelu; mask for dropout and batchnorm; batchnorm's
 * statistics; a convolution's patches; max pooling's positions). Returns -1 on overflow. */
static int layer_floats(const dnn_layer *L, const dnn_layer_config *lc, size_t B, int last, size_t *w,
                        size_t *b, size_t *state, size_t *work)
{
    const int kind = L->kind;
    const dnn_window *g = &L->win;
    size_t k = 0, patches = 0;
    *w = *b = *state = 0;
    if (kind == DNN_LAYER_DENSE) {
        if (dnn_mul_size((size_t)L->in, (size_t)L->out, w)) return -1;
        *b = (size_t)L->out;
    } else if (kind == DNN_LAYER_CONV2D) {
        /* the product's dimensions must fit cblas's int: C*kh*kw and B*oh*ow */
        size_t plane = (size_t)g->oh * (size_t)g->ow, cols;
        if (dnn_mul_size((size_t)g->c * (size_t)g->kh, (size_t)g->kw, &k) || k > INT_MAX ||
            dnn_mul_size(B, plane, &cols) || cols > INT_MAX ||
            dnn_mul_size(k, (size_t)conv_block(g, B) * plane, &patches) ||
            dnn_mul_size(k, (size_t)lc->filters, w))
            return -1;
        *b = (size_t)lc->filters;
    } else if (kind == DNN_LAYER_BATCHNORM) {
        *w = *b = (size_t)bn_channels(L);
        *state = 2 * *w;
    }
    size_t row;
    if (dnn_mul_size(B, (size_t)L->out, &row) || row > SIZE_MAX / 16 || patches > SIZE_MAX / 16) return -1;
    int weighted = kind == DNN_LAYER_DENSE || kind == DNN_LAYER_CONV2D;
    int sep_z = weighted && ((kind == DNN_LAYER_DENSE && last) || lc->activation == DNN_ACT_GELU);
    int mask = kind == DNN_LAYER_DROPOUT || kind == DNN_LAYER_BATCHNORM;
    *work = lines(row) * (size_t)(2 + sep_z + mask + (kind == DNN_LAYER_MAXPOOL2D)) +
            (kind == DNN_LAYER_BATCHNORM ? lines(4 * *w) : 0) + lines(patches);
    return 0;
}

dnn_status dnn_net_check(const dnn_config *cfg, dnn_shape in, dnn_error *err)
{
    if (shape_size(in) == 0 || shape_size(in) > INT32_MAX)
        return dnn_fail(err, DNN_ECONFIG, "%s: an input of %dx%dx%d values per sample cannot be taken",
                        cfg->file, in.c, in.h, in.w);
    int maps = 0;
    for (int l = 0; l < cfg->n_layers; l++) {
        dnn_layer L;
        char why[400];
        if (geometry(&cfg->layers[l], in, maps, &L, why, sizeof why)) {
            /* an image layer meeting the network's input as a plain vector: its shape is most likely unknown
             */
            const char *hint = l == 0 && in.h == 1 && in.w == 1
                                   ? "; if each sample is an image, give data.shape [C, H, W]"
                                   : "";
            return dnn_fail(err, DNN_ECONFIG, "%s: model.layers[%d] (%s): %s%s", cfg->file, l,
                            dnn_layer_name(cfg->layers[l].kind), why, hint);
        }
        in = L.out_shape;
        maps = L.out_maps;
    }
    return DNN_OK;
}

int dnn_net_sizes(const dnn_config *cfg, dnn_shape in, int max_batch, dnn_net_sizes_t *sz)
{
    memset(sz, 0, sizeof *sz);
    if (shape_size(in) == 0 || shape_size(in) > INT32_MAX) return -1;
    int maps = 0;
    for (int l = 0; l < cfg->n_layers; l++) {
        dnn_layer L;
        char why[8];
        size_t w, b, st, wk;
        if (geometry(&cfg->layers[l], in, maps, &L, why, sizeof why) ||
            layer_floats(&L, &cfg->layers[l], (size_t)max_batch, l == cfg->n_layers - 1, &w, &b, &st, &wk) ||
            dnn_add_size(sz->params, w, &sz->params) || dnn_add_size(sz->params, b, &sz->params) ||
            dnn_add_size(sz->state, st, &sz->state) || dnn_add_size(sz->work, wk, &sz->work))
            return -1;
        in = L.out_shape;
        maps = L.out_maps;
    }
    return sz->params > SIZE_MAX / 64 || sz->work > SIZE_MAX / 64 ? -1 : 0;
}

size_t dnn_net_count_params(const dnn_config *cfg, dnn_shape in)
{
    dnn_net_sizes_t sz;
    return dnn_net_sizes(cfg, in, 1, &sz) ? 0 : sz.params;
}

/* Point layer L's workspace buffers into p, in the order layer_floats counted them; returns the end. */
static float *carve(dnn_layer *L, float *p, size_t B, int last)
{
    size_t row = lines(B * (size_t)L->out);
    L->a = p, p += row;
    L->g = p, p += row;
    L->z = L->a;
    int weighted = L->kind == DNN_LAYER_DENSE || L->kind == DNN_LAYER_CONV2D;
    if (weighted && ((L->kind == DNN_LAYER_DENSE && last) || L->act == DNN_ACT_GELU)) L->z = p, p += row;
    if (L->kind == DNN_LAYER_DROPOUT || L->kind == DNN_LAYER_BATCHNORM) L->mask = p, p += row;
    if (L->kind == DNN_LAYER_MAXPOOL2D) L->arg = (uint32_t *)p, p += row; /* only ever used as uint32_t */
    if (L->kind == DNN_LAYER_BATCHNORM) L->bstat = p, p += lines(4 * (size_t)bn_channels(L));
    if (L->kind == DNN_LAYER_CONV2D) {
        const dnn_window *g = &L->win;
        L->block = conv_block(g, B);
        L->col = p;
        p += lines((size_t)g->c * g->kh * g->kw * (size_t)L->block * g->oh * g->ow);
    }
    return p;
}

/* The network's parameters, gradients and state, or (base not NULL) base's parameters and state, and its
 * batch workspace. The caller frees net on failure. */
static dnn_status net_buffers(dnn_net *net, const dnn_net_sizes_t *sz, const dnn_net *base, int grads,
                              dnn_error *err)
{
    net->borrowed = base != NULL;
    net->base = base;
    if (base) { /* read base's parameters and state; a replica keeps gradients of its own */
        if (base->n_in != net->n_in || base->n_params != sz->params || base->n_state != sz->state)
            return dnn_fail(err, DNN_EINTERNAL, "a view of a network of another shape");
        net->params = base->params;
        net->state = base->state;
        if (grads && !(net->grads = dnn_alloc_hot(sz->params, sizeof(float))))
            return dnn_fail_oom(err, "a replica's gradients", sz->params * sizeof(float));
    } else {
        net->params = dnn_alloc_hot(sz->params, sizeof(float));
        net->grads = dnn_alloc_hot(sz->params, sizeof(float));
        net->state = dnn_alloc_hot(sz->state, sizeof(float));
    }
    net->work = dnn_alloc_hot(sz->work, sizeof(float));
    if (!net->params || (!base && !net->grads) || !net->state || !net->work)
        return dnn_fail_oom(err, "the network's parameters and batch workspace",
                            (2 * sz->params + sz->work) * sizeof(float));
    return DNN_OK;
}

/* A network with a batch workspace of its own, and its own parameters and state or (base not NULL) base's. */
static dnn_status net_build(dnn_net **out, const dnn_config *cfg, dnn_shape in, int max_batch,
                            const dnn_net *base, int grads, dnn_error *err)
{
    *out = NULL;
    if (max_batch <= 0) return dnn_fail(err, DNN_EINTERNAL, "network with batch %d", max_batch);
    dnn_status st = dnn_net_check(cfg, in, err);
    if (st) return st;
    dnn_net_sizes_t sz;
    if (dnn_net_sizes(cfg, in, max_batch, &sz))
        return dnn_fail(err, DNN_ECONFIG,
                        "network too large: its sizes overflow this machine's address space");
    dnn_net *net = calloc(1, sizeof *net);
    dnn_layer *layers = calloc((size_t)cfg->n_layers, sizeof *layers);
    if (!net || !layers) {
        free(net);
        free(layers);
        return dnn_fail_oom(err, "the network", sizeof *net);
    }
    net->layers = layers;
    net->n_layers = cfg->n_layers;
    net->in_shape = in;
    net->n_in = (int)shape_size(in);
    net->max_batch = max_batch;
    net->n_params = sz.params;
    net->n_state = sz.state;
    st = net_buffers(net, &sz, base, grads, err);
    if (st) {
        dnn_net_free(net);
        return st;
    }
    /* carve the buffers, in the order dnn_net_sizes counted them */
    size_t np = 0, ns = 0, B = (size_t)max_batch;
    float *p = net->work;
    int maps = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer_config *lc = &cfg->layers[l];
        dnn_layer *L = &layers[l];
        size_t w, b, st_n, wk;
        int last = l == net->n_layers - 1;
        char why[8];
        geometry(lc, in, maps, L, why, sizeof why); /* checked above */
        layer_floats(L, lc, B, last, &w, &b, &st_n, &wk);
        L->act = lc->activation;
        L->slope = lc->negative_slope;
        L->l2 = lc->l2;
        L->rate = lc->rate;
        L->momentum = lc->momentum;
        L->eps = lc->eps;
        L->w = np;
        L->b = np + w;
        L->nw = L->kind == DNN_LAYER_BATCHNORM ? 0 : w;
        L->s = ns;
        np += w + b;
        ns += st_n;
        p = carve(L, p, B, last);
        if (L->kind == DNN_LAYER_BATCHNORM && !base)
            for (size_t j = 0; j < b; j++) net->state[L->s + b + j] = 1.0f; /* running variance */
        in = L->out_shape;
        maps = L->out_maps;
    }
    net->n_out = (int)shape_size(in);
    *out = net;
    return DNN_OK;
}

void dnn_layer_describe(const dnn_layer *L, char *buf, size_t n)
{
    const dnn_window *g = &L->win;
    char stride[40] = "", pad[40] = "";
    int pool = L->kind == DNN_LAYER_MAXPOOL2D || L->kind == DNN_LAYER_AVGPOOL2D;
    /* a stride is worth naming when it is not the default: 1 for convolutions, the window for pooling */
    if (pool ? g->sh != g->kh || g->sw != g->kw : g->sh != 1 || g->sw != 1)
        snprintf(stride, sizeof stride, " stride %dx%d", g->sh, g->sw);
    if (g->ph || g->pw) snprintf(pad, sizeof pad, " pad %dx%d", g->ph, g->pw);
    switch (L->kind) {
    case DNN_LAYER_DENSE: snprintf(buf, n, "dense %d %s", L->out, dnn_act_name(L->act)); break;
    case DNN_LAYER_CONV2D:
        snprintf(buf, n, "conv2d %d %dx%d %s%s%s", L->out_shape.c, g->kh, g->kw, dnn_act_name(L->act), stride,
                 pad);
        break;
    case DNN_LAYER_MAXPOOL2D:
    case DNN_LAYER_AVGPOOL2D:
        snprintf(buf, n, "%s %dx%d%s", dnn_layer_name(L->kind), g->kh, g->kw, stride);
        break;
    case DNN_LAYER_DROPOUT: dnn_snprintf_c(buf, n, "dropout %g", (double)L->rate); break;
    default: snprintf(buf, n, "%s", dnn_layer_name(L->kind)); break;
    }
}

static void shape_text(dnn_shape s, int maps, char *buf, size_t n)
{
    if (s.h == 1 && s.w == 1 && !maps)
        snprintf(buf, n, "%d", s.c);
    else
        snprintf(buf, n, "%dx%dx%d", s.c, s.h, s.w);
}

char *dnn_net_summary(const dnn_net *net)
{
    const size_t line = 160, cap = line * ((size_t)net->n_layers + 3);
    char *out = malloc(cap), name[96], shape[40];
    if (!out) return NULL;
    size_t k = (size_t)snprintf(out, cap, "%-40s %-18s %12s\n", "layer", "output shape", "parameters");
    shape_text(net->in_shape, 0, shape, sizeof shape);
    k += (size_t)snprintf(out + k, cap - k, "%-40s %-18s %12d\n", "input", shape, 0);
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        size_t params = L->kind == DNN_LAYER_BATCHNORM ? 2 * (size_t)bn_channels(L)
                        : L->nw                        ? L->nw + (size_t)L->out_shape.c
                                                       : 0;
        dnn_layer_describe(L, name, sizeof name);
        shape_text(L->out_shape, L->out_maps, shape, sizeof shape);
        k += (size_t)snprintf(out + k, cap - k, "%-40s %-18s %12zu\n", name, shape, params);
    }
    snprintf(out + k, cap - k, "%-40s %-18s %12zu\n", "total", "", net->n_params);
    return out;
}

/* ---- precision ---- */

/* Drop the bf16 copies and products: the network is back to fp32. */
static void half_free(dnn_net *net)
{
    for (int l = 0; l < net->n_layers; l++) {
        dnn_layer *L = &net->layers[l];
        for (int i = 0; i < 3; i++) {
            dnn_bf16_product_free(L->prod[i]);
            dnn_bf16_product_free(L->sub[i]);
            L->prod[i] = L->sub[i] = NULL;
        }
        L->xh = L->gh = L->wh = NULL;
    }
    free(net->half);
    net->half = NULL;
    net->shared_half = 0;
    net->sub_rows = 0;
    net->precision = DNN_PRECISION_FP32;
}

/* bf16 values rounded up to whole 64-byte lines */
static size_t half_lines(size_t n)
{
    return (n + 31) & ~(size_t)31;
}

/* A dense layer's bf16 copies in half values: input, gradient and (unless base's are shared) weights (sizes
 * the network already holds in floats, so they cannot overflow). */
static size_t half_size(const dnn_layer *L, size_t B, int shared)
{
    return half_lines(B * (size_t)L->in) + half_lines(B * (size_t)L->out) + (shared ? 0 : half_lines(L->nw));
}

/* The three products of dense layer L at B rows, as dense_forward and dense_backward run them, into prod. */
static dnn_status half_products(dnn_layer *L, int B, struct dnn_bf16_product *prod[3], dnn_error *err)
{
    const int in = L->in, out = L->out;
    /* z (B, out) = x (B, in) . W (in, out) */
    dnn_status st = dnn_bf16_product_create(&prod[0], 0, 0, B, out, in, in, out, out, err);
    /* dW (in, out) = x^T (in, B) . dZ (B, out) */
    if (!st) st = dnn_bf16_product_create(&prod[1], 1, 0, in, out, B, in, out, out, err);
    /* dX (B, in) = dZ (B, out) . W^T (out, in) */
    if (!st) st = dnn_bf16_product_create(&prod[2], 0, 1, B, in, out, out, out, in, err);
    return st;
}

dnn_status dnn_net_set_precision(dnn_net *net, dnn_precision p, dnn_error *err)
{
    half_free(net);
    if (p == DNN_PRECISION_FP32) return DNN_OK;
    dnn_status st = dnn_bf16_check(err);
    if (st) return st;
    const size_t B = (size_t)net->max_batch;
    /* a replica (it has gradients) reads the weights its base rounds */
    const int shared = net->base && net->grads && net->base->half;
    size_t total = 0;
    for (int l = 0; l < net->n_layers; l++)
        if (net->layers[l].kind == DNN_LAYER_DENSE) total += half_size(&net->layers[l], B, shared);
    net->half = dnn_alloc_hot(total, sizeof(uint16_t));
    if (!net->half) return dnn_fail_oom(err, "the bf16 copies of the network", total * sizeof(uint16_t));
    uint16_t *h = net->half;
    for (int l = 0; l < net->n_layers && !st; l++) {
        dnn_layer *L = &net->layers[l];
        if (L->kind != DNN_LAYER_DENSE) continue;
        L->xh = h, h += half_lines(B * (size_t)L->in);
        L->gh = h, h += half_lines(B * (size_t)L->out);
        if (shared)
            L->wh = net->base->layers[l].wh;
        else
            L->wh = h, h += half_lines(L->nw);
        st = half_products(L, net->max_batch, L->prod, err);
    }
    if (st) {
        half_free(net);
        return st;
    }
    net->precision = p;
    net->half_stale = 1;
    net->shared_half = shared;
    return DNN_OK;
}

void dnn_net_params_changed(dnn_net *net)
{
    net->half_stale = 1;
}

dnn_status dnn_net_prepare_rows(dnn_net *net, int rows, dnn_error *err)
{
    if (!net->half || rows >= net->max_batch || rows < 1 || rows == net->sub_rows) return DNN_OK;
    dnn_status st = DNN_OK;
    for (int l = 0; l < net->n_layers && !st; l++) {
        dnn_layer *L = &net->layers[l];
        if (L->kind != DNN_LAYER_DENSE) continue;
        for (int i = 0; i < 3; i++) {
            dnn_bf16_product_free(L->sub[i]);
            L->sub[i] = NULL;
        }
        st = half_products(L, rows, L->sub, err);
    }
    net->sub_rows = st ? 0 : rows; /* after a failure every pass pads to max_batch, as before */
    return st;
}

/* The bf16 products for a pass of b rows and the rows they run on (b padded with zero rows). */
static struct dnn_bf16_product *const *half_for(const dnn_net *net, const dnn_layer *L, int b, int *rows)
{
    if (b <= net->sub_rows) {
        *rows = net->sub_rows;
        return L->sub;
    }
    *rows = net->max_batch;
    return L->prod;
}

/* [lo, hi) and [a, a + n) overlap in [*x, *y), which may be empty */
static int overlap(size_t lo, size_t hi, size_t a, size_t n, size_t *x, size_t *y)
{
    *x = lo > a ? lo : a;
    *y = hi < a + n ? hi : a + n;
    return *x < *y;
}

void dnn_net_round_weights(dnn_net *net, size_t lo, size_t hi)
{
    if (!net->half || net->shared_half) return;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        size_t x, y;
        if (L->kind == DNN_LAYER_DENSE && overlap(lo, hi, L->w, L->nw, &x, &y))
            dnn_bf16_from_float(net->params + x, L->wh + (x - L->w), y - x);
    }
}

dnn_status dnn_net_create(dnn_net **out, const dnn_config *cfg, dnn_shape in, int max_batch, dnn_error *err)
{
    return net_build(out, cfg, in, max_batch, NULL, 1, err);
}

dnn_status dnn_net_create_view(dnn_net **out, const dnn_config *cfg, const dnn_net *base, int max_batch,
                               dnn_error *err)
{
    return net_build(out, cfg, base->in_shape, max_batch, base, 0, err);
}

dnn_status dnn_net_create_replica(dnn_net **out, const dnn_config *cfg, const dnn_net *base, int max_batch,
                                  dnn_error *err)
{
    return net_build(out, cfg, base->in_shape, max_batch, base, 1, err);
}

void dnn_net_drop_workspace(dnn_net *net)
{
    free(net->grads);
    free(net->work);
    net->grads = net->work = NULL;
    for (int l = 0; l < net->n_layers; l++) {
        dnn_layer *L = &net->layers[l];
        L->a = L->g = L->z = L->mask = L->bstat = L->col = NULL;
        L->arg = NULL;
    }
    net->max_batch = 0;
}

void dnn_net_free(dnn_net *net)
{
    if (!net) return;
    half_free(net);
    free(net->layers);
    if (!net->borrowed) {
        free(net->params);
        free(net->state);
    }
    free(net->grads);
    free(net->work);
    free(net);
}

/* The default scheme of a layer by its activation, chosen by measurement (README, "model.init"): Xavier
 * uniform (Keras's default) beat He on tabular data for ReLU, tanh and linear layers by up to 5 points of
 * R^2, while sigmoid layers, whose gradients shrink by 4 at best, learnt faster from He's larger weights. */
static dnn_init auto_init(dnn_act a)
{
    return a == DNN_ACT_SIGMOID ? DNN_INIT_HE : DNN_INIT_XAVIER;
}

void dnn_net_init(dnn_net *net, dnn_init scheme, dnn_rng *rng)
{
    for (int l = 0; l < net->n_layers; l++) {
        dnn_layer *L = &net->layers[l];
        if (L->kind == DNN_LAYER_BATCHNORM) {
            for (int j = 0; j < bn_channels(L); j++) {
                net->params[L->w + (size_t)j] = 1.0f;
                net->params[L->b + (size_t)j] = 0.0f;
            }
            continue;
        }
        if (L->kind != DNN_LAYER_DENSE && L->kind != DNN_LAYER_CONV2D) continue;
        dnn_init s = scheme;
        if (s == DNN_INIT_AUTO) s = auto_init(L->act);
        double fan_in = L->in, fan_out = L->out;
        if (L->kind == DNN_LAYER_CONV2D) {
            double area = (double)L->win.kh * L->win.kw;
            fan_in = area * L->win.c;
            fan_out = area * L->out_shape.c;
        }
        size_t n = L->nw;
        float *w = net->params + L->w;
        for (size_t i = 0; i < n; i++) {
            double x;
            switch (s) {
            case DNN_INIT_HE: x = dnn_rng_normal(rng) * sqrt(2.0 / fan_in); break;
            case DNN_INIT_HE_UNIFORM: x = (2.0 * dnn_rng_uniform(rng) - 1.0) * sqrt(6.0 / fan_in); break;
            case DNN_INIT_XAVIER_NORMAL: x = dnn_rng_normal(rng) * sqrt(2.0 / (fan_in + fan_out)); break;
            default: x = (2.0 * dnn_rng_uniform(rng) - 1.0) * sqrt(6.0 / (fan_in + fan_out)); break;
            }
            w[i] = (float)x;
        }
        memset(net->params + L->b, 0, (size_t)L->out_shape.c * sizeof(float));
    }
}

/* ---- activations ---- */

/* a = act(z) for n values (any activation but softmax); a may be z. */
DNN_HOT static void activate(dnn_act act, float slope, const float *z, float *a, size_t n)
{
    switch (act) {
    case DNN_ACT_LINEAR:
        if (a != z) memcpy(a, z, n * sizeof(float));
        break;
    case DNN_ACT_RELU:
        for (size_t j = 0; j < n; j++) a[j] = z[j] > 0.0f ? z[j] : 0.0f;
        break;
    case DNN_ACT_LEAKY_RELU:
        for (size_t j = 0; j < n; j++) a[j] = z[j] > 0.0f ? z[j] : slope * z[j];
        break;
    case DNN_ACT_SIGMOID:
        for (size_t j = 0; j < n; j++) a[j] = 1.0f / (1.0f + expf(-z[j]));
        break;
    case DNN_ACT_TANH:
        for (size_t j = 0; j < n; j++) a[j] = tanhf(z[j]);
        break;
    case DNN_ACT_GELU:
        for (size_t j = 0; j < n; j++) a[j] = 0.5f * z[j] * (1.0f + erff(z[j] * 0.70710678f));
        break;
    case DNN_ACT_SOFTMAX: break; /* rows only: bias_act */
    }
}

/* a = act(z + bias) for rows [n, k]; z is updated to z + bias when it is kept apart from a.
 * Adding the bias row by row, just before its activation, saves a pass over the batch. */
DNN_HOT static void bias_act(const dnn_layer *L, const float *bias, int n)
{
    const int k = L->out;
    float *z = L->z, *a = L->a;
    for (int i = 0; i < n; i++) {
        float *zr = z + (size_t)i * k, *ar = a + (size_t)i * k;
        for (int j = 0; j < k; j++) zr[j] += bias[j];
        if (L->act != DNN_ACT_SOFTMAX) {
            activate(L->act, L->slope, zr, ar, (size_t)k);
            continue;
        }
        /* subtracting the row maximum keeps exp finite */
        float m = zr[0], s = 0.0f;
        for (int j = 1; j < k; j++) m = zr[j] > m ? zr[j] : m;
        for (int j = 0; j < k; j++) s += ar[j] = expf(zr[j] - m);
        float inv = 1.0f / s;
        for (int j = 0; j < k; j++) ar[j] *= inv;
    }
}

/* The same for the values from .. from+count-1 of each channel of maps [F][m], where each channel's bias is
 * one number. ReLU, the usual case, takes one pass over them instead of two. */
DNN_HOT static void bias_act_maps(const dnn_layer *L, const float *bias, size_t m, size_t from, size_t count)
{
    for (int f = 0; f < L->out_shape.c; f++) {
        float *restrict zr = L->z + (size_t)f * m + from, *ar = L->a + (size_t)f * m + from;
        const float bf = bias[f];
        if (L->act == DNN_ACT_RELU && zr == ar) {
            for (size_t i = 0; i < count; i++) zr[i] = zr[i] + bf > 0.0f ? zr[i] + bf : 0.0f;
            continue;
        }
        for (size_t i = 0; i < count; i++) zr[i] += bf;
        activate(L->act, L->slope, zr, ar, count);
    }
}

DNN_HOT void dnn_act_backward(dnn_act act, float slope, const float *z, const float *a, float *g, int n,
                              int k)
{
    size_t total = (size_t)n * (size_t)k;
    switch (act) {
    case DNN_ACT_LINEAR: break;
    case DNN_ACT_RELU:
        for (size_t i = 0; i < total; i++) g[i] = a[i] > 0.0f ? g[i] : 0.0f;
        break;
    case DNN_ACT_LEAKY_RELU:
        /* a > 0 exactly when z > 0, as the slope is non-negative */
        for (size_t i = 0; i < total; i++) g[i] = a[i] > 0.0f ? g[i] : slope * g[i];
        break;
    case DNN_ACT_SIGMOID:
        for (size_t i = 0; i < total; i++) g[i] *= a[i] * (1.0f - a[i]);
        break;
    case DNN_ACT_TANH:
        for (size_t i = 0; i < total; i++) g[i] *= 1.0f - a[i] * a[i];
        break;
    case DNN_ACT_GELU:
        /* d/dz [z Phi(z)] = Phi(z) + z phi(z) */
        for (size_t i = 0; i < total; i++) {
            float x = z[i];
            float cdf = 0.5f * (1.0f + erff(x * 0.70710678f));
            float pdf = 0.39894228f * expf(-0.5f * x * x);
            g[i] *= cdf + x * pdf;
        }
        break;
    case DNN_ACT_SOFTMAX:
        /* Jacobian-vector product per row: dz_j = a_j (g_j - sum_i g_i a_i) */
        for (int r = 0; r < n; r++) {
            const float *ar = a + (size_t)r * k;
            float *gr = g + (size_t)r * k;
            float dot = 0.0f;
            for (int j = 0; j < k; j++) dot += gr[j] * ar[j];
            for (int j = 0; j < k; j++) gr[j] = ar[j] * (gr[j] - dot);
        }
        break;
    }
}

/* ---- dropout and batchnorm ---- */

/* Inverted dropout: kept units are scaled by 1/(1-rate) in training so evaluation needs no change. The mask
 * of unit j of the batch's row r is drawn at (r, j) of the layer's key, not from a running stream, so a batch
 * split across processes (rows row0.. here) gets the masks it would get whole. */
static void dropout_forward(dnn_layer *L, const float *x, int n, uint64_t key, size_t row0)
{
    const size_t k = (size_t)L->out;
    float keep = 1.0f / (1.0f - L->rate);
    /* compare 24-bit uniforms with the rate in the same units, so the mask needs no float division */
    uint32_t cut = (uint32_t)((double)L->rate * 16777216.0);
    for (size_t i = 0; i < (size_t)n; i++) {
        const uint64_t at = (row0 + i) * k;
        const float *xr = x + i * k;
        float *mr = L->mask + i * k, *ar = L->a + i * k;
        for (size_t j = 0; j < k; j++) {
            uint32_t u = (uint32_t)(dnn_rng_at(key, at + j) >> 40);
            mr[j] = u >= cut ? keep : 0.0f;
            ar[j] = xr[j] * mr[j];
        }
    }
}

/* Move the running statistics of channel j towards the batch's. */
static void bn_running(const dnn_layer *L, float *rmean, float *rvar, int j, float mean, float var)
{
    rmean[j] = L->momentum * rmean[j] + (1.0f - L->momentum) * mean;
    rvar[j] = L->momentum * rvar[j] + (1.0f - L->momentum) * var;
}

/* Per-channel batchnorm of maps x [k][m], m = b*h*w values per channel (as BatchNorm2d); as below. */
static void batchnorm_forward_maps(dnn_net *net, dnn_layer *L, const float *x, size_t m, int training)
{
    const int k = L->in_shape.c;
    const float *gamma = net->params + L->w, *beta = net->params + L->b;
    float *rmean = net->state + L->s, *rvar = rmean + k;
    float *mean = L->bstat, *inv = L->bstat + k;
    for (int j = 0; j < k; j++) {
        const float *xj = x + (size_t)j * m;
        if (training) {
            /* a channel holds many values: sum in double */
            double s = 0.0, v = 0.0;
            for (size_t i = 0; i < m; i++) s += xj[i];
            mean[j] = (float)(s / (double)m);
            for (size_t i = 0; i < m; i++) {
                double d = (double)xj[i] - mean[j];
                v += d * d;
            }
            float var = (float)(v / (double)m);
            bn_running(L, rmean, rvar, j, mean[j], var);
            inv[j] = 1.0f / sqrtf(var + L->eps);
        } else {
            mean[j] = rmean[j];
            inv[j] = 1.0f / sqrtf(rvar[j] + L->eps);
        }
        float *h = L->mask + (size_t)j * m, *y = L->a + (size_t)j * m;
        const float mu = mean[j], sd = inv[j], gm = gamma[j], bt = beta[j];
        for (size_t i = 0; i < m; i++) {
            h[i] = (xj[i] - mu) * sd;
            y[i] = gm * h[i] + bt;
        }
    }
}

/* x [n, k] -> y = gamma * x_hat + beta. Training normalises by the batch's statistics and moves the running
 * ones towards them; evaluation uses the running ones. mask keeps x_hat, bstat the mean and 1/std. */
static void batchnorm_forward(dnn_net *net, dnn_layer *L, const float *x, int n, int training)
{
    if (L->in_maps) {
        batchnorm_forward_maps(net, L, x, (size_t)L->out / (size_t)L->in_shape.c * (size_t)n, training);
        return;
    }
    const int k = L->out;
    const float *gamma = net->params + L->w, *beta = net->params + L->b;
    float *rmean = net->state + L->s, *rvar = rmean + k;
    float *mean = L->bstat, *inv = L->bstat + k;
    if (training) {
        for (int j = 0; j < k; j++) mean[j] = 0.0f, inv[j] = 0.0f;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) mean[j] += x[(size_t)i * k + j];
        for (int j = 0; j < k; j++) mean[j] /= (float)n;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) {
                float d = x[(size_t)i * k + j] - mean[j];
                inv[j] += d * d;
            }
        for (int j = 0; j < k; j++) {
            float var = inv[j] / (float)n;
            bn_running(L, rmean, rvar, j, mean[j], var);
            inv[j] = 1.0f / sqrtf(var + L->eps);
        }
    } else {
        for (int j = 0; j < k; j++) {
            mean[j] = rmean[j];
            inv[j] = 1.0f / sqrtf(rvar[j] + L->eps);
        }
    }
    for (int i = 0; i < n; i++) {
        const float *xr = x + (size_t)i * k;
        float *h = L->mask + (size_t)i * k, *y = L->a + (size_t)i * k;
        for (int j = 0; j < k; j++) {
            h[j] = (xr[j] - mean[j]) * inv[j];
            y[j] = gamma[j] * h[j] + beta[j];
        }
    }
}

/* The backward pass of batchnorm_forward_maps, as below per channel. */
static void batchnorm_backward_maps(dnn_net *net, dnn_layer *L, size_t m, float *dx)
{
    const int k = L->in_shape.c;
    const float *gamma = net->params + L->w, *inv = L->bstat + k;
    float *dgamma = net->grads + L->w, *dbeta = net->grads + L->b;
    for (int j = 0; j < k; j++) {
        const float *dy = L->g + (size_t)j * m, *h = L->mask + (size_t)j * m;
        double sb = 0.0, sg = 0.0;
        for (size_t i = 0; i < m; i++) {
            sb += dy[i];
            sg += (double)dy[i] * h[i];
        }
        dbeta[j] = (float)sb;
        dgamma[j] = (float)sg;
        if (!dx) continue;
        const float s1 = gamma[j] * dbeta[j], s2 = gamma[j] * dgamma[j], c = inv[j] / (float)m;
        const float gm = (float)m * gamma[j];
        float *d = dx + (size_t)j * m;
        for (size_t i = 0; i < m; i++) d[i] = c * (gm * dy[i] - s1 - h[i] * s2);
    }
}

/* After a pass in evaluation mode batchnorm is the affine map y = gamma (x - mean) inv + beta of its running
 * statistics: dx = dy gamma inv, with dgamma and dbeta as in training. */
static void batchnorm_backward_eval(dnn_net *net, dnn_layer *L, int n, float *dx)
{
    const int k = bn_channels(L);
    const size_t m = L->in_maps ? (size_t)L->out / (size_t)k * (size_t)n : (size_t)n;
    const float *gamma = net->params + L->w, *inv = L->bstat + k;
    float *dgamma = net->grads + L->w, *dbeta = net->grads + L->b;
    for (int j = 0; j < k; j++) {
        /* value i of channel j: maps hold a channel's values together, rows interleave the channels */
        const size_t at = L->in_maps ? (size_t)j * m : (size_t)j, step = L->in_maps ? 1 : (size_t)k;
        double sb = 0.0, sg = 0.0;
        for (size_t i = 0; i < m; i++) {
            sb += L->g[at + i * step];
            sg += (double)L->g[at + i * step] * L->mask[at + i * step];
        }
        dbeta[j] = (float)sb;
        dgamma[j] = (float)sg;
        for (size_t i = 0; dx && i < m; i++) dx[at + i * step] = L->g[at + i * step] * gamma[j] * inv[j];
    }
}

/* dx = inv/n * (n dxh - sum(dxh) - x_hat sum(dxh x_hat)), dxh = dy gamma; also dgamma, dbeta. */
static void batchnorm_backward(dnn_net *net, dnn_layer *L, int n, float *dx)
{
    if (!net->training) {
        batchnorm_backward_eval(net, L, n, dx);
        return;
    }
    if (L->in_maps) {
        batchnorm_backward_maps(net, L, (size_t)L->out / (size_t)L->in_shape.c * (size_t)n, dx);
        return;
    }
    const int k = L->out;
    const float *gamma = net->params + L->w, *inv = L->bstat + k;
    float *dgamma = net->grads + L->w, *dbeta = net->grads + L->b;
    float *s1 = L->bstat + 2 * (size_t)k, *s2 = L->bstat + 3 * (size_t)k;
    for (int j = 0; j < k; j++) dgamma[j] = dbeta[j] = 0.0f;
    for (int i = 0; i < n; i++) {
        const float *dy = L->g + (size_t)i * k, *h = L->mask + (size_t)i * k;
        for (int j = 0; j < k; j++) {
            dbeta[j] += dy[j];
            dgamma[j] += dy[j] * h[j];
        }
    }
    if (!dx) return;
    /* sum(dxh) = gamma dbeta and sum(dxh x_hat) = gamma dgamma */
    for (int j = 0; j < k; j++) {
        s1[j] = gamma[j] * dbeta[j];
        s2[j] = gamma[j] * dgamma[j];
    }
    for (int i = 0; i < n; i++) {
        const float *dy = L->g + (size_t)i * k, *h = L->mask + (size_t)i * k;
        float *d = dx + (size_t)i * k;
        for (int j = 0; j < k; j++)
            d[j] = inv[j] / (float)n * ((float)n * dy[j] * gamma[j] - s1[j] - h[j] * s2[j]);
    }
}

/* ---- convolution ---- */

/* im2col and col2im, timed under a profiler into the layer's slot after its products'. */
static void patches(dnn_net *net, const dnn_layer *L, const float *in, int b, int n0, int nb)
{
    double t0 = net->clock ? dnn_now() : 0.0;
    dnn_im2col(&L->win, in, L->in_maps, b, n0, nb, L->col);
    if (net->clock) net->clock[1] += dnn_now() - t0;
}

static void unpatch(dnn_net *net, const dnn_layer *L, int b, int n0, int nb, float *dx)
{
    double t0 = net->clock ? dnn_now() : 0.0;
    dnn_col2im(&L->win, L->col, b, n0, nb, dx, L->in_maps);
    if (net->clock) net->clock[1] += dnn_now() - t0;
}

/* in: b samples of C x H x W (rows or maps) -> z, a: maps [F][b][oh][ow]. A block of samples at a time: its
 * patches, their product into its columns of z, and its bias and activation while z's block is in cache. */
static void conv_forward(dnn_net *net, dnn_layer *L, const float *in, int b)
{
    const dnn_window *g = &L->win;
    const int F = L->out_shape.c, K = g->c * g->kh * g->kw, hw = g->oh * g->ow, n = b * hw;
    for (int n0 = 0; n0 < b; n0 += L->block) {
        const int nb = b - n0 < L->block ? b - n0 : L->block, cols = nb * hw;
        patches(net, L, in, b, n0, nb);
        /* z[:, n0 hw ..] (F, cols) = W (F, K) . col (K, cols) */
        gemm(net, 0, 0, F, cols, K, net->params + L->w, K, L->col, cols, 0.0f, L->z + (size_t)n0 * hw, n);
        bias_act_maps(L, net->params + L->b, (size_t)n, (size_t)n0 * hw, (size_t)cols);
    }
}

/* g = dL/dA [F][b][oh][ow] -> dW, db and, when dx is not NULL, dx in the input's layout. The blocks go in
 * reverse, so the first one's patches are those the forward pass left in col; the others are made again
 * (cheaper than keeping the whole batch's, which would not stay in cache). */
static void conv_backward(dnn_net *net, dnn_layer *L, const float *in, int b, float *dx)
{
    const dnn_window *g = &L->win;
    const int F = L->out_shape.c, K = g->c * g->kh * g->kw, hw = g->oh * g->ow, n = b * hw;
    float *db = net->grads + L->b, *dW = net->grads + L->w;
    if (L->act == DNN_ACT_RELU)
        for (int f = 0; f < F; f++) {
            size_t o = (size_t)f * (size_t)n;
            db[f] = relu_backward_sum(L->a + o, L->g + o, (size_t)n);
        }
    else {
        dnn_act_backward(L->act, L->slope, L->z, L->a, L->g, b, L->out);
        for (int f = 0; f < F; f++) db[f] = sum16(L->g + (size_t)f * (size_t)n, (size_t)n);
    }
    const int last = (b - 1) / L->block * L->block;
    for (int n0 = last; n0 >= 0; n0 -= L->block) {
        const int nb = b - n0 < L->block ? b - n0 : L->block, cols = nb * hw;
        const float *dz = L->g + (size_t)n0 * hw;
        if (n0 != last) patches(net, L, in, b, n0, nb);
        /* dW (F, K) += dZ (F, cols) . col^T (cols, K) */
        gemm(net, 0, 1, F, K, cols, dz, n, L->col, cols, n0 == last ? 0.0f : 1.0f, dW, K);
        if (!dx) continue;
        /* dcol (K, cols) = W^T (K, F) . dZ (F, cols), into col: the weight gradient has had the patches */
        gemm(net, 1, 0, K, cols, F, net->params + L->w, K, dz, n, 0.0f, L->col, cols);
        unpatch(net, L, b, n0, nb, dx);
    }
}

/* ---- passes ---- */

/* Under a profiler: the layer's products and patches are timed into its slots, the whole pass by the returned
 * start. */
static double profile_start(dnn_net *net, int l)
{
    if (!net->profile) return 0.0;
    net->clock = net->profile + 4 * (size_t)l + 2;
    return dnn_now();
}

static void profile_stop(dnn_net *net, int l, int backward, double t0)
{
    if (!net->profile) return;
    net->profile[4 * (size_t)l + (size_t)backward] += dnn_now() - t0;
    net->clock = NULL;
}

static size_t plane_size(dnn_shape s)
{
    return (size_t)s.h * (size_t)s.w;
}

/* in is (b, in), W is (in, out), z is (b, out); in fp32 one row goes to sgemv. In bf16 the weights are
 * rounded again after every training step (they changed), the input once for this product and the weight
 * gradient's. */
static void dense_forward(dnn_net *net, dnn_layer *L, const float *in, int b)
{
    if (net->half) {
        int rows;
        struct dnn_bf16_product *const *prod = half_for(net, L, b, &rows);
        if (net->half_stale && !net->shared_half) dnn_bf16_from_float(net->params + L->w, L->wh, L->nw);
        to_half(in, L->xh, b, L->in, rows);
        product(net, prod[0], L->xh, L->wh, L->z);
    } else if (b == 1)
        gemv(net, L->in, L->out, net->params + L->w, in, L->z);
    else
        gemm(net, 0, 0, b, L->out, L->in, in, L->in, net->params + L->w, L->out, 0.0f, L->z, L->out);
    bias_act(L, net->params + L->b, b);
}

/* The pass; key and row0 only matter to dropout in training. */
static const float *forward(dnn_net *net, const float *x, int b, int training, uint64_t key, size_t row0)
{
    const float *in = x;
    net->training = training;
    for (int l = 0; l < net->n_layers; l++) {
        dnn_layer *L = &net->layers[l];
        double t0 = profile_start(net, l);
        switch (L->kind) {
        case DNN_LAYER_DENSE: dense_forward(net, L, in, b); break;
        case DNN_LAYER_DROPOUT:
            if (!training || L->rate == 0.0f) {
                memcpy(L->a, in, (size_t)b * (size_t)L->out * sizeof(float));
                if (L->rate == 0.0f)
                    for (size_t i = 0; i < (size_t)b * (size_t)L->out; i++) L->mask[i] = 1.0f;
            } else /* each layer its own key, so two dropout layers of one width drop different units */
                dropout_forward(L, in, b, dnn_rng_at(key, ~(uint64_t)l), row0);
            break;
        case DNN_LAYER_BATCHNORM: batchnorm_forward(net, L, in, b, training); break;
        case DNN_LAYER_CONV2D: conv_forward(net, L, in, b); break;
        case DNN_LAYER_MAXPOOL2D: dnn_maxpool_forward(&L->win, in, L->in_maps, b, L->a, L->arg); break;
        case DNN_LAYER_AVGPOOL2D: dnn_avgpool_forward(&L->win, in, L->in_maps, b, L->a); break;
        case DNN_LAYER_FLATTEN:
            dnn_relayout(L->in_shape.c, plane_size(L->in_shape), in, L->in_maps, b, L->a, 0);
            break;
        case DNN_LAYER_GLOBAL_AVGPOOL:
            dnn_global_avgpool_forward(L->in_shape.c, plane_size(L->in_shape), in, L->in_maps, b, L->a);
            break;
        }
        profile_stop(net, l, 0, t0);
        in = L->a;
    }
    /* the weights rounded in this pass stay valid until the optimizer step that follows a training pass (or
     * until a trainer rounds them again itself, dnn_net_round_weights) */
    net->half_stale = training;
    return in;
}

const float *dnn_net_forward(dnn_net *net, const float *x, int b, int training, dnn_rng *rng)
{
    return forward(net, x, b, training, training && rng ? dnn_rng_u64(rng) : 0, 0);
}

const float *dnn_net_forward_rows(dnn_net *net, const float *x, int b, uint64_t key, size_t row0)
{
    return forward(net, x, b, 1, key, row0);
}

const float *dnn_net_logits(const dnn_net *net)
{
    return net->layers[net->n_layers - 1].z;
}

float *dnn_net_output_grad(dnn_net *net)
{
    return net->layers[net->n_layers - 1].g;
}

/* The backward pass of a dense layer: g holds dL/dA (the loss already turned the last layer's into dL/dZ). */
static void dense_backward(dnn_net *net, dnn_layer *L, const float *in, int b, int last, float *dx,
                           int dx_full)
{
    if (!last) dnn_act_backward(L->act, L->slope, L->z, L->a, L->g, b, L->out);
    int rows = 0;
    struct dnn_bf16_product *const *prod = net->half ? half_for(net, L, b, &rows) : NULL;
    /* dW (in, out) = in^T (in, b) . dZ (b, out); in bf16 from the input the forward pass rounded */
    if (net->half) {
        to_half(L->g, L->gh, b, L->out, rows);
        product(net, prod[1], L->xh, L->gh, net->grads + L->w);
    } else
        gemm(net, 1, 0, L->in, L->out, b, in, L->in, L->g, L->out, 0.0f, net->grads + L->w, L->out);
    float *db = net->grads + L->b;
    memset(db, 0, (size_t)L->out * sizeof(float));
    for (int i = 0; i < b; i++) {
        const float *gr = L->g + (size_t)i * L->out;
        for (int j = 0; j < L->out; j++) db[j] += gr[j];
    }
    /* dX (b, in) = dZ (b, out) . W^T (out, in); the bf16 product writes its padded rows too, which a
     * caller's input gradient of b rows may not hold: that one product stays fp32 */
    if (dx && net->half && dx_full)
        product(net, prod[2], L->gh, L->wh, dx);
    else if (dx)
        gemm(net, 0, 1, b, L->in, L->out, L->g, L->out, net->params + L->w, L->out, 0.0f, dx, L->in);
}

double dnn_net_backward(dnn_net *net, const float *x, int b)
{
    return dnn_net_backward_input(net, x, b, NULL);
}

/* The layers' gradients of this process's rows, and the input's into dx0 when it is not NULL. */
static void backward_layers(dnn_net *net, const float *x, int b, float *dx0)
{
    for (int l = net->n_layers - 1; l >= 0; l--) {
        dnn_layer *L = &net->layers[l];
        const float *in = l > 0 ? net->layers[l - 1].a : x;
        float *dx = l > 0 ? net->layers[l - 1].g : dx0; /* the input's only when asked for */
        const size_t hw = plane_size(L->in_shape);
        double t0 = profile_start(net, l);
        switch (L->kind) {
        case DNN_LAYER_DENSE: dense_backward(net, L, in, b, l == net->n_layers - 1, dx, l > 0); break;
        case DNN_LAYER_DROPOUT:
            if (dx && !net->training)
                memcpy(dx, L->g, (size_t)b * (size_t)L->out * sizeof(float));
            else if (dx)
                for (size_t i = 0; i < (size_t)b * (size_t)L->out; i++) dx[i] = L->g[i] * L->mask[i];
            break;
        case DNN_LAYER_BATCHNORM: batchnorm_backward(net, L, b, dx); break;
        case DNN_LAYER_CONV2D: conv_backward(net, L, in, b, dx); break;
        case DNN_LAYER_MAXPOOL2D:
            if (dx) dnn_maxpool_backward(&L->win, L->g, L->arg, b, dx, L->in_maps);
            break;
        case DNN_LAYER_AVGPOOL2D:
            if (dx) dnn_avgpool_backward(&L->win, L->g, b, dx, L->in_maps);
            break;
        case DNN_LAYER_FLATTEN:
            if (dx) dnn_relayout(L->in_shape.c, hw, L->g, 0, b, dx, L->in_maps);
            break;
        case DNN_LAYER_GLOBAL_AVGPOOL:
            if (dx) dnn_global_avgpool_backward(L->in_shape.c, hw, L->g, b, dx, L->in_maps);
            break;
        }
        profile_stop(net, l, 1, t0);
    }
}

double dnn_net_add_l2(dnn_net *net)
{
    /* l2 * sum(W^2) joins the loss, so 2 * l2 * W joins the gradient (biases are not penalised) */
    dnn_net_l2_grad(net, net->grads, 0, net->n_params);
    return dnn_net_l2_penalty(net, 0, net->n_params);
}

double dnn_net_l2_penalty(const dnn_net *net, size_t lo, size_t hi)
{
    double penalty = 0.0;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        size_t x, y;
        if (L->l2 == 0.0f || !overlap(lo, hi, L->w, L->nw, &x, &y)) continue;
        double s = 0.0;
        for (size_t i = x; i < y; i++) s += (double)net->params[i] * net->params[i];
        penalty += L->l2 * s;
    }
    return penalty;
}

void dnn_net_l2_grad(const dnn_net *net, float *g, size_t lo, size_t hi)
{
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        size_t x, y;
        if (L->l2 == 0.0f || !overlap(lo, hi, L->w, L->nw, &x, &y)) continue;
        for (size_t i = x; i < y; i++) g[i - lo] += 2.0f * L->l2 * net->params[i];
    }
}

int dnn_net_has_l2(const dnn_net *net)
{
    for (int l = 0; l < net->n_layers; l++)
        if (net->layers[l].nw && net->layers[l].l2 != 0.0f) return 1;
    return 0;
}

void dnn_net_backward_rows(dnn_net *net, const float *x, int b)
{
    backward_layers(net, x, b, NULL);
}

double dnn_net_backward_input(dnn_net *net, const float *x, int b, float *dx0)
{
    backward_layers(net, x, b, dx0);
    return dnn_net_add_l2(net);
}
