/* Network layers: forward and backward passes of a batch as one cblas_sgemm per product, with the bias,
 * activation, dropout and batchnorm work done in plain loops over contiguous rows. */
#include "dnn/net.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/util.h"

/* Round a float count up to a whole 64-byte line, so every workspace buffer starts aligned. */
static size_t lines(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* One layer's floats: weights and biases (or batchnorm's scale and shift), state, and batch workspace
 * (a and g always; z for the last layer and gelu; mask for dropout and batchnorm; batchnorm's statistics).
 * Returns -1 on overflow. */
static int layer_floats(const dnn_layer_config *lc, size_t in, size_t B, int last, size_t *w, size_t *b,
                        size_t *state, size_t *work, size_t *out)
{
    int kind = lc->kind;
    *out = kind == DNN_LAYER_DENSE ? (size_t)lc->units : in;
    *w = *b = *state = 0;
    if (kind == DNN_LAYER_DENSE) {
        if (dnn_mul_size(in, *out, w)) return -1;
        *b = *out;
    } else if (kind == DNN_LAYER_BATCHNORM) {
        *w = *b = *out;
        *state = 2 * *out;
    }
    size_t row;
    if (dnn_mul_size(B, *out, &row) || row > SIZE_MAX / 8) return -1;
    int sep_z = kind == DNN_LAYER_DENSE && (last || lc->activation == DNN_ACT_GELU);
    *work = lines(row) * (size_t)(2 + sep_z + (kind != DNN_LAYER_DENSE)) +
            (kind == DNN_LAYER_BATCHNORM ? lines(4 * *out) : 0);
    return 0;
}

int dnn_net_sizes(const dnn_config *cfg, int n_in, int max_batch, dnn_net_sizes_t *sz)
{
    memset(sz, 0, sizeof *sz);
    size_t in = (size_t)n_in;
    for (int l = 0; l < cfg->n_layers; l++) {
        size_t w, b, st, wk, out;
        if (layer_floats(&cfg->layers[l], in, (size_t)max_batch, l == cfg->n_layers - 1, &w, &b, &st, &wk,
                         &out) ||
            dnn_add_size(sz->params, w, &sz->params) || dnn_add_size(sz->params, b, &sz->params) ||
            dnn_add_size(sz->state, st, &sz->state) || dnn_add_size(sz->work, wk, &sz->work))
            return -1;
        in = out;
    }
    return sz->params > SIZE_MAX / 64 || sz->work > SIZE_MAX / 64 ? -1 : 0;
}

size_t dnn_net_count_params(const dnn_config *cfg, int n_in)
{
    dnn_net_sizes_t sz;
    return dnn_net_sizes(cfg, n_in, 1, &sz) ? 0 : sz.params;
}

/* A network with a batch workspace of its own, and its own parameters and state or (base not NULL) base's. */
static dnn_status net_build(dnn_net **out, const dnn_config *cfg, int n_in, int max_batch,
                            const dnn_net *base, dnn_error *err)
{
    *out = NULL;
    if (n_in <= 0 || max_batch <= 0)
        return dnn_fail(err, DNN_EINTERNAL, "network with %d inputs, batch %d", n_in, max_batch);
    dnn_net_sizes_t sz;
    if (dnn_net_sizes(cfg, n_in, max_batch, &sz))
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
    net->n_in = n_in;
    net->max_batch = max_batch;
    net->n_params = sz.params;
    net->n_state = sz.state;
    net->borrowed = base != NULL;
    if (base) { /* inference only: read base's parameters and state, keep no gradients */
        if (base->n_in != n_in || base->n_params != sz.params || base->n_state != sz.state) {
            dnn_net_free(net);
            return dnn_fail(err, DNN_EINTERNAL, "a view of a network of another shape");
        }
        net->params = base->params;
        net->state = base->state;
    } else {
        net->params = dnn_alloc_hot(sz.params, sizeof(float));
        net->grads = dnn_alloc_hot(sz.params, sizeof(float));
        net->state = dnn_alloc_hot(sz.state, sizeof(float));
    }
    net->work = dnn_alloc_hot(sz.work, sizeof(float));
    if (!net->params || (!base && !net->grads) || !net->state || !net->work) {
        dnn_net_free(net);
        return dnn_fail_oom(err, "the network's parameters and batch workspace",
                            (2 * sz.params + sz.work) * sizeof(float));
    }
    /* carve the buffers, in the order dnn_net_sizes counted them */
    size_t np = 0, ns = 0, B = (size_t)max_batch;
    float *p = net->work;
    size_t in = (size_t)n_in;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer_config *lc = &cfg->layers[l];
        dnn_layer *L = &layers[l];
        size_t w, b, st, wk, o;
        int last = l == net->n_layers - 1;
        layer_floats(lc, in, B, last, &w, &b, &st, &wk, &o);
        L->kind = lc->kind;
        L->in = (int)in;
        L->out = (int)o;
        L->act = lc->activation;
        L->slope = lc->negative_slope;
        L->l2 = lc->l2;
        L->rate = lc->rate;
        L->momentum = lc->momentum;
        L->eps = lc->eps;
        L->w = np;
        L->b = np + w;
        L->s = ns;
        np += w + b;
        ns += st;
        size_t row = lines(B * o);
        L->a = p, p += row;
        L->g = p, p += row;
        L->z = L->a;
        if (L->kind == DNN_LAYER_DENSE && (last || L->act == DNN_ACT_GELU)) L->z = p, p += row;
        if (L->kind != DNN_LAYER_DENSE) L->mask = p, p += row;
        if (L->kind == DNN_LAYER_BATCHNORM) {
            L->bstat = p, p += lines(4 * o);
            if (!base)
                for (size_t j = 0; j < o; j++) net->state[L->s + o + j] = 1.0f; /* running variance */
        }
        in = o;
    }
    net->n_out = (int)in;
    *out = net;
    return DNN_OK;
}

