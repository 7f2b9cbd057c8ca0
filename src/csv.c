/* CSV data sources: not yet supported (IDX only for now). */
#include "dnn/csv.h"

dnn_status dnn_csv_load(dnn_dataset *ds, const dnn_source_config *src, dnn_task task, dnn_error *err)
{
    (void)ds;
    (void)task;
    return dnn_fail(err, DNN_ECONFIG, "%s: CSV data sources are not supported yet; use \"format\": \"idx\"", src->path);
}
