/* Training on threads: the shares of a count, a team of threads running every share of every job once, and
 * a training run split across threads against the same run on one, within a stated tolerance (only the order
 * in which the threads' gradients are added differs), bit-identical from run to run, in fp32 and bf16. */
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"
#include "dnn/blas.h"
#include "dnn/eval.h"
#include "dnn/gemm.h"
#include "dnn/replicas.h"
#include "dnn/train.h"
#include "dnn/workers.h"
#include "train_fixture.h"

static void test_share(void)
{
    for (size_t n = 0; n < 300; n += 7)
        for (int p = 1; p <= 5; p++)
            for (size_t align = 1; align <= 16; align += 15) {
                size_t end = 0, most = 0, least = SIZE_MAX;
                for (int i = 0; i < p; i++) {
                    size_t lo, hi;
                    dnn_share(n, i, p, align, &lo, &hi);
                    /* in order, without gaps, aligned starts */
                    CHECK_MSG(lo == end && hi >= lo && (lo % align == 0 || lo == n), "n %zu p %d i %d", n, p,
                              i);
                    end = hi;
                    most = hi - lo > most ? hi - lo : most;
                    least = hi - lo < least ? hi - lo : least;
                }
                CHECK(end == n);
                /* within one unit of align of each other, the last short of a whole unit */
                CHECK_MSG(most - least < 2 * align, "n %zu p %d: shares %zu to %zu", n, p, least, most);
            }
}

typedef struct {
    atomic_int runs[4];
    int bad;
} tally_ctx;

static void count_job(void *ctx, int i, int n)
{
    tally_ctx *t = ctx;
    if (n != 4 || i < 0 || i >= 4)
        t->bad = 1;
    else
        atomic_fetch_add(&t->runs[i], 1);
}

static void test_workers(void)
{
    dnn_workers *w;
    dnn_error err;
    CHECK(dnn_workers_create(&w, 4, &err) == DNN_OK);
    CHECK(dnn_workers_count(w) == 4 && dnn_workers_count(NULL) == 1);
    tally_ctx t = {0};
    for (int k = 0; k < 2000; k++) dnn_workers_run(w, count_job, &t);
    CHECK(!t.bad);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(atomic_load(&t.runs[i]) == 2000, "share %d ran %d times", i, t.runs[i]);
    dnn_workers_free(w);
    dnn_workers_free(NULL);
}

/* ---- training ---- */
/* optimizer: its JSON, NULL for Adam at 0.01 */
static int setup(fixture *f, const char *layers, const char *optimizer, int batch)
{
    return fixture_setup(f, layers, optimizer, batch, 2, 3);
}

static void teardown(fixture *f)
{
    fixture_teardown(f);
}

static dnn_status train(fixture *f, int threads, dnn_precision p)
{
    dnn_error err;
    dnn_batches b;
    dnn_memory_batches mem;
    dnn_blas_set_threads(threads);
    dnn_status st = dnn_net_set_precision(f->m.net, p, &err);
    if (!st)
        st = dnn_batches_memory(&b, &mem, &f->ds, f->rows, f->ds.n - 23, f->rows + f->ds.n - 23, 23,
                                (size_t)f->m.cfg.batch_size, 0, 1, &err);
    dnn_train_hooks h = {.threads = threads}; /* exactly these, even on fewer cores */
    if (!st) st = dnn_train(&f->m, &f->s, &b, &h, &err);
    dnn_batches_memory_free(&mem);
    CHECK_MSG(dnn_blas_threads() == threads, "BLAS threads %d after training, were %d", dnn_blas_threads(),
              threads);
    if (st) fprintf(stderr, "train: %s\n", err.msg);
    return st;
}

static float max_diff(const float *a, const float *b, size_t n)
{
    float d = 0.0f;
    for (size_t i = 0; i < n; i++) d = fabsf(a[i] - b[i]) > d ? fabsf(a[i] - b[i]) : d;
    return d;
}

/* A run on 3 threads against one on 1, both 2 epochs (10 steps), and against itself (bit for bit). The
 * weights are held to tol: with SGD a weight moves by the learning rate times its gradient, which the order
 * of a sum changes by rounding. Adam moves a weight whose gradient is about 0 by about the learning rate
 * whatever the gradient's size, so there a sign that rounding flips moves it by 2 lr: with Adam only the loss
 * is held. */
static void compare(const char *what, const char *layers, const char *optimizer, int batch, dnn_precision p,
                    float tol)
{
    fixture one, three, again;
    if (setup(&one, layers, optimizer, batch) || setup(&three, layers, optimizer, batch) ||
        setup(&again, layers, optimizer, batch)) {
        check_failures++;
        return;
    }
    CHECK(train(&one, 1, p) == DNN_OK);
    CHECK(train(&three, 3, p) == DNN_OK);
    CHECK(train(&again, 3, p) == DNN_OK);
    const size_t n = one.m.net->n_params;
    float dw = max_diff(one.m.net->params, three.m.net->params, n);
    double dl = fabs(one.s.history[1].loss - three.s.history[1].loss) / one.s.history[1].loss;
    fprintf(stderr,
            "%s: 3 threads against 1 after 10 steps: max |weight difference| %.3g, loss (relative) %.3g\n",
            what, (double)dw, dl);
    CHECK_MSG((optimizer == NULL || dw <= tol) && dl <= tol, "%s: %g %g", what, (double)dw, dl);
    CHECK_MSG(dw > 0.0f, "%s: 3 threads gave 1's weights exactly: the rows were not split", what);
    CHECK(memcmp(three.m.net->params, again.m.net->params, n * sizeof(float)) == 0);
    if (three.s.opt->m) CHECK(memcmp(three.s.opt->m, again.s.opt->m, n * sizeof(float)) == 0);
    if (three.s.opt->v) CHECK(memcmp(three.s.opt->v, again.s.opt->v, n * sizeof(float)) == 0);
    CHECK(three.s.history[1].val_accuracy > 0.6);
    teardown(&one);
    teardown(&three);
    teardown(&again);
}

