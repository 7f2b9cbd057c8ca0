/* IDX files (the MNIST format), plain or gzip-compressed: validated header, then the body in one buffer. */
#ifndef DNN_IDX_H
#define DNN_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/dataset.h"
#include "dnn/error.h"

enum {
    DNN_IDX_U8 = 0x08,
    DNN_IDX_I8 = 0x09,
    DNN_IDX_I16 = 0x0B,
    DNN_IDX_I32 = 0x0C,
    DNN_IDX_F32 = 0x0D,
    DNN_IDX_F64 = 0x0E
};

typedef struct {
    int type; /* DNN_IDX_* */
    int ndim;
    uint32_t dims[255];
    size_t count;  /* dims[0]: the number of items */
    size_t item;   /* elements per item: the product of the other dims */
    size_t header; /* bytes before the data */
    int gzip;      /* whether the file was gzip-compressed */
    uint8_t *u8;   /* the data when type is u8, else NULL */
    float *f32;    /* the data of any other type, converted, else NULL */
} dnn_idx;

/* Read an IDX file whose data fit max_memory (0: the default budget). Errors name the file and the byte
 * offset and are DNN_EDATA (format) or DNN_EIO. */
dnn_status dnn_idx_read(const char *path, size_t max_memory, dnn_idx *out, dnn_error *err);
void dnn_idx_free(dnn_idx *idx);
/* Read only the header (type and dimensions) of an IDX file, with the same checks and errors; no data. */
dnn_status dnn_idx_read_header(const char *path, dnn_idx *out, dnn_error *err);
/* Whether the data a header describes fit max_memory once decoded (DNN_EDATA naming the sizes if not). */
dnn_status dnn_idx_check_budget(const char *path, const dnn_idx *header, size_t max_memory, dnn_error *err);

/* Items of an IDX file read one after another from item first (plain files seek there, gzip ones inflate
 * up to it), for streaming. header is the file's, from dnn_idx_read_header. */
typedef struct dnn_idx_items dnn_idx_items;
dnn_status dnn_idx_items_open(dnn_idx_items **it, const char *path, const dnn_idx *header, uint64_t first,
                              dnn_error *err);
/* Go to item first. */
dnn_status dnn_idx_items_seek(dnn_idx_items *it, uint64_t first, dnn_error *err);
/* Read the next n items' raw bytes (n * item * type size) into raw; fewer is a truncation error. */
dnn_status dnn_idx_items_read(dnn_idx_items *it, void *raw, size_t n, dnn_error *err);
void dnn_idx_items_close(dnn_idx_items *it);

/* Bytes per element of a type, and the conversion of n big-endian elements to floats. */
size_t dnn_idx_type_size(int type);
void dnn_idx_to_float(int type, const uint8_t *raw, size_t n, float *out);

/* Load an IDX source (images, and labels named or paired by name) into a data set. */
dnn_status dnn_idx_load(dnn_dataset *ds, const dnn_source_config *src, dnn_task task, const dnn_schema *sc,
                        dnn_error *err);

/* One item as an image: N x H x W files hold 1 x H x W images, N x C x H x W files C x H x W; any other item
 * is a vector of d values, d x 1 x 1. */
dnn_shape dnn_idx_shape(const dnn_idx *header);

/* Name of an IDX element type ("u8", "f32", ...) or NULL when the code is not one. */
const char *dnn_idx_type_name(int type);

/* The labels file paired with an images file by the usual naming (*-images-idx3-ubyte[.gz] ->
 * *-labels-idx1-ubyte[.gz]), or NULL when the name does not follow it. */
char *dnn_idx_labels_path(const char *images_path);

#endif
