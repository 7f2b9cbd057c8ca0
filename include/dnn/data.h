/* Data sources: the top of the data layer. It picks the reader for a configured source (IDX or CSV) and
 * loads it into memory; the readers below it know nothing of each other. */
#ifndef DNN_DATA_H
#define DNN_DATA_H

#include "dnn/config.h"
#include "dnn/dataset.h"
#include "dnn/error.h"

/* The shape of one sample of a source, known before its data is read: an IDX file's dimensions (from its
 * header alone), or 0x0x0 for CSV, whose rows do not say. */
dnn_status dnn_source_shape(const dnn_source_config *src, dnn_shape *shape, dnn_error *err);

/* Load a data source of the config (IDX or CSV) into memory. */
dnn_status dnn_load_source(dnn_dataset *ds, const dnn_source_config *src, dnn_task task,
                           const dnn_schema *schema, dnn_error *err);

/* Whether to stream src: "stream": true, or "auto" (the default) when its decoded data would take more than
 * half of the memory budget (the rest is for the model, batches and buffers). *bytes is that estimate (0
 * when none was needed). Standard input is never streamed: it can be read only once. */
dnn_status dnn_source_should_stream(const dnn_source_config *src, dnn_task task, size_t max_memory,
                                    int *stream, double *bytes, dnn_error *err);

#endif
