/* Image-layer tests: the convolution layer's forward pass against a direct (naive loop) convolution for every
 * padding and stride, col2im as the exact adjoint of im2col, pooling against naive loops, ties in max
 * pooling, and the two batch layouts. */
#include <cjson/cJSON.h>

#include "check.h"
#include "dnn/config.h"
#include "dnn/conv.h"
#include "dnn/net.h"
#include "dnn/rng.h"

static dnn_net *make_net(const char *layers, dnn_shape in, int batch, dnn_config *c)
{
    char json[2048];
    snprintf(
        json, sizeof json,
        "{\"data\": {\"train\": {\"format\": \"idx\", \"images\": \"x\"}}, \"model\": {\"layers\": [%s]}, "
        "\"loss\": \"mse\", \"optimizer\": \"sgd\"}",
        layers);
    dnn_error err = {0};
    cJSON *j = cJSON_Parse(json);
    dnn_net *net = NULL;
    if (!j || dnn_config_from_json(c, j, "test.json", NULL, NULL, 0, &err) ||
        dnn_net_create(&net, c, in, batch, &err)) {
        fprintf(stderr, "bad test network: %s\n%s\n", err.msg, json);
        return NULL;
    }
    return net;
}

static void fill(float *x, size_t n, dnn_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * dnn_rng_uniform(r) - 1);
}

/* y[n][f][oh][ow] = b[f] + sum over c, i, j of W[f][c][i][j] x[n][c][oh*sh - ph + i][ow*sw - pw + j] */
static void naive_conv(const float *x, const float *W, const float *bias, const dnn_window *g, int F, int B,
                       double *y)
{
    for (int n = 0; n < B; n++)
        for (int f = 0; f < F; f++)
            for (int oh = 0; oh < g->oh; oh++)
                for (int ow = 0; ow < g->ow; ow++) {
                    double s = bias[f];
                    for (int c = 0; c < g->c; c++)
                        for (int i = 0; i < g->kh; i++)
                            for (int j = 0; j < g->kw; j++) {
                                int ih = oh * g->sh - g->ph + i, iw = ow * g->sw - g->pw + j;
                                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                                s += (double)W[((f * g->c + c) * g->kh + i) * g->kw + j] *
                                     x[((size_t)(n * g->c + c) * g->h + ih) * g->w + iw];
                            }
                    y[(((size_t)n * F + f) * g->oh + oh) * g->ow + ow] = s;
                }
}

/* The layer's forward pass (maps [F][b][oh][ow]) against naive_conv, for one geometry. */
static void check_conv(const char *conv, dnn_shape in, int want_oh, int want_ow, int blocks)
{
    char layers[512];
    snprintf(layers, sizeof layers, "%s, {\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 1}", conv);
    dnn_config c;
    const int B = 3;
    dnn_net *net = make_net(layers, in, B, &c);
    if (!net) {
        check_failures++;
        return;
    }
    dnn_rng r;
    dnn_rng_seed(&r, 5, 1);
    fill(net->params, net->n_params, &r);
    dnn_layer *L = &net->layers[0];
    L->block = blocks; /* samples per block of patches: 3 (the whole batch) or fewer */
    const dnn_window *g = &L->win;
    CHECK_MSG(g->oh == want_oh && g->ow == want_ow, "%s: output %dx%d, expected %dx%d", conv, g->oh, g->ow,
              want_oh, want_ow);
    size_t nx = (size_t)B * net->n_in, ny = (size_t)B * L->out;
    float *x = malloc(nx * sizeof(float));
    double *y = malloc(ny * sizeof(double));
    fill(x, nx, &r);
    dnn_net_forward(net, x, B, 0, NULL);
    naive_conv(x, net->params + L->w, net->params + L->b, g, L->out_shape.c, B, y);
    double worst = 0;
    const size_t plane = (size_t)g->oh * g->ow;
    for (int n = 0; n < B; n++)
        for (int f = 0; f < L->out_shape.c; f++)
            for (size_t p = 0; p < plane; p++) {
                double got = L->z[((size_t)f * B + n) * plane + p];
                double want = y[((size_t)n * L->out_shape.c + f) * plane + p];
                worst = fmax(worst, fabs(got - want));
            }
    CHECK_MSG(worst < 1e-4, "%s on %dx%dx%d: off by %g from the direct convolution", conv, in.c, in.h, in.w,
              worst);
    free(x);
    free(y);
    dnn_net_free(net);
    dnn_config_free(&c);
}

