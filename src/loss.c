/* Losses and their gradients, computed from the logits so that no log ever sees a zero. */
#include "dnn/loss.h"

#include <math.h>

#include "dnn/net.h"

/* log(sum(exp(z))) of one row (k >= 1), shifted by its maximum to stay finite: the sum is at least 1. */
static double logsumexp(const float *z, int k)
{
    float m = z[0];
    for (int j = 1; j < k; j++) m = z[j] > m ? z[j] : m;
    double s = 0.0;
    for (int j = 0; j < k; j++) s += exp((double)z[j] - m);
    return m + log(s);
}

double dnn_loss(dnn_loss_kind kind, dnn_act out_act, float slope, const float *z, const float *a, int b,
                int k, const int32_t *y, const float *t, float *dz)
{
    return dnn_loss_part(kind, out_act, slope, z, a, b, b, k, y, t, dz);
}

double dnn_loss_part(dnn_loss_kind kind, dnn_act out_act, float slope, const float *z, const float *a, int b,
                     int n, int k, const int32_t *y, const float *t, float *dz)
{
    double sum = 0.0;
    const float inv_b = 1.0f / (float)n; /* the mean is over the whole batch, of n rows */
    switch (kind) {
    case DNN_LOSS_CROSS_ENTROPY:
        /* -log softmax(z)_y = logsumexp(z) - z_y; dL/dz = (softmax(z) - onehot(y)) / n */
        for (int i = 0; i < b; i++) {
            const float *zr = z + (size_t)i * k;
            sum += logsumexp(zr, k) - zr[y[i]];
            if (dz) {
                const float *ar = a + (size_t)i * k;
                float *d = dz + (size_t)i * k;
                for (int j = 0; j < k; j++) d[j] = ar[j] * inv_b;
                d[y[i]] -= inv_b;
            }
        }
        break;
    case DNN_LOSS_BINARY_CROSS_ENTROPY:
        /* -(y log s(z) + (1-y) log(1-s(z))) = max(z,0) - z y + log(1 + exp(-|z|)); dL/dz = (s(z) - y) / n */
        for (int i = 0; i < b; i++) {
            double zi = z[i], yi = y[i] ? 1.0 : 0.0;
            sum += (zi > 0 ? zi : 0) - zi * yi + log1p(exp(-fabs(zi)));
            if (dz) dz[i] = (a[i] - (float)yi) * inv_b;
        }
        break;
    case DNN_LOSS_MSE: {
        /* mean over the k outputs of (a - t)^2; dL/da = 2 (a - t) / (n k), then through the activation */
        const float scale = 2.0f / ((float)n * (float)k);
        for (int i = 0; i < b; i++) {
            double s = 0.0;
            for (int j = 0; j < k; j++) {
                size_t q = (size_t)i * k + j;
                float e = a[q] - t[q];
                s += (double)e * e;
                if (dz) dz[q] = scale * e;
            }
            sum += s / k;
        }
        if (dz) dnn_act_backward(out_act, slope, z, a, dz, b, k);
        break;
    }
    }
    return sum;
}

int dnn_predict_class(const float *a, int k)
{
    if (k == 1) return a[0] > 0.5f;
    int best = 0;
    for (int j = 1; j < k; j++)
        if (a[j] > a[best]) best = j;
    return best;
}

int dnn_count_correct(const float *a, int b, int k, const int32_t *y)
{
    int c = 0;
    for (int i = 0; i < b; i++) c += dnn_predict_class(a + (size_t)i * k, k) == y[i];
    return c;
}
