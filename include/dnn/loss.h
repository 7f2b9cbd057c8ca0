/* Losses of a batch and their gradients with respect to the last layer's pre-activation, fused with the
 * output activation where that is simpler and more stable (softmax + cross-entropy, sigmoid + BCE). */
#ifndef DNN_LOSS_H
#define DNN_LOSS_H

#include <stdint.h>

#include "dnn/config.h"

/* z, a: the last layer's pre-activation and output [b, k]. Targets: y (class per row) for the
 * cross-entropies, t [b, k] for mse. Returns the summed loss of the b rows (mean over the k outputs for mse).
 * When dz is not NULL it receives dL/dz of the mean loss over the batch, [b, k]. */
double dnn_loss(dnn_loss_kind kind, dnn_act out_act, float slope, const float *z, const float *a, int b,
                int k, const int32_t *y, const float *t, float *dz);

/* The same for b rows that are part of a batch of n rows split across processes: dz is the gradient of the
 * whole batch's mean loss with respect to these rows' z, so the processes' gradients add up to the batch's.
 */
double dnn_loss_part(dnn_loss_kind kind, dnn_act out_act, float slope, const float *z, const float *a, int b,
                     int n, int k, const int32_t *y, const float *t, float *dz);

/* Number of rows whose predicted class (argmax, or a > 0.5 for one sigmoid unit) equals y. */
int dnn_count_correct(const float *a, int b, int k, const int32_t *y);

/* Predicted class of one output row. */
int dnn_predict_class(const float *a, int k);

#endif
