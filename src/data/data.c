/* The top of the data layer: a configured source goes to its reader. */
#include "dnn/data.h"

#include <string.h>

#include "dnn/csv.h"
#include "dnn/idx.h"
#include "dnn/util.h"

dnn_status dnn_load_source(dnn_dataset *ds, const dnn_source_config *src, dnn_task task,
                           const dnn_schema *schema, dnn_error *err)
{
    memset(ds, 0, sizeof *ds);
    dnn_status st = src->format == DNN_FORMAT_IDX ? dnn_idx_load(ds, src, task, schema, err)
                                                  : dnn_csv_load(ds, src, task, schema, err);
    if (!st && src->format != DNN_FORMAT_IDX)
        ds->shape = (dnn_shape){ds->d <= INT32_MAX ? (int)ds->d : 0, 1, 1};
    if (st) dnn_dataset_free(ds);
    return st;
}

dnn_status dnn_source_shape(const dnn_source_config *src, dnn_shape *shape, dnn_error *err)
{
    *shape = (dnn_shape){0, 0, 0};
    if (src->format != DNN_FORMAT_IDX) return DNN_OK;
    dnn_idx im;
    dnn_status st = dnn_idx_read_header(src->images, &im, err);
    if (!st && (im.item == 0 || im.item > INT32_MAX))
        st = dnn_fail(err, DNN_EDATA, "%s: %zu values per item is not a network input", src->images, im.item);
    if (!st) *shape = dnn_idx_shape(&im);
    return st;
}

/* The decoded size of an IDX source: its items as stored (u8) or as floats, and their labels. */
static dnn_status idx_bytes(const dnn_source_config *src, double *bytes, dnn_error *err)
{
    dnn_idx h;
    dnn_status st = dnn_idx_read_header(src->images, &h, err);
    if (st) return st;
    *bytes = (double)h.count * (double)h.item * (h.type == DNN_IDX_U8 ? 1.0 : (double)sizeof(float)) +
             (double)h.count * sizeof(float);
    return DNN_OK;
}

dnn_status dnn_source_should_stream(const dnn_source_config *src, dnn_task task, size_t max_memory,
                                    int *stream, double *bytes, dnn_error *err)
{
    *bytes = 0;
    *stream = src->stream == 1;
    if (src->stream != -1) return DNN_OK;
    if (src->format == DNN_FORMAT_CSV && !src->paths && strcmp(src->path, "-") == 0) return DNN_OK;
    double rows = 0, per = 0;
    dnn_status st = src->format == DNN_FORMAT_IDX ? idx_bytes(src, bytes, err)
                                                  : dnn_csv_estimate(src, task, &rows, &per, err);
    if (st) return st;
    if (src->format == DNN_FORMAT_CSV) *bytes = rows * per;
    *stream = *bytes > (double)dnn_memory_budget(max_memory) / 2;
    return DNN_OK;
}