static void test_conv_forward(void)
{
    dnn_shape odd = {2, 7, 5}, one = {1, 6, 6}, seven = {1, 7, 7};
    /* valid, same and numeric padding; strides 1, 2 and 3; square and oblong kernels; odd sizes */
    check_conv("{\"type\": \"conv2d\", \"filters\": 3, \"kernel_size\": 3}", odd, 5, 3, 3);
    check_conv("{\"type\": \"conv2d\", \"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\"}", odd, 7, 5,
               2);
    check_conv("{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": [3, 2], \"padding\": 1}", odd, 7, 6,
               1);
    check_conv("{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"stride\": 2}", odd, 3, 2, 2);
    check_conv(
        "{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"stride\": 2, \"padding\": \"same\"}",
        odd, 4, 3, 3);
    check_conv("{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": [2, 4], \"padding\": \"same\"}", odd,
               7, 5, 1);
    check_conv("{\"type\": \"conv2d\", \"filters\": 4, \"kernel_size\": 1}", odd, 7, 5, 2);
    check_conv("{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"stride\": 3, \"padding\": 1}",
               seven, 3, 3, 3);
    check_conv(
        "{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 5, \"stride\": [1, 2], \"padding\": [2, 0]}",
        odd, 7, 1, 1);
    check_conv("{\"type\": \"conv2d\", \"filters\": 1, \"kernel_size\": 6, \"padding\": \"same\"}", one, 6, 6,
               2);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* <im2col(x), c> = <x, col2im(c)> for random x and c: col2im is the exact adjoint, in both layouts. */
static void test_col2im_adjoint(void)
{
    const dnn_window gs[] = {{2, 5, 7, 3, 3, 1, 1, 1, 1, 5, 7},
                             {3, 6, 5, 2, 3, 2, 1, 0, 1, 3, 5},
                             {1, 4, 4, 3, 3, 3, 3, 1, 1, 2, 2},
                             {2, 3, 3, 5, 5, 1, 1, 2, 2, 3, 3}};
    dnn_rng r;
    dnn_rng_seed(&r, 8, 1);
    for (size_t t = 0; t < sizeof gs / sizeof *gs; t++)
        for (int maps = 0; maps < 2; maps++) {
            const dnn_window *g = &gs[t];
            const int B = 3;
            size_t nx = (size_t)B * g->c * g->h * g->w, nc = (size_t)g->c * g->kh * g->kw * B * g->oh * g->ow;
            float *x = malloc(nx * sizeof(float)), *col = malloc(nc * sizeof(float));
            float *c = malloc(nc * sizeof(float)), *dx = malloc(nx * sizeof(float));
            fill(x, nx, &r);
            fill(c, nc, &r);
            dnn_im2col(g, x, maps, B, 0, B, col);
            dnn_col2im(g, c, B, 0, B, dx, maps);
            double lhs = dot(col, c, nc), rhs = dot(x, dx, nx);
            CHECK_MSG(fabs(lhs - rhs) < 1e-4 * (1 + fabs(lhs)), "geometry %zu (maps %d): %g != %g", t, maps,
                      lhs, rhs);
            free(x);
            free(col);
            free(c);
            free(dx);
        }
}

/* Max and average pooling against naive loops, with overlapping windows and both input layouts; ties. */
static void test_pooling(void)
{
    const dnn_window g = {2, 5, 7, 3, 3, 2, 2, 0, 0, 2, 3}; /* overlapping 3x3 windows, stride 2 */
    const int B = 2;
    size_t nx = (size_t)B * 2 * 35, ny = (size_t)B * 2 * 6;
    float x[140], rows[140], y[24], ya[24], dy[24], dx[140];
    uint32_t arg[24];
    dnn_rng r;
    dnn_rng_seed(&r, 3, 1);
    fill(rows, nx, &r);
    dnn_relayout(2, 35, rows, 0, B, x, 1); /* the same values as maps */
    for (int maps = 0; maps < 2; maps++) {
        const float *in = maps ? x : rows;
        dnn_maxpool_forward(&g, in, maps, B, y, arg);
        dnn_avgpool_forward(&g, in, maps, B, ya);
        double worst = 0;
        for (int c = 0; c < 2; c++)
            for (int n = 0; n < B; n++)
                for (int oh = 0; oh < 2; oh++)
                    for (int ow = 0; ow < 3; ow++) {
                        const float *p = rows + (size_t)(n * 2 + c) * 35;
                        float m = -INFINITY;
                        double s = 0;
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                float v = p[(oh * 2 + i) * 7 + ow * 2 + j];
                                m = fmaxf(m, v);
                                s += v;
                            }
                        size_t o = ((size_t)c * B + n) * 6 + (size_t)oh * 3 + ow;
                        worst = fmax(worst, fabs(y[o] - m) + fabs(ya[o] - s / 9) + (p[arg[o]] != m));
                    }
        CHECK_MSG(worst < 1e-6, "pooling (maps %d) off by %g", maps, worst);
    }
    /* the backward passes in either layout agree, and max pooling's sends each gradient to its maximum */
    for (size_t i = 0; i < ny; i++) dy[i] = 1.0f;
    dnn_maxpool_backward(&g, dy, arg, B, dx, 1);
    double total = 0;
    for (size_t i = 0; i < nx; i++) total += dx[i];
    CHECK_NEAR(total, (double)ny, 1e-9);

    /* ties: a constant window routes its gradient to its first element, row-major, every time */
    const dnn_window t = {1, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2};
    float flat[16], ty[4], tdy[4] = {1, 2, 3, 4}, tdx[16];
    uint32_t targ[4];
    for (int i = 0; i < 16; i++) flat[i] = 0.5f;
    flat[10] = flat[11] = flat[14] = flat[15] = 2.0f; /* the last window: all equal too */
    dnn_maxpool_forward(&t, flat, 0, 1, ty, targ);
    dnn_maxpool_backward(&t, tdy, targ, 1, tdx, 0);
    CHECK(targ[0] == 0 && targ[1] == 2 && targ[2] == 8 && targ[3] == 10);
    CHECK(tdx[0] == 1 && tdx[2] == 2 && tdx[8] == 3 && tdx[10] == 4 && tdx[1] == 0 && tdx[15] == 0);
    /* a later strict maximum does win */
    flat[5] = 0.75f;
    dnn_maxpool_forward(&t, flat, 0, 1, ty, targ);
    CHECK(targ[0] == 5 && ty[0] == 0.75f);
}

static void test_global_avgpool(void)
{
    float x[2 * 3 * 4], y[6], dx[24], dy[6] = {1, 2, 3, 4, 5, 6};
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    dnn_global_avgpool_forward(3, 4, x, 0, 2, y); /* rows: sample 0 is planes 0..2 */
    CHECK_NEAR(y[0], 1.5, 1e-6);
    CHECK_NEAR(y[5], 21.5, 1e-6);
    dnn_global_avgpool_forward(3, 4, x, 1, 2, y); /* maps: channel 0 is planes 0 (n=0) and 1 (n=1) */
    CHECK_NEAR(y[1], 9.5, 1e-6);                  /* sample 0, channel 1: plane 2, values 8..11 */
    CHECK_NEAR(y[3], 5.5, 1e-6);                  /* sample 1, channel 0: plane 1, values 4..7 */
    dnn_global_avgpool_backward(3, 4, dy, 2, dx, 0);
    CHECK(dx[0] == 0.25f && dx[23] == 1.5f);
}

int main(void)
{
    test_conv_forward();
    test_col2im_adjoint();
    test_pooling();
    test_global_avgpool();
    return check_done("test_conv");
}