dnn_status dnn_net_create(dnn_net **out, const dnn_config *cfg, int n_in, int max_batch, dnn_error *err)
{
    return net_build(out, cfg, n_in, max_batch, NULL, err);
}

dnn_status dnn_net_create_view(dnn_net **out, const dnn_config *cfg, const dnn_net *base, int max_batch,
                               dnn_error *err)
{
    return net_build(out, cfg, base->n_in, max_batch, base, err);
}

void dnn_net_drop_workspace(dnn_net *net)
{
    free(net->grads);
    free(net->work);
    net->grads = net->work = NULL;
    for (int l = 0; l < net->n_layers; l++) {
        dnn_layer *L = &net->layers[l];
        L->a = L->g = L->z = L->mask = L->bstat = NULL;
    }
    net->max_batch = 0;
}

void dnn_net_free(dnn_net *net)
{
    if (!net) return;
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
            for (int j = 0; j < L->out; j++) {
                net->params[L->w + (size_t)j] = 1.0f;
                net->params[L->b + (size_t)j] = 0.0f;
            }
            continue;
        }
        if (L->kind != DNN_LAYER_DENSE) continue;
        dnn_init s = scheme;
        if (s == DNN_INIT_AUTO) s = auto_init(L->act);
        double fan_in = L->in, fan_out = L->out;
        size_t n = (size_t)L->in * (size_t)L->out;
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
        memset(net->params + L->b, 0, (size_t)L->out * sizeof(float));
    }
}

/* ---- activations ---- */

/* a = act(z + bias) for rows [n, k]; z is updated to z + bias when it is kept apart from a.
 * Fusing the bias into the activation saves a pass over the batch. */