/* Two hidden layers of 300: 93,000 weights, enough work for 3 threads at 13 rows each. */
#define WIDE                                                                                                 \
    "{\"type\": \"dense\", \"units\": 300, \"activation\": \"relu\", \"l2\": 0.001}, "                       \
    "{\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"dense\", \"units\": 300}"

/* batch 40 on 3 threads: 14, 13 and 13 rows; the last batch of 180 rows has 20 (7, 7, 6) */
static void test_threads_match(int fp32_only)
{
    const char *layers = WIDE;
    const char *sgd = "{\"type\": \"sgd\", \"learning_rate\": 0.05, \"momentum\": 0.9}";
    compare("fp32 sgd", layers, sgd, 40, DNN_PRECISION_FP32, 1e-6f);
    compare("fp32 adam", layers, NULL, 40, DNN_PRECISION_FP32, 1e-6f);
    compare("fp32 sgd clipped", layers,
            "{\"type\": \"sgd\", \"learning_rate\": 0.05, \"momentum\": 0.9, \"clip_norm\": 0.05}", 40,
            DNN_PRECISION_FP32, 1e-6f);
    dnn_error err;
    if (fp32_only) return;
    if (dnn_bf16_check(&err) == DNN_OK)
        compare("bf16 sgd", layers, sgd, 40, DNN_PRECISION_BF16, 1e-6f);
    else
        check_skip(err.msg);
}

/* Which networks split their rows: not one with batchnorm, nor a batch too small for the threads. */
static void test_who_splits(void)
{
    struct {
        const char *layers;
        int batch, threads, want;
    } cases[] = {
        {WIDE, 40, 3, 3},
        {"{\"type\": \"dense\", \"units\": 1000}, {\"type\": \"dense\", \"units\": 1000}", 40, 8,
         40 / DNN_REPLICA_MIN_ROWS},
        {WIDE, 12, 2, 1},                                  /* too few rows */
        {WIDE ", {\"type\": \"batchnorm\"}", 40, 3, 1},    /* batchnorm */
        {"{\"type\": \"dense\", \"units\": 4}", 40, 3, 1}, /* too little work */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fixture f;
        if (setup(&f, cases[i].layers, NULL, cases[i].batch)) {
            check_failures++;
            continue;
        }
        dnn_replicas *r;
        dnn_error err;
        dnn_blas_set_threads(cases[i].threads);
        CHECK(dnn_replicas_create(&r, &f.m, f.s.opt, NULL, cases[i].threads, &err) == DNN_OK);
        CHECK_MSG(dnn_replicas_threads(r) == cases[i].want, "case %zu: %d threads", i,
                  dnn_replicas_threads(r));
        CHECK(dnn_blas_threads() == (cases[i].want > 1 ? 1 : cases[i].threads));
        dnn_replicas_free(r);
        CHECK(dnn_blas_threads() == cases[i].threads);
        teardown(&f);
    }
}

/* Evaluation splits a batch's rows across threads too (3, or the CPUs there are if fewer): the same
 * predictions and loss as on one. */
static void test_eval_threads(void)
{
    fixture f;
    if (setup(&f, WIDE, NULL, 40)) {
        check_failures++;
        return;
    }
    CHECK(train(&f, 1, DNN_PRECISION_FP32) == DNN_OK);
    dnn_metrics one, three;
    dnn_error err;
    dnn_blas_set_threads(1);
    CHECK(dnn_eval(&f.m, &f.ds, NULL, &one, &err) == DNN_OK);
    dnn_blas_set_threads(3);
    CHECK(dnn_eval(&f.m, &f.ds, NULL, &three, &err) == DNN_OK);
    CHECK(dnn_blas_threads() == 3);
    CHECK_MSG(one.accuracy == three.accuracy && fabs(one.loss - three.loss) <= 1e-6 * fabs(one.loss),
              "1 thread: accuracy %g loss %.9g; 3: %g %.9g", one.accuracy, one.loss, three.accuracy,
              three.loss);
    CHECK(memcmp(one.confusion, three.confusion, (size_t)one.k * (size_t)one.k * sizeof *one.confusion) == 0);
    CHECK(one.accuracy > 0.6);
    dnn_metrics_free(&one);
    dnn_metrics_free(&three);
    teardown(&f);
}

/* --fp32: the fp32 checks alone, for the build under ThreadSanitizer, which has no oneDNN */
int main(int argc, char **argv)
{
    const int fp32_only = argc > 1 && strcmp(argv[1], "--fp32") == 0;
    test_share();
    test_workers();
    test_who_splits();
    test_threads_match(fp32_only);
    test_eval_threads();
    return check_done("test_replicas");
}
