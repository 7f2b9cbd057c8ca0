/* Matrix products in bf16: operands rounded to bfloat16, products accumulated in fp32, on oneDNN's
 * AVX512-BF16 kernels (fp32 products stay on cblas_sgemm). Whether this CPU can run them is decided at run
 * time; a build without oneDNN has the conversions but no products. */
#ifndef DNN_GEMM_H
#define DNN_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/error.h"

/* Set to anything but "" or "0", this environment variable makes the CPU look as if it had no AVX512_BF16
 * (for tests of the refusal on machines that have it). */
#define DNN_NO_BF16_ENV "DNN_NO_BF16"

/* DNN_OK when bf16 products can run here; else DNN_ECONFIG with why: a build without oneDNN, a CPU without
 * AVX512_BF16, or DNN_NO_BF16 set. */
dnn_status dnn_bf16_check(dnn_error *err);

/* x [n] fp32 -> y [n] bf16, rounded to nearest, ties to even (NaN stays NaN). */
void dnn_bf16_from_float(const float *x, uint16_t *y, size_t n);
static inline float dnn_bf16_to_float(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

/* One product of fixed shape, prepared once: C (m, n) = op(A) . op(B) with A and B bf16 and C fp32,
 * row-major with leading dimensions lda, ldb, ldc; op transposes when ta (tb) is set, as cblas_sgemm. */
typedef struct dnn_bf16_product dnn_bf16_product;
dnn_status dnn_bf16_product_create(dnn_bf16_product **out, int ta, int tb, int m, int n, int k, int lda,
                                   int ldb, int ldc, dnn_error *err);
/* Run it; deterministic for a given thread count. Allocates nothing. */
void dnn_bf16_product_run(dnn_bf16_product *p, const uint16_t *A, const uint16_t *B, float *C);
void dnn_bf16_product_free(dnn_bf16_product *p);

/* Threads of the bf16 products (oneDNN's OpenMP pool); -1 when there are none to set. */
int dnn_bf16_set_threads(int n);

#endif
