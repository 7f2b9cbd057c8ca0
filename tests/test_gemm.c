/* bf16 products: rounding to bf16, the CPU check and its simulation, and products of odd shapes and every
 * transpose against a double-precision reference within bf16's error bound. Exits 77 (skipped) after the
 * rounding and refusal checks when this machine or build cannot run bf16 products. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "dnn/gemm.h"
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
    if (st) fprintf(stderr, "bf16 products cannot run here: %s\n", err.msg);
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
    if (!test_check()) return check_failures ? 1 : 77;
    dnn_rng rng;
    dnn_rng_seed(&rng, 11, 0);
    /* odd sizes (none a multiple of a vector), a single row and column, and the reference's shapes */
    const int shapes[][3] = {{1, 1, 1},   {7, 13, 29},    {33, 1, 65},
                             {1, 31, 17}, {100, 10, 256}, {37, 257, 100}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++)
            test_product(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], &rng);
    return check_failures ? 1 : 0;
}
