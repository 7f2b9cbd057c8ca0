/* bf16 products: rounding to bf16, the CPU check and its simulation, and products of odd shapes and every
 * transpose against a double-precision reference within bf16's error bound. After the rounding and refusal
 * checks, the rest is skipped (77; a failure in strict runs) when this machine or build cannot run bf16. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "dnn/gemm.h"
#include "dnn/loss.h"
#include "dnn/net.h"
#include "dnn/rng.h"

static uint16_t round1(float x)
{
    uint16_t h;
    dnn_bf16_from_float(&x, &h, 1);
    return h;
}

static void test_rounding(void)
{
    CHECK(round1(1.0f) == 0x3f80);
    CHECK(round1(-2.0f) == 0xc000);
    /* 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even one, 1 */
    CHECK(round1(1.0f + 0x1p-8f) == 0x3f80);
    /* 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: the even one is 1 + 2^-6 */
    CHECK(round1(1.0f + 3 * 0x1p-8f) == 0x3f82);
    CHECK(round1(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81); /* past the tie: up */
    CHECK(round1(INFINITY) == 0x7f80);
    CHECK(round1(3.4e38f) == 0x7f80); /* beyond bf16's largest finite value: infinity, as RNE says */
    CHECK(isnan(dnn_bf16_to_float(round1(NAN))));
    CHECK(dnn_bf16_to_float(round1(0.15625f)) == 0.15625f); /* exact in 8 bits */
    /* any value: relative error at most 2^-8, and the rounded value is one of the two neighbours */
    dnn_rng rng;
    dnn_rng_seed(&rng, 3, 0);
    for (int i = 0; i < 100000; i++) {
        float x = (float)((dnn_rng_uniform(&rng) - 0.5) * 1e3);
        float r = dnn_bf16_to_float(round1(x));
        CHECK_MSG(fabsf(r - x) <= fabsf(x) * 0x1p-8f, "%.9g -> %.9g", (double)x, (double)r);
    }
}

/* A network of 13 inputs, dense 9 relu, dense 4 softmax, for batches of up to 8, in fp32 or bf16, with the
 * weights of seed 5. */
static dnn_net *small_net(dnn_config *cfg, dnn_precision p)
{
    const char *json =
        "{\"data\": {\"train\": {\"format\": \"idx\", \"images\": \"x\"}}, \"model\": {\"layers\": "
        "[{\"type\": \"dense\", \"units\": 9, \"activation\": \"relu\"}, {\"type\": \"dense\", "
        "\"units\": 4, \"activation\": \"softmax\"}]}, \"loss\": \"cross_entropy\", \"optimizer\": \"sgd\"}";
    dnn_error err;
    dnn_net *net = NULL;
    if (dnn_config_from_json(cfg, cJSON_Parse(json), "t.json", NULL, NULL, 0, &err) ||
        dnn_net_create(&net, cfg, (dnn_shape){13, 1, 1}, 8, &err) || dnn_net_set_precision(net, p, &err)) {
        fprintf(stderr, "small_net: %s\n", err.msg);
        check_failures++;
        return net;
    }
    dnn_rng r;
    dnn_rng_seed(&r, 5, 1);
    dnn_net_init(net, DNN_INIT_XAVIER, &r);
    for (size_t i = 0; i < net->n_params; i++) net->params[i] += 0.1f * (float)dnn_rng_normal(&r);
    return net;
}

/* A training pass of b rows: forward, the loss's gradient, backward; returns the output. */
static const float *pass(dnn_net *net, const dnn_config *cfg, const float *x, const int32_t *y, int b)
{
    const dnn_layer *out = &net->layers[net->n_layers - 1];
    const float *a = dnn_net_forward(net, x, b, 1, NULL);
    dnn_loss(cfg->loss, out->act, out->slope, dnn_net_logits(net), a, b, 4, y, NULL,
             dnn_net_output_grad(net));
    dnn_net_backward(net, x, b);
    return a;
}

/* The network's bf16 passes: close to fp32's; a short batch gives the same bytes whatever the rows past it
 * held before (the padding is cleared); weights written between passes are rounded again. */
