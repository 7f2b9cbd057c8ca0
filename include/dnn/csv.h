/* CSV data sources (RFC 4180): a streaming reader that parses straight into the data set's matrix. */
#ifndef DNN_CSV_H
#define DNN_CSV_H

#include <stddef.h>

#include "dnn/config.h"
#include "dnn/data.h"
#include "dnn/error.h"

/* Load src->path ("-" for standard input) into ds: features as floats (missing cells as NaN unless the
 * policy is "error" or "drop"), class labels mapped to indices (sorted names, or the schema's), regression
 * targets as floats. */
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
