/* Metrics from a confusion matrix or from regression predictions. */
#include "dnn/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dnn_status dnn_metrics_init(dnn_metrics *mt, dnn_task task, int k, int n_targets, dnn_error *err)
{
    memset(mt, 0, sizeof *mt);
    mt->task = task;
    mt->loss = mt->accuracy = mt->top_k_accuracy = NAN;
    mt->mse_all = mt->rmse_all = mt->mae_all = mt->r2_all = NAN;
    if (task == DNN_TASK_CLASSIFICATION) {
        mt->k = k;
        mt->confusion = calloc((size_t)k * (size_t)k, sizeof(uint64_t));
        mt->per_class = calloc((size_t)k, sizeof(dnn_prf));
        mt->counted = calloc((size_t)k, sizeof(int));
        if (!mt->confusion || !mt->per_class || !mt->counted) {
            dnn_metrics_free(mt);
            return dnn_fail_oom(err, "the confusion matrix", (size_t)k * (size_t)k * sizeof(uint64_t));
        }
    } else {
        mt->n_targets = n_targets;
        size_t n = (size_t)(n_targets > 0 ? n_targets : 1);
        mt->mse = calloc(n, sizeof(double));
        mt->rmse = calloc(n, sizeof(double));
        mt->mae = calloc(n, sizeof(double));
        mt->r2 = calloc(n, sizeof(double));
        if (!mt->mse || !mt->rmse || !mt->mae || !mt->r2) {
            dnn_metrics_free(mt);
            return dnn_fail_oom(err, "regression metrics", 4 * n * sizeof(double));
        }
    }
    return DNN_OK;
}

void dnn_metrics_free(dnn_metrics *mt)
{
    if (!mt) return;
    free(mt->confusion);
    free(mt->per_class);
    free(mt->counted);
    free(mt->mse);
    free(mt->rmse);
    free(mt->mae);
    free(mt->r2);
    free(mt->pred);
    memset(mt, 0, sizeof *mt);
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

void dnn_metrics_finish_classification(dnn_metrics *mt)
{
    const int k = mt->k;
    uint64_t total = 0, right = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            total += mt->confusion[(size_t)i * k + j];
            if (i == j) right += mt->confusion[(size_t)i * k + j];
        }
    mt->accuracy = total ? (double)right / (double)total : NAN;
    dnn_prf macro = {0}, weighted = {0};
    int counted = 0;
    for (int c = 0; c < k; c++) {
        uint64_t tp = mt->confusion[(size_t)c * k + c], actual = 0, predicted = 0;
        for (int j = 0; j < k; j++) {
            actual += mt->confusion[(size_t)c * k + j];
            predicted += mt->confusion[(size_t)j * k + c];
        }
        dnn_prf *p = &mt->per_class[c];
        p->precision = ratio(tp, predicted);
        p->recall = ratio(tp, actual);
        p->f1 =
            p->precision + p->recall > 0 ? 2 * p->precision * p->recall / (p->precision + p->recall) : 0.0;
        p->support = actual;
        mt->counted[c] = actual > 0 || predicted > 0;
        if (!mt->counted[c]) continue;
        counted++;
        macro.precision += p->precision;
        macro.recall += p->recall;
        macro.f1 += p->f1;
        weighted.precision += p->precision * (double)actual;
        weighted.recall += p->recall * (double)actual;
        weighted.f1 += p->f1 * (double)actual;
    }
    if (counted) {
        macro.precision /= counted;
        macro.recall /= counted;
        macro.f1 /= counted;
    }
    if (total) {
        weighted.precision /= (double)total;
        weighted.recall /= (double)total;
        weighted.f1 /= (double)total;
    }
    macro.support = weighted.support = total;
    mt->macro = macro;
    mt->weighted = weighted;
}

void dnn_metrics_regression(dnn_metrics *mt, const float *p, const float *t, size_t n)
{
    const int q = mt->n_targets;
    mt->mse_all = mt->rmse_all = mt->mae_all = mt->r2_all = 0.0;
    for (int j = 0; j < q; j++) {
        double se = 0, ae = 0, mean = 0, tot = 0;
        for (size_t i = 0; i < n; i++) mean += t[i * q + j];
        mean /= (double)(n ? n : 1);
        for (size_t i = 0; i < n; i++) {
            double e = (double)p[i * q + j] - t[i * q + j], dm = t[i * q + j] - mean;
            se += e * e;
            ae += fabs(e);
            tot += dm * dm;
        }
        mt->mse[j] = n ? se / (double)n : NAN;
        mt->rmse[j] = sqrt(mt->mse[j]);
        mt->mae[j] = n ? ae / (double)n : NAN;
        mt->r2[j] = tot > 0 ? 1.0 - se / tot : (se == 0 ? 1.0 : 0.0);
        mt->mse_all += mt->mse[j] / q;
        mt->mae_all += mt->mae[j] / q;
        mt->r2_all += mt->r2[j] / q;
        mt->rmse_all += mt->rmse[j] / q;
    }
}