DNN_HOT static void bias_act(const dnn_layer *L, const float *bias, int n)
{
    const int k = L->out;
    float *z = L->z, *a = L->a;
    for (int i = 0; i < n; i++) {
        float *zr = z + (size_t)i * k, *ar = a + (size_t)i * k;
        for (int j = 0; j < k; j++) zr[j] += bias[j];
        switch (L->act) {
        case DNN_ACT_LINEAR:
            if (ar != zr) memcpy(ar, zr, (size_t)k * sizeof(float));
            break;
        case DNN_ACT_RELU:
            for (int j = 0; j < k; j++) ar[j] = zr[j] > 0.0f ? zr[j] : 0.0f;
            break;
        case DNN_ACT_LEAKY_RELU:
            for (int j = 0; j < k; j++) ar[j] = zr[j] > 0.0f ? zr[j] : L->slope * zr[j];
            break;
        case DNN_ACT_SIGMOID:
            for (int j = 0; j < k; j++) ar[j] = 1.0f / (1.0f + expf(-zr[j]));
            break;
        case DNN_ACT_TANH:
            for (int j = 0; j < k; j++) ar[j] = tanhf(zr[j]);
            break;
        case DNN_ACT_GELU:
            for (int j = 0; j < k; j++) ar[j] = 0.5f * zr[j] * (1.0f + erff(zr[j] * 0.70710678f));
            break;
        case DNN_ACT_SOFTMAX: {
            /* subtracting the row maximum keeps exp finite */
            float m = zr[0], s = 0.0f;
            for (int j = 1; j < k; j++) m = zr[j] > m ? zr[j] : m;
            for (int j = 0; j < k; j++) s += ar[j] = expf(zr[j] - m);
            float inv = 1.0f / s;
            for (int j = 0; j < k; j++) ar[j] *= inv;
            break;
        }
        }
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

/* Inverted dropout: kept units are scaled by 1/(1-rate) in training so evaluation needs no change. */
static void dropout_forward(dnn_layer *L, const float *x, int n, dnn_rng *rng)
{
    size_t total = (size_t)n * (size_t)L->out;
    float keep = 1.0f / (1.0f - L->rate);
    /* compare 24-bit uniforms with the rate in the same units, so the mask needs no float division */
    uint32_t cut = (uint32_t)((double)L->rate * 16777216.0);
    for (size_t i = 0; i < total; i++) {
        uint32_t u = (uint32_t)(dnn_rng_u64(rng) >> 40);
        L->mask[i] = u >= cut ? keep : 0.0f;
        L->a[i] = x[i] * L->mask[i];
    }
}

/* x [n, k] -> y = gamma * x_hat + beta. Training normalises by the batch's statistics and moves the running
 * ones towards them; evaluation uses the running ones. mask keeps x_hat, bstat the mean and 1/std. */
static void batchnorm_forward(dnn_net *net, dnn_layer *L, const float *x, int n, int training)
{
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
            rmean[j] = L->momentum * rmean[j] + (1.0f - L->momentum) * mean[j];
            rvar[j] = L->momentum * rvar[j] + (1.0f - L->momentum) * var;
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

/* dx = inv/n * (n dxh - sum(dxh) - x_hat sum(dxh x_hat)), dxh = dy gamma; also dgamma, dbeta. */
static void batchnorm_backward(dnn_net *net, dnn_layer *L, int n, float *dx)
{
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

/* ---- passes ---- */

const float *dnn_net_forward(dnn_net *net, const float *x, int b, int training, dnn_rng *rng)
{
    const float *in = x;
    for (int l = 0; l < net->n_layers; l++) {
        dnn_layer *L = &net->layers[l];
        switch (L->kind) {
        case DNN_LAYER_DENSE:
            /* in is (b, in), W is (in, out), z is (b, out). One row (a library caller's single prediction)
             * goes to sgemv: sgemm would copy all of W into its packed layout for that one row, which takes
             * as long as the product. */
            if (b == 1)
                cblas_sgemv(CblasRowMajor, CblasTrans, L->in, L->out, 1.0f, net->params + L->w, L->out, in, 1,
                            0.0f, L->z, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, L->out, L->in, 1.0f, in, L->in,
                            net->params + L->w, L->out, 0.0f, L->z, L->out);
            bias_act(L, net->params + L->b, b);
            break;
        case DNN_LAYER_DROPOUT:
            if (!training || L->rate == 0.0f) {
                memcpy(L->a, in, (size_t)b * (size_t)L->out * sizeof(float));
                if (L->rate == 0.0f)
                    for (size_t i = 0; i < (size_t)b * (size_t)L->out; i++) L->mask[i] = 1.0f;
            } else
                dropout_forward(L, in, b, rng);
            break;
        case DNN_LAYER_BATCHNORM: batchnorm_forward(net, L, in, b, training); break;
        }
        in = L->a;
    }
    return in;
}

const float *dnn_net_logits(const dnn_net *net)
{
    return net->layers[net->n_layers - 1].z;
}

float *dnn_net_output_grad(dnn_net *net)
{
    return net->layers[net->n_layers - 1].g;
}

double dnn_net_backward(dnn_net *net, const float *x, int b)
{
    for (int l = net->n_layers - 1; l >= 0; l--) {
        dnn_layer *L = &net->layers[l];
        const float *in = l > 0 ? net->layers[l - 1].a : x;
        float *dx = l > 0 ? net->layers[l - 1].g : NULL; /* the input needs no gradient */
        switch (L->kind) {
        case DNN_LAYER_DENSE: {
            /* g holds dL/dA; the loss already turned the last layer's into dL/dZ */
            if (l != net->n_layers - 1) dnn_act_backward(L->act, L->slope, L->z, L->a, L->g, b, L->out);
            /* dW (in, out) = in^T (in, b) . dZ (b, out) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->in, L->out, b, 1.0f, in, L->in, L->g,
                        L->out, 0.0f, net->grads + L->w, L->out);
            float *db = net->grads + L->b;
            memset(db, 0, (size_t)L->out * sizeof(float));
            for (int i = 0; i < b; i++) {
                const float *gr = L->g + (size_t)i * L->out;
                for (int j = 0; j < L->out; j++) db[j] += gr[j];
            }
            /* dX (b, in) = dZ (b, out) . W^T (out, in) */
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, L->in, L->out, 1.0f, L->g, L->out,
                            net->params + L->w, L->out, 0.0f, dx, L->in);
            break;
        }
        case DNN_LAYER_DROPOUT:
            if (dx)
                for (size_t i = 0; i < (size_t)b * (size_t)L->out; i++) dx[i] = L->g[i] * L->mask[i];
            break;
        case DNN_LAYER_BATCHNORM: batchnorm_backward(net, L, b, dx); break;
        }
    }
    /* l2 * sum(W^2) joins the loss, so 2 * l2 * W joins the gradient (biases are not penalised) */
    double penalty = 0.0;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        if (L->kind != DNN_LAYER_DENSE || L->l2 == 0.0f) continue;
        size_t n = (size_t)L->in * (size_t)L->out;
        const float *w = net->params + L->w;
        float *g = net->grads + L->w;
        double s = 0.0;
        for (size_t i = 0; i < n; i++) {
            s += (double)w[i] * w[i];
            g[i] += 2.0f * L->l2 * w[i];
        }
        penalty += L->l2 * s;
    }
    return penalty;
}
