/* A binary cache of a CSV source's parsed rows (as LightGBM's binary dataset files and Vowpal Wabbit's cache
 * files): written once by a first pass over the text, read by later epochs and later runs instead of it,
 * while the source's files keep their sizes and modification times and the parsing options are the same.
 *
 * Layout (native byte order, checked by a marker): a 64-byte header (magic "DNNROWS\1", version, the key,
 * row shape and count, where the trailer starts, a CRC-32 of rows and trailer), then the rows (numbers as
 * f32 with NaN where missing, categorical cells as 64-bit hashes of their text, the class in order of first
 * appearance or the targets as f32, the row number as u64), then a JSON trailer: names, classes,
 * vocabularies, missing counts. A cache that does not match is rebuilt; one whose CRC fails is an error. */
#ifndef DNN_CACHE_H
#define DNN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/error.h"
#include "dnn/input.h"

typedef struct cJSON cJSON;

/* The shape of a row. */
typedef struct {
    uint32_t d_num, n_cat, k; /* numbers, categorical cells, targets (0: a class) */
} dnn_cache_shape;

size_t dnn_cache_row_bytes(const dnn_cache_shape *sh);

/* What identifies the rows a source gives: its files (path, size, modification time) and every option that
 * changes how they are read. */
uint64_t dnn_cache_key(const dnn_source_config *src, dnn_task task, const dnn_part *parts, int n_parts);

typedef struct dnn_cache_writer dnn_cache_writer;

/* Start writing a cache to a temporary file beside path; nothing replaces path before dnn_cache_finish. */
dnn_status dnn_cache_create(dnn_cache_writer **w, const char *path, uint64_t key, const dnn_cache_shape *sh,
                            dnn_error *err);
dnn_status dnn_cache_write(dnn_cache_writer *w, const float *x, const uint64_t *cat, int32_t y,
                           const float *t, uint64_t ordinal, dnn_error *err);
/* Append the trailer, write the header, fsync and rename over path. Frees w. */
dnn_status dnn_cache_finish(dnn_cache_writer *w, const cJSON *trailer, dnn_error *err);
/* Give up: remove the temporary file. Frees w (NULL is fine). */
void dnn_cache_abort(dnn_cache_writer *w);

typedef struct dnn_cache dnn_cache;

/* Open the cache at path for the key: *usable is 0 (and nothing is open) when there is none, or it is for
 * other files or options, or another version's; a cache that claims to match but is malformed is an error. */
dnn_status dnn_cache_open(dnn_cache **c, const char *path, uint64_t key, int *usable, dnn_error *err);
const dnn_cache_shape *dnn_cache_shape_of(const dnn_cache *c);
uint64_t dnn_cache_rows(const dnn_cache *c);
const cJSON *dnn_cache_trailer(const dnn_cache *c);
const char *dnn_cache_path(const dnn_cache *c);
/* Read rows [first, first + n) into buf (n row_bytes each). */
dnn_status dnn_cache_read(const dnn_cache *c, uint64_t first, size_t n, void *buf, dnn_error *err);
/* Checking the rows: feed every row in order to the CRC, then compare with the header's. */
void dnn_cache_crc_add(dnn_cache *c, const void *rows, size_t n);
dnn_status dnn_cache_crc_check(const dnn_cache *c, dnn_error *err);
void dnn_cache_close(dnn_cache *c);

/* One row of the layout's parts, from a row's bytes. */
typedef struct {
    const float *x;
    const uint64_t *cat;
    int32_t y;
    const float *t;
    uint64_t ordinal;
} dnn_cache_row;
void dnn_cache_row_at(const dnn_cache_shape *sh, const void *bytes, dnn_cache_row *row);

#endif
