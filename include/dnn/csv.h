/* CSV data sources. */
#ifndef DNN_CSV_H
#define DNN_CSV_H

#include "dnn/config.h"
#include "dnn/data.h"
#include "dnn/error.h"

dnn_status dnn_csv_load(dnn_dataset *ds, const dnn_source_config *src, dnn_task task, dnn_error *err);

#endif
