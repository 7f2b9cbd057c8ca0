/* bf16 matrix products on oneDNN (its matmul primitive: bf16 source and weights, fp32 destination), the CPU
 * check that guards them, and the rounding of fp32 operands to bf16. Measured on the reference shapes
 * (batch 100, 784-256-256-10) against a vdpbf16ps kernel of our own, oneDNN's was the faster by 15-20%
 * before counting the packing ours needs, so it is the backend. */
#include "dnn/gemm.h"

#include <stdlib.h>
#include <string.h>

#include "dnn/util.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

#ifdef DNN_HAVE_ONEDNN
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#endif

/* Whether the CPU executes AVX512_BF16 (CPUID leaf 7 subleaf 1, EAX bit 5), with AVX-512 state enabled by
 * the OS (which __builtin_cpu_supports("avx512f") checks). */
static int cpu_has_bf16(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a, b, c, d;
    if (!__builtin_cpu_supports("avx512f") || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1;
#else
    return 0;
#endif
}

dnn_status dnn_bf16_check(dnn_error *err)
{
    const char *off = getenv(DNN_NO_BF16_ENV);
    int simulated = off && *off && strcmp(off, "0") != 0;
    if (simulated || !cpu_has_bf16())
        return dnn_fail(
            err, DNN_ECONFIG,
            "precision \"bf16\" needs a CPU with AVX512_BF16 (Intel Cooper Lake or Sapphire Rapids and "
            "later, AMD Zen 4 and later), and this one has none%s: use precision \"fp32\"",
            simulated ? " (" DNN_NO_BF16_ENV " is set)" : "");
#ifndef DNN_HAVE_ONEDNN
    return dnn_fail(err, DNN_ECONFIG,
                    "precision \"bf16\" needs dnn built with oneDNN (install libdnnl-dev and rebuild; "
                    "cmake -DDNN_ONEDNN=ON): use precision \"fp32\"");
#else
    return DNN_OK;
#endif
}

/* Round to nearest even by adding 0x7fff plus the lowest kept bit, and truncating; a NaN is kept quiet
 * rather than rounded into infinity. A plain loop: the compiler vectorises it, and it rounds exactly as
 * vcvtneps2bf16 does for normal numbers. */
DNN_HOT void dnn_bf16_from_float(const float *restrict x, uint16_t *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        y[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : r);
    }
}

#ifdef DNN_HAVE_ONEDNN

/* One engine for the process (thread-safe to share); each product has its own stream, memory objects and
 * scratchpad, so products of different networks may run on different threads at once. */
static dnnl_engine_t engine;

struct dnn_bf16_product {
    dnnl_primitive_t prim;
    dnnl_stream_t stream;
    dnnl_memory_t a, b, c, scratch;
    void *scratch_buf;
};

/* A row-major (rows, cols) operand with leading dimension ld, read transposed when t: oneDNN takes the
 * transpose as strides, so no operand is ever copied. */
static dnnl_status_t operand(dnnl_memory_desc_t *md, int rows, int cols, int t, int ld, dnnl_data_type_t type)
{
    dnnl_dims_t dims = {rows, cols}, strides = {ld, 1};
    if (t) strides[0] = 1, strides[1] = ld;
    return dnnl_memory_desc_init_by_strides(md, 2, dims, type, strides);
}