static void test_net_bf16(void)
{
    dnn_config c32, c16, c16b;
    dnn_net *f = small_net(&c32, DNN_PRECISION_FP32), *h = small_net(&c16, DNN_PRECISION_BF16);
    dnn_net *h2 = small_net(&c16b, DNN_PRECISION_BF16);
    if (!f || !h || !h2 || h->precision != DNN_PRECISION_BF16) goto done;
    float x[8 * 13], x2[8 * 13], g[256];
    int32_t y[8] = {0, 1, 2, 3, 3, 2, 1, 0};
    dnn_rng r;
    dnn_rng_seed(&r, 9, 0);
    for (int i = 0; i < 8 * 13; i++)
        x[i] = (float)dnn_rng_normal(&r), x2[i] = 100.0f * (float)dnn_rng_normal(&r);
    const float *a32 = pass(f, &c32, x, y, 8), *a16 = pass(h, &c16, x, y, 8);
    double gmax = 0;
    for (size_t i = 0; i < f->n_params; i++) gmax = fmax(gmax, fabs(f->grads[i]));
    for (int i = 0; i < 8 * 4; i++) CHECK_NEAR(a16[i], a32[i], 0.02);
    for (size_t i = 0; i < f->n_params; i++) CHECK_NEAR(h->grads[i], f->grads[i], 0.03 * gmax);
    CHECK(memcmp(h->grads, f->grads, f->n_params * sizeof(float)) != 0); /* bf16 did round */
    /* 5 rows after a full batch of other data, against 5 rows on a fresh network */
    pass(h, &c16, x2, y, 8);
    pass(h, &c16, x, y, 5);
    memcpy(g, h->grads, h->n_params * sizeof(float));
    pass(h2, &c16b, x, y, 5);
    CHECK(h->n_params <= 256 && memcmp(g, h2->grads, h->n_params * sizeof(float)) == 0);
    /* evaluation reuses rounded weights until told they changed */
    float before[32], after[32];
    memcpy(before, dnn_net_forward(h2, x, 8, 0, NULL), sizeof before);
    for (size_t i = 0; i < h2->layers[0].nw; i++) h2->params[i] *= -1.0f;
    dnn_net_params_changed(h2);
    memcpy(after, dnn_net_forward(h2, x, 8, 0, NULL), sizeof after);
    CHECK(memcmp(before, after, sizeof before) != 0);
    /* products prepared for 4 rows (a thread's share): 3 rows through them as through those of 8, and 8 rows
     * still through those of 8 */
    float out8[32];
    memcpy(out8, pass(h2, &c16b, x, y, 8), sizeof out8);
    pass(h2, &c16b, x, y, 3);
    memcpy(g, h2->grads, h2->n_params * sizeof(float));
    memcpy(before, h2->layers[1].a, 3 * 4 * sizeof(float));
    dnn_error err;
    CHECK(dnn_net_prepare_rows(h2, 4, &err) == DNN_OK && h2->sub_rows == 4);
    pass(h2, &c16b, x, y, 3);
    for (size_t i = 0; i < h2->n_params; i++) CHECK_NEAR(h2->grads[i], g[i], 1e-6 * gmax);
    for (int i = 0; i < 3 * 4; i++) CHECK_NEAR(h2->layers[1].a[i], before[i], 1e-6);
    CHECK(memcmp(pass(h2, &c16b, x, y, 8), out8, sizeof out8) == 0);
done:
    dnn_net_free(f), dnn_net_free(h), dnn_net_free(h2);
    dnn_config_free(&c32), dnn_config_free(&c16), dnn_config_free(&c16b);
}

/* The refusal: simulated by the environment variable on any machine, with a message that says what is
 * missing and what to use instead. */
static int test_check(void)
{
    dnn_error err;
    setenv(DNN_NO_BF16_ENV, "1", 1);
    dnn_status st = dnn_bf16_check(&err);
    CHECK_ERR(st, err, DNN_ECONFIG, "AVX512_BF16", DNN_NO_BF16_ENV " is set", "fp32");
    dnn_bf16_product *p = (dnn_bf16_product *)&err;
    st = dnn_bf16_product_create(&p, 0, 0, 2, 2, 2, 2, 2, 2, &err);
    CHECK(st == DNN_ECONFIG && p == NULL);
    setenv(DNN_NO_BF16_ENV, "0", 1); /* "0" means not set */
    st = dnn_bf16_check(&err);
    unsetenv(DNN_NO_BF16_ENV);
    CHECK(st == dnn_bf16_check(&err));
    if (st) check_skip(err.msg);
    return st == DNN_OK;
}

