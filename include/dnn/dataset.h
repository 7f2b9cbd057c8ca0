/* Data sets in memory: numeric features stored once (u8 stays u8), categorical features as level codes,
 * targets, names, and per-batch gathering with normalisation and one-hot expansion applied on the fly.
 * The readers (csv, idx) fill these; nothing here knows a file format. */
#ifndef DNN_DATASET_H
#define DNN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/encode.h"
#include "dnn/error.h"

typedef enum { DNN_U8, DNN_F32 } dnn_dtype;

typedef struct {
    char *source;    /* the file it came from, for messages */
    size_t n;        /* samples */
    size_t d;        /* features per sample as the network sees them: d_num numeric ones, then one one-hot
                      * block per categorical column */
    size_t d_num;    /* numeric columns, stored in x8 or x32 */
    dnn_shape shape; /* one sample as channels x height x width (IDX images: from the file; CSV: d x 1 x 1) */
    dnn_dtype dtype; /* storage of x: u8 (IDX images) or f32 */
    uint8_t *x8;     /* [n, d_num] when dtype is DNN_U8 */
    float *x32;      /* [n, d_num] when dtype is DNN_F32 */
    float max_value; /* the format's maximum for "scale" of u8 data (255) */
    int n_cat;       /* categorical columns */
    uint32_t *cat;   /* [n, n_cat] level codes (0 .. width-1; the last level is "__other__") */
    int *cat_width;  /* [n_cat] levels of each column */
    dnn_encoding *enc; /* the vocabularies the training data chose (NULL when read for a model, which has
                        * them, or without categorical columns) */

    /* Targets: classification has y (class index per sample); regression has t ([n, n_targets]). */
    int32_t *y;
    float *t;
    int n_targets;
    int n_classes;        /* classes named by the data (CSV string labels), else 0 */
    char **class_names;   /* n_classes names, or NULL when the classes are plain indices */
    char **feature_names; /* d names (CSV header; categorical ones "column=level"), or NULL */
    char *
        *column_names; /* d_num + n_cat source column names, numeric then categorical (CSV header), or NULL */
    char **target_names; /* n_targets names (CSV header), or NULL */
    char **label_names;  /* the label columns' names (CSV header), n_labels of them, or NULL */
    int n_labels;

    /* Where each label came from, for messages: a labels file with its byte layout, or a line per row. */
    char *label_source;
    size_t label_offset, label_stride;
    uint32_t *lines;
    uint32_t *index; /* each row's ordinal among the source's data rows (NULL: 0, 1, ...); rows may
                      * have been dropped */

    /* What loading found missing (CSV): cells per source column (d_num + n_cat: numeric ones are NaN in x32
     * until imputed, categorical ones are the level "__missing__"), and rows dropped for a missing label or,
     * under the "drop" policy, a missing feature. */
    size_t *missing;
    size_t missing_cells;
    size_t dropped_label, dropped_feature;
    char header_note[200]; /* CSV with "header": "auto": how the first row was read, and why */
    char label_note[300];  /* why data read for a model has no labels (predict-only), when it has none */
} dnn_dataset;

void dnn_dataset_free(dnn_dataset *ds);

/* Per-feature affine normalisation x' = (x - shift[j]) * mul[j], computed from training rows; for
 * regression also the targets' t' = (t - tshift[j]) * tmul[j] (standardised, so every target weighs alike
 * in the loss and the learning rate means the same whatever their units). One-hot features are left as
 * they are (shift 0, mul 1). */
typedef struct {
    size_t d;
    float *shift, *mul;
    int k; /* targets normalised (0: none) */
    float *tshift, *tmul;
} dnn_norm;

/* Allocate the statistics of d features and k targets as the identity. */
dnn_status dnn_norm_init(dnn_norm *nm, size_t d, int k, dnn_error *err);
/* Compute the statistics of kind over the rows rows[0..n) of ds (all rows when rows is NULL); regression
 * targets are always standardised. */
dnn_status dnn_norm_fit(dnn_norm *nm, dnn_norm_kind kind, const dnn_dataset *ds, const uint32_t *rows,
                        size_t n, dnn_error *err);
void dnn_norm_free(dnn_norm *nm);

/* Gather rows idx[0..b) into x [b, d] as normalised floats (one-hot blocks expanded), and their targets
 * into y (classes) or t ([b, n_targets]); y and t may be NULL. */
void dnn_gather(const dnn_dataset *ds, const dnn_norm *nm, const uint32_t *idx, size_t b, float *x,
                int32_t *y, float *t);

/* Missing-value imputation: fill[j] replaces a missing cell of feature j. Fitted on training rows. */
typedef struct {
    size_t d;
    float *fill;
} dnn_impute;

dnn_status dnn_impute_fit(dnn_impute *im, dnn_missing policy, const dnn_dataset *ds, const uint32_t *rows,
                          size_t n, dnn_error *err);
/* Replace every missing cell of ds (all rows) with its column's fill value. */
void dnn_impute_apply(const dnn_impute *im, dnn_dataset *ds);
void dnn_impute_free(dnn_impute *im);

/* What data read for an existing model must match (NULL while training a new one). */
typedef struct {
    int n_features;
    char *const *feature_names; /* CSV with a header: the columns to take, by name, in this order (with
                                 * categorical columns: the numeric ones, then "column=level" names) */
    int n_classes;
    char *const *class_names; /* string labels map to these classes (NULL: labels are class indices) */
    int n_targets;
    char *const *label_names; /* the targets' column names in training (a header): a file with a header
                               * has them found by name (NULL: by the source's "label", or position) */
    int n_label_names;
    int labels_optional;     /* data without the label columns is read for prediction only */
    const dnn_encoding *enc; /* the model's categorical columns and their levels (NULL: none) */
} dnn_schema;

/* Check class labels against the number of classes of the model. */
dnn_status dnn_check_labels(const dnn_dataset *ds, int n_classes, dnn_error *err);

/* Split rows 0..n into a training and a validation part (file: the config asking for it, for messages): a
 * seeded permutation, the first n_val rows of which are validation. Both index arrays are malloc'ed and
 * sorted, so batches read memory in order. */
dnn_status dnn_split(const char *file, size_t n, double fraction, uint64_t seed, uint32_t **train,
                     size_t *n_train, uint32_t **val, size_t *n_val, dnn_error *err);

#endif
