/* Scoring a model on a data set: metrics and, optionally, one prediction row per sample. */
#ifndef DNN_EVAL_H
#define DNN_EVAL_H

#include <stdio.h>

#include "dnn/data.h"
#include "dnn/error.h"
#include "dnn/metrics.h"
#include "dnn/model.h"

typedef struct {
    int top_k;                /* also report top-k accuracy (0: no) */
    FILE *predict;            /* write "index,predicted,p_..." rows here (NULL: no) */
    const char *predict_name; /* its name, for messages */
} dnn_eval_opts;

dnn_status dnn_eval(dnn_model *m, const dnn_dataset *ds, const dnn_eval_opts *o, dnn_metrics *mt,
                    dnn_error *err);

#endif