static dnnl_status_t build(dnn_bf16_product *p, int ta, int tb, int m, int n, int k, int lda, int ldb,
                           int ldc)
{
    dnnl_memory_desc_t am, bm, cm;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_success;
    if (!engine) s = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (!s) s = operand(&am, m, k, ta, lda, dnnl_bf16);
    if (!s) s = operand(&bm, k, n, tb, ldb, dnnl_bf16);
    if (!s) s = operand(&cm, m, n, 0, ldc, dnnl_f32);
    if (!s) s = dnnl_matmul_desc_init(&desc, &am, &bm, NULL, &cm);
    /* the scratchpad is ours, allocated here, so that running a product never allocates */
    if (!s) s = dnnl_primitive_attr_create(&attr);
    if (!s) s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (!s) s = dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL);
    if (!s) s = dnnl_primitive_create(&p->prim, pd);
    const dnnl_memory_desc_t *sm = s ? NULL : dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (sm) {
        p->scratch_buf = dnn_alloc_hot(dnnl_memory_desc_get_size(sm) + 64, 1);
        s = p->scratch_buf ? dnnl_memory_create(&p->scratch, sm, engine, p->scratch_buf) : dnnl_out_of_memory;
    }
    if (!s) s = dnnl_memory_create(&p->a, &am, engine, DNNL_MEMORY_NONE);
    if (!s) s = dnnl_memory_create(&p->b, &bm, engine, DNNL_MEMORY_NONE);
    if (!s) s = dnnl_memory_create(&p->c, &cm, engine, DNNL_MEMORY_NONE);
    if (!s) s = dnnl_stream_create(&p->stream, engine, dnnl_stream_default_flags);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return s;
}

dnn_status dnn_bf16_product_create(dnn_bf16_product **out, int ta, int tb, int m, int n, int k, int lda,
                                   int ldb, int ldc, dnn_error *err)
{
    *out = NULL;
    dnn_status st = dnn_bf16_check(err);
    if (st) return st;
    dnn_bf16_product *p = calloc(1, sizeof *p);
    if (!p) return dnn_fail_oom(err, "a bf16 product", sizeof *p);
    dnnl_status_t s = build(p, ta, tb, m, n, k, lda, ldb, ldc);
    if (s) {
        dnn_bf16_product_free(p);
        return s == dnnl_out_of_memory
                   ? dnn_fail_oom(err, "a bf16 product's scratchpad", (size_t)m * (size_t)n * 4)
                   : dnn_fail(err, DNN_EINTERNAL,
                              "oneDNN refused a bf16 product of (%d, %d) x (%d, %d): status %d", m, k, k, n,
                              (int)s);
    }
    *out = p;
    return DNN_OK;
}

void dnn_bf16_product_run(dnn_bf16_product *p, const uint16_t *A, const uint16_t *B, float *C)
{
    /* oneDNN takes the operands as non-const handles; it only reads A and B */
    dnnl_memory_set_data_handle(p->a, (void *)(uintptr_t)A);
    dnnl_memory_set_data_handle(p->b, (void *)(uintptr_t)B);
    dnnl_memory_set_data_handle(p->c, C);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, p->a},
                               {DNNL_ARG_WEIGHTS, p->b},
                               {DNNL_ARG_DST, p->c},
                               {DNNL_ARG_SCRATCHPAD, p->scratch}};
    dnnl_primitive_execute(p->prim, p->stream, p->scratch ? 4 : 3, args);
}

void dnn_bf16_product_free(dnn_bf16_product *p)
{
    if (!p) return;
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->stream) dnnl_stream_destroy(p->stream);
    if (p->a) dnnl_memory_destroy(p->a);
    if (p->b) dnnl_memory_destroy(p->b);
    if (p->c) dnnl_memory_destroy(p->c);
    if (p->scratch) dnnl_memory_destroy(p->scratch);
    free(p->scratch_buf);
    free(p);
}

int dnn_bf16_set_threads(int n)
{
    omp_set_num_threads(n);
    return 0;
}

#else /* built without oneDNN: dnn_bf16_check refuses bf16, so no product is ever created */

dnn_status dnn_bf16_product_create(dnn_bf16_product **out, int ta, int tb, int m, int n, int k, int lda,
                                   int ldb, int ldc, dnn_error *err)
{
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)lda, (void)ldb, (void)ldc;
    *out = NULL;
    dnn_status st = dnn_bf16_check(err);
    return st ? st : dnn_fail(err, DNN_EINTERNAL, "bf16 products without oneDNN");
}

void dnn_bf16_product_run(dnn_bf16_product *p, const uint16_t *A, const uint16_t *B, float *C)
{
    (void)p, (void)A, (void)B, (void)C;
}

void dnn_bf16_product_free(dnn_bf16_product *p)
{
    (void)p;
}

int dnn_bf16_set_threads(int n)
{
    (void)n;
    return -1;
}

#endif
