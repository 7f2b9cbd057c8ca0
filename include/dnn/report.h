/* Reports for people (aligned text) and for programs (JSON with the keys of SPEC.md). */
#ifndef DNN_REPORT_H
#define DNN_REPORT_H

#include <stdio.h>

#include "dnn/error.h"
#include "dnn/metrics.h"
#include "dnn/model.h"
#include "dnn/train.h"

typedef struct cJSON cJSON;

/* The evaluation report. model and data name what was scored. */
cJSON *dnn_report_json(const dnn_metrics *mt, const dnn_model *m, const char *model, const char *data);
void dnn_report_print(FILE *f, const dnn_metrics *mt, const dnn_model *m, const char *model,
                      const char *data);

/* One line of train.jsonl: epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds, samples_per_second. */
cJSON *dnn_epoch_json(const dnn_epoch_log *e);

/* A number for JSON, printed exactly (the shortest decimal that reads back as x); NaN and Inf become null
 * (JSON has no such numbers). */
cJSON *dnn_json_number(double x);
/* The value of a JSON number made by cJSON or by dnn_json_number; NaN for anything else. */
double dnn_json_value(const cJSON *item);

/* A JSON tree pretty-printed with two-space indentation, ending in a newline (malloc'ed; NULL when out of
 * memory). */
char *dnn_json_print(const cJSON *json);

/* Write a JSON tree to path atomically, as dnn_json_print formats it. */
dnn_status dnn_json_write(const char *path, const cJSON *json, dnn_error *err);

#endif
