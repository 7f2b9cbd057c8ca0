/* ckpt_diff A B: how far apart two checkpoints' weights are (the last epoch's parameters and network state),
 * for the shell tests that compare runs which may differ only in the order of their sums. Prints
 * "max_abs X max_rel Y values N" (max_rel: the largest |a - b| / max(|a|, |b|, 1e-3)). Exit 1 when a file
 * does not load or the networks differ in size. */
#include <math.h>
#include <stdio.h>

#include "dnn/checkpoint.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ckpt_diff A B\n");
        return 2;
    }
    dnn_model m[2];
    dnn_train_state s[2];
    dnn_error err;
    for (int i = 0; i < 2; i++)
        if (dnn_checkpoint_load(argv[1 + i], 0, &m[i], &s[i], &err)) {
            fprintf(stderr, "ckpt_diff: %s\n", err.msg);
            return 1;
        }
    const dnn_net *a = m[0].net, *b = m[1].net;
    if (a->n_params != b->n_params || a->n_state != b->n_state) {
        fprintf(stderr, "ckpt_diff: the networks differ in size\n");
        return 1;
    }
    double max_abs = 0, max_rel = 0;
    for (int part = 0; part < 2; part++) {
        const float *x = part ? a->state : a->params, *y = part ? b->state : b->params;
        size_t n = part ? a->n_state : a->n_params;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)x[i] - y[i]), scale = fmax(fmax(fabs(x[i]), fabs(y[i])), 1e-3);
            max_abs = fmax(max_abs, d);
            max_rel = fmax(max_rel, d / scale);
        }
    }
    printf("max_abs %.3g max_rel %.3g values %zu\n", max_abs, max_rel, a->n_params + a->n_state);
    for (int i = 0; i < 2; i++) {
        dnn_train_state_free(&s[i]);
        dnn_model_free(&m[i]);
    }
    return 0;
}
