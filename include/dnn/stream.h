/* Streaming a source larger than memory, after tf.data: a first pass learns what training needs (rows,
 * classes, vocabularies, statistics of the training rows) and where the source can be re-entered (chunks
 * of rows: a plain file's record offsets, a gzip part as a whole, IDX items); each epoch then reads the
 * chunks again in a seeded order, cycle of them interleaved, through a shuffle buffer. Validation rows are
 * chosen by a seeded hash of the row number, so they are the same whatever the chunking, and never train. */
#ifndef DNN_STREAM_H
#define DNN_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/batches.h"
#include "dnn/config.h"
#include "dnn/dataset.h"
#include "dnn/error.h"

typedef struct dnn_stream dnn_stream;

typedef struct {
    uint64_t seed;           /* the validation split's hash */
    double validation_split; /* the share of rows held out */
    int shuffle_buffer;      /* rows (0: the default, 10000, less when a quarter of the budget holds fewer) */
    dnn_missing missing;     /* what the fill values will be (a median needs a summary) */
    size_t max_memory;       /* the budget (0: the default) */
    int rank, ranks;         /* this process's share of the chunks (0, 1: all) */
    const char *cache;   /* a CSV source's binary cache: used when it matches, else written (NULL: none) */
    const char *scratch; /* a folder for temporary files (validation rows past the budget; NULL: $TMPDIR) */
} dnn_stream_opts;

#define DNN_SHUFFLE_BUFFER 10000
#define DNN_STREAM_CYCLE   4 /* chunks read at once, a row from each in turn */

/* Whether row number ordinal belongs to the validation split of fraction under seed. */
int dnn_stream_is_validation(uint64_t seed, double fraction, uint64_t ordinal);

/* Open src for streaming and make the first pass over it. The stream keeps a copy of *src, but not of the
 * strings it points to (paths, column names), which must outlive it. */
dnn_status dnn_stream_open(dnn_stream **s, const dnn_source_config *src, dnn_task task,
                           const dnn_stream_opts *o, dnn_error *err);
/* What the first pass learnt, as a data set without rows: sizes, names, classes (sorted), the vocabularies
 * it chose (enc), missing cells. */
const dnn_dataset *dnn_stream_info(const dnn_stream *s);
/* Rows in all, for training and for validation; chunks. */
void dnn_stream_counts(const dnn_stream *s, uint64_t *rows, uint64_t *train, uint64_t *val, size_t *chunks);
/* The fill values and normalisation statistics of the training rows, as dnn_impute_fit and dnn_norm_fit
 * compute them from data in memory (statistics after imputation); medians from the Greenwald-Khanna
 * summary, within DNN_MEDIAN_EPS of the rows in rank. */
dnn_status dnn_stream_fit(const dnn_stream *s, dnn_missing policy, dnn_norm_kind kind, dnn_impute *im,
                          dnn_norm *nm, dnn_error *err);
/* The largest class index the labels hold (-1: none), and where it is, for checking against a model. */
int32_t dnn_stream_max_label(const dnn_stream *s, char *where, size_t n);
/* Start dealing batches of at most batch rows: categorical cells coded by enc (the model's, which may be
 * a checkpoint's), missing numbers filled from im. The stream then serves as b. */
dnn_status dnn_stream_start(dnn_stream *s, const dnn_encoding *enc, const dnn_impute *im, size_t batch,
                            dnn_batches *b, dnn_error *err);
/* How the first pass went: 0 read the text, 1 read the text and wrote the cache, 2 read the cache. */
int dnn_stream_cache_use(const dnn_stream *s);
/* Memory the stream holds (buffers, chunk table, validation rows), for messages. */
size_t dnn_stream_bytes(const dnn_stream *s);
void dnn_stream_close(dnn_stream *s);

#endif