/* C (m, n) = op(A) . op(B) in bf16 against double sums of the same fp32 operands: each term is off by at
 * most the rounding of both operands, (1 + 2^-8)^2 - 1, and fp32 accumulation adds k * 2^-24 of the sum of
 * the terms' magnitudes; against double sums of the rounded operands only the accumulation remains (which
 * shows the operands were rounded, not multiplied in fp32). lda and ldb are wider than needed. */
static void test_product(int ta, int tb, int m, int n, int k, dnn_rng *rng)
{
    const int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    const int lda = ac + 3, ldb = bc + 5, ldc = n + 1;
    float *A = malloc((size_t)ar * lda * sizeof(float)), *B = malloc((size_t)br * ldb * sizeof(float));
    float *C = malloc((size_t)m * ldc * sizeof(float));
    uint16_t *Ah = malloc((size_t)ar * lda * 2), *Bh = malloc((size_t)br * ldb * 2);
    for (int i = 0; i < ar * lda; i++) A[i] = (float)(dnn_rng_normal(rng));
    for (int i = 0; i < br * ldb; i++) B[i] = (float)(dnn_rng_normal(rng) * 0.1);
    dnn_bf16_from_float(A, Ah, (size_t)ar * lda);
    dnn_bf16_from_float(B, Bh, (size_t)br * ldb);
    for (int i = 0; i < m * ldc; i++) C[i] = NAN; /* every element of C must be written */
    dnn_bf16_product *p = NULL;
    dnn_error err;
    dnn_status st = dnn_bf16_product_create(&p, ta, tb, m, n, k, lda, ldb, ldc, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) goto done;
    dnn_bf16_product_run(p, Ah, Bh, C);
    double worst = 0, worst_rounded = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double exact = 0, rounded = 0, mag = 0;
            for (int q = 0; q < k; q++) {
                size_t ai = ta ? (size_t)q * lda + i : (size_t)i * lda + q;
                size_t bi = tb ? (size_t)j * ldb + q : (size_t)q * ldb + j;
                exact += (double)A[ai] * B[bi];
                rounded += (double)dnn_bf16_to_float(Ah[ai]) * dnn_bf16_to_float(Bh[bi]);
                mag += fabs((double)A[ai] * B[bi]);
            }
            double c = C[(size_t)i * ldc + j], acc = k * 0x1p-24 * mag * 1.1;
            double e = fabs(c - exact) / ((2 * 0x1p-8 + 0x1p-16) * mag + acc);
            double er = fabs(c - rounded) / (acc + 1e-30);
            worst = e > worst ? e : worst;
            worst_rounded = er > worst_rounded ? er : worst_rounded;
        }
    CHECK_MSG(worst <= 1.0, "ta %d tb %d (%d, %d, %d): error %.3g of the bf16 bound", ta, tb, m, n, k, worst);
    /* run to run, the same bytes */
    float *again = malloc((size_t)m * ldc * sizeof(float));
    memcpy(again, C, (size_t)m * ldc * sizeof(float));
    dnn_bf16_product_run(p, Ah, Bh, again);
    CHECK(memcmp(again, C, (size_t)m * ldc * sizeof(float)) == 0);
    free(again);
    CHECK_MSG(worst_rounded <= 1.0, "ta %d tb %d (%d, %d, %d): error %.3g of fp32 accumulation's bound", ta,
              tb, m, n, k, worst_rounded);
done:
    dnn_bf16_product_free(p);
    free(A), free(B), free(C), free(Ah), free(Bh);
}

int main(void)
{
    test_rounding();
    if (!test_check()) return check_done("test_gemm");
    dnn_rng rng;
    dnn_rng_seed(&rng, 11, 0);
    /* odd sizes (none a multiple of a vector), a single row and column, and the reference's shapes */
    const int shapes[][3] = {{1, 1, 1},   {7, 13, 29},    {33, 1, 65},
                             {1, 31, 17}, {100, 10, 256}, {37, 257, 100}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++)
            test_product(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], &rng);
    test_net_bf16();
    return check_done("test_gemm");
}
