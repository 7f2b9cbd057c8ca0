/* The top of the data layer: a configured source goes to its reader. */
#include "dnn/data.h"

#include <string.h>

#include "dnn/csv.h"
#include "dnn/idx.h"

dnn_status dnn_load_source(dnn_dataset *ds, const dnn_source_config *src, dnn_task task,
                           const dnn_schema *schema, dnn_error *err)
{
    memset(ds, 0, sizeof *ds);
    dnn_status st = src->format == DNN_FORMAT_IDX ? dnn_idx_load(ds, src, task, schema, err)
                                                  : dnn_csv_load(ds, src, task, schema, err);
    if (st) dnn_dataset_free(ds);
    return st;
}
