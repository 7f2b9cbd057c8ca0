/* CSV data sources (RFC 4180). One reader goes through a source's parts (a file, a list or a glob; plain or
 * gzip; each part with the same columns) and parses each record into a row; dnn_csv_load keeps the rows in
 * memory, the stream reads them again chunk by chunk. */
#ifndef DNN_CSV_H
#define DNN_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/config.h"
#include "dnn/dataset.h"
#include "dnn/error.h"
#include "dnn/input.h"

typedef struct dnn_csv dnn_csv;

/* A data row as the reader parsed it, valid until the next call. */
typedef struct {
    const float *x;      /* [d_num] numeric features, NaN where missing */
    const uint64_t *cat; /* [n_cat] hashes of the categorical cells (of "__missing__" where missing) */
    const char *const *cat_text; /* [n_cat] their text, cat_len bytes each */
    const size_t *cat_len;
    int32_t y;        /* a class: its index among the schema's classes, else its order of first appearance */
    const float *t;   /* [k] regression targets */
    uint64_t ordinal; /* its place among the source's data rows, dropped rows counted */
    int part;
    unsigned long line;
    uint64_t offset; /* where its record begins in the part's content */
} dnn_csv_row;

/* Where a record begins, to come back to it. */
typedef struct {
    int part;
    uint64_t offset; /* in the part's (decompressed) content */
    unsigned long line;
    uint64_t ordinal;
} dnn_csv_pos;

/* What the reader found in the header and decided about each column. */
typedef struct {
    const char *source;  /* the source's name, for messages */
    int d_num, n_cat, k; /* numeric and categorical feature columns; label columns (0: unlabelled) */
    int labelled, has_header;
    char *const *num_names;   /* [d_num] header names, or NULL without a header */
    char *const *cat_names;   /* [n_cat] header names, or the columns' indices as text */
    const int *cat_position;  /* [n_cat] each categorical column's place among the feature columns */
    char *const *label_names; /* [k], or NULL */
    int n_parts;
    const dnn_part *parts;   /* [n_parts] the files */
    char *const *part_names; /* [n_parts] for messages ("<stdin>" for "-") */
    const size_t *missing;   /* [d_num + n_cat] missing cells so far, numeric columns then categorical */
    size_t dropped_label, dropped_feature;
    const char *header_note, *label_note;
    int n_classes; /* classes seen so far (without a schema's), in order of first appearance */
    char *const *class_names;
} dnn_csv_info;

/* Open src (its "path" a file, glob or list; "-" for standard input): find the parts, sniff the delimiter
 * and header of the first, decide each column's role. With a schema, columns are matched to a model's. */
dnn_status dnn_csv_open(dnn_csv **r, const dnn_source_config *src, dnn_task task, const dnn_schema *sc,
                        dnn_error *err);
/* The next data row (*row NULL at the end of the last part). Rows with a missing label, or with a missing
 * feature under "drop", are skipped and counted; under "error" they are errors naming the line and column. */
dnn_status dnn_csv_next(dnn_csv *r, const dnn_csv_row **row, dnn_error *err);
/* Go to a record's position (a chunk's start; gzip parts inflate up to it). */
dnn_status dnn_csv_seek(dnn_csv *r, const dnn_csv_pos *pos, dnn_error *err);
const dnn_csv_info *dnn_csv_info_of(dnn_csv *r);
/* Map class labels to these names from now on (an index each; any other label is an error). */
dnn_status dnn_csv_set_classes(dnn_csv *r, char *const *names, int n, dnn_error *err);
void dnn_csv_close(dnn_csv *r);

/* How many rows src holds and how many bytes each of them takes once loaded, estimated from its first
 * rows (exact when they are all): the first part's bytes per row against the parts' sizes, gzip parts by
 * the first one's compression ratio. */
dnn_status dnn_csv_estimate(const dnn_source_config *src, dnn_task task, double *rows, double *row_bytes,
                            dnn_error *err);

/* Sort class names as the classes of a model are: numerically when every name is a number, else by bytes.
 * rank[i] is the sorted place of names[i] before sorting. */
dnn_status dnn_csv_sort_classes(char **names, int n, int *rank, dnn_error *err);

/* Load a CSV source into ds: numeric features as floats (missing cells NaN unless the policy is "error" or
 * "drop"), categorical ones as level codes (the vocabulary chosen from these rows unless the schema has the
 * model's), class labels as indices (sorted names, or the schema's), regression targets as floats. */
dnn_status dnn_csv_load(dnn_dataset *ds, const dnn_source_config *src, dnn_task task,
                        const dnn_schema *schema, dnn_error *err);

/* Parse a whole field as a number, locale-free: 0 and *out on success, -1 when it is not a number, 1 when it
 * overflows a float. Surrounding spaces are allowed. Exposed for tests. */
int dnn_csv_number(const char *s, size_t n, double *out);

/* The delimiter that best splits the first lines of text (",", ";", "\t" or "|"; "," when none does). */
char dnn_csv_sniff(const char *text, size_t n);

/* Whether the first line of text (the file's first up to 65 lines; complete: text holds the whole file) is a
 * header, by comparing each of its fields with the column below it: a name over numbers, a number over text,
 * or a word that is not one of the column's repeating levels is a name; a value like those below is data. A
 * row of at least 3 consecutive integers (0, 1, 2, ... as pandas writes an unnamed frame, or years) is a
 * header; when the columns cannot tell, a first row without numbers is. why says which rule decided. */
int dnn_csv_sniff_header(const char *text, size_t n, int complete, char delim, const dnn_source_config *src,
                         char *why, size_t whyn);

#endif
