/* Evaluation metrics: confusion matrix, per-class precision/recall/F1, averages; regression errors. */
#ifndef DNN_METRICS_H
#define DNN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/error.h"

typedef struct {
    double precision, recall, f1;
    uint64_t support;
} dnn_prf;

typedef struct {
    dnn_task task;
    size_t n;     /* samples scored */
    int labelled; /* 0 in predict-only mode: no targets, so no metrics */
    double loss;  /* mean data loss (NaN when not labelled) */
    double seconds, samples_per_second;

    /* classification */
    int k;               /* classes */
    uint64_t *confusion; /* [k, k]: rows are the true class, columns the predicted one */
    double accuracy;
    dnn_prf *per_class; /* [k] */
    int *counted;       /* [k]: whether a class enters the averages (present in truth or predictions) */
    dnn_prf macro, weighted;
    int top_k; /* 0: not asked */
    double top_k_accuracy;

    /* regression: per target and their uniform average */
    int n_targets;
    double *mse, *rmse, *mae, *r2; /* [n_targets] */
    double mse_all, rmse_all, mae_all, r2_all;
    float *pred; /* regression: the predictions [n, n_targets] in the targets' units (for plots) */
} dnn_metrics;

dnn_status dnn_metrics_init(dnn_metrics *mt, dnn_task task, int k, int n_targets, dnn_error *err);
void dnn_metrics_free(dnn_metrics *mt);

/* Derive accuracy, per-class and averaged precision/recall/F1 from the confusion matrix. A class that is
 * never predicted has precision 0, one never present has recall 0 (scikit-learn's zero_division=0); classes
 * in neither the truth nor the predictions stay out of the averages. */
void dnn_metrics_finish_classification(dnn_metrics *mt);

/* Regression errors from predictions p and targets t, both [n, n_targets] in the targets' units.
 * R^2 of a constant target is 1 for a perfect fit, else 0 (scikit-learn's force_finite). */
void dnn_metrics_regression(dnn_metrics *mt, const float *p, const float *t, size_t n);

#endif
