/* Statistics in one pass over data that is never all in memory: Welford's running mean and variance, and a
 * Greenwald-Khanna quantile summary for medians. */
#ifndef DNN_STATS_H
#define DNN_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/error.h"

/* Count, mean, sum of squared deviations (Welford's update, stable in one pass), minimum and maximum. */
typedef struct {
    double n, mean, m2, min, max;
} dnn_welford;

void dnn_welford_add(dnn_welford *w, double x);
/* The statistics of w's values together with k more values, all equal to v (what imputation adds), by
 * Chan's formula for combining two groups. */
dnn_welford dnn_welford_with(dnn_welford w, double k, double v);
/* The population variance (divided by n, as numpy's default). */
double dnn_welford_var(const dnn_welford *w);

/* Greenwald-Khanna: any quantile of n values to within a rank error of eps * n, in O(log(eps n) / eps)
 * memory. Values are buffered and merged into the summary in sorted batches. */
typedef struct {
    double eps;
    double *head; /* values not yet merged */
    size_t n_head;
    struct dnn_gk_tuple {
        double v;
        int64_t g, delta;
    } * s; /* the summary, sorted by v */
    size_t n_s, cap_s;
    int64_t count;
} dnn_gk;

dnn_status dnn_gk_init(dnn_gk *g, double eps, dnn_error *err);
dnn_status dnn_gk_add(dnn_gk *g, double v, dnn_error *err);
/* *v: the value at quantile q in [0, 1] (NAN when empty); merges the buffer first, which may fail (memory). */
dnn_status dnn_gk_query(dnn_gk *g, double q, double *v, dnn_error *err);
/* Memory the summary holds now, in bytes. */
size_t dnn_gk_bytes(const dnn_gk *g);
void dnn_gk_free(dnn_gk *g);

/* The rank error of the medians dnn computes for streamed data: 0.1% of the rows, as Spark's Imputer. */
#define DNN_MEDIAN_EPS 0.001

#endif
