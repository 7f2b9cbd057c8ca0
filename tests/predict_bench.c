/* predict_bench MODEL.bin [RUNS]: the latency of dnn_predict (the public API, as a user's program calls it)
 * for one row and for 10,000 rows, and the throughput of 8 threads predicting single rows on one model at
 * once; medians over RUNS (default 7) timings each, for scripts/bench.sh. Rows are random values in [0, 255):
 * the time does not depend on them. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dnn.h"

enum { BIG = 10000, SINGLES = 2000, THREADS = 8 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

typedef struct {
    const dnn_predictor *p;
    const float *x;
    float *y;
    int d, failed;
} job;

/* SINGLES one-row calls, each on its own row */
static void *singles(void *arg)
{
    job *j = arg;
    for (int i = 0; i < SINGLES; i++)
        j->failed |= dnn_predict(j->p, j->x + (size_t)(i % BIG) * (size_t)j->d, 1, j->d, j->y) != DNN_OK;
    return NULL;
}

int main(int argc, char **argv)
{
    dnn_predictor *p;
    if (argc < 2 || dnn_predictor_load(argv[1], &p) != DNN_OK) {
        fprintf(stderr, "usage: predict_bench MODEL.bin [RUNS]\n%s\n", dnn_last_error());
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    if (runs < 1 || runs > 100) runs = 7;
    const int d = dnn_predictor_n_features(p), k = dnn_predictor_n_outputs(p);
    float *x = malloc((size_t)BIG * (size_t)d * sizeof(float));
    float *y = malloc((size_t)BIG * (size_t)k * THREADS * sizeof(float));
    if (!x || !y) return 1;
    srand(1);
    for (size_t i = 0; i < (size_t)BIG * (size_t)d; i++) x[i] = (float)(rand() % 25500) / 100.0f;
    double one[100], big[100], par[100];
    int failed = 0;
    for (int r = 0; r < runs; r++) {
        job j = {p, x, y, d, 0};
        double t = now();
        singles(&j);
        one[r] = (now() - t) / SINGLES;
        t = now();
        failed |= j.failed | (dnn_predict(p, x, BIG, d, y) != DNN_OK);
        big[r] = now() - t;
        pthread_t th[THREADS];
        job js[THREADS];
        t = now();
        for (int i = 0; i < THREADS; i++) {
            js[i] = (job){p, x + (size_t)i * 7 * (size_t)d, y + (size_t)i * (size_t)k, d, 0};
            pthread_create(&th[i], NULL, singles, &js[i]);
        }
        for (int i = 0; i < THREADS; i++) {
            pthread_join(th[i], NULL);
            failed |= js[i].failed;
        }
        par[r] = now() - t;
    }
    if (failed) {
        fprintf(stderr, "predict_bench: %s\n", dnn_last_error());
        return 1;
    }
    double t1 = median(one, runs), tb = median(big, runs), tp = median(par, runs);
    printf("%.2f us per 1-row call, %.2f ms per %d rows (%.0f rows/s), %d threads x 1-row calls: %.0f calls/s\n",
           t1 * 1e6, tb * 1e3, BIG, BIG / tb, THREADS, THREADS * SINGLES / tp);
    free(x);
    free(y);
    dnn_predictor_free(p);
    return 0;
}
