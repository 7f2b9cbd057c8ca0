/* Byte input for data files: the parts of a source (a file, a list of files, globs), each plain or
 * gzip-compressed (told by its first bytes, not its name), read through zlib's inflate so that a corrupt or
 * cut part is an error naming it and the byte. */
#ifndef DNN_INPUT_H
#define DNN_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/error.h"

/* One file of a source. */
typedef struct {
    char *path;
    int gzip;      /* starts with the gzip magic bytes */
    uint64_t size; /* bytes on disk (0 for standard input) */
    int64_t mtime; /* modification time in nanoseconds */
} dnn_part;

/* Expand paths (files, or globs such as "data/part-*.csv.gz", matched in name order) into parts: every file
 * must exist and a glob must match something (else DNN_EIO naming it). "-" is standard input, alone. */
dnn_status dnn_parts_find(char *const *paths, int n_paths, dnn_part **parts, int *n_parts, dnn_error *err);
void dnn_parts_free(dnn_part *parts, int n);

typedef struct dnn_input dnn_input;

/* Open a part for reading from byte offset of its (decompressed) content: plain files seek there, gzip
 * streams inflate up to it. path "-" is standard input (offset 0 only). */
dnn_status dnn_input_open(dnn_input **in, const char *path, uint64_t offset, dnn_error *err);
/* Read up to n bytes into buf; *got is 0 at the end. A corrupt or truncated gzip stream is DNN_EDATA with the
 * compressed byte offset, a failed read DNN_EIO. */
dnn_status dnn_input_read(dnn_input *in, void *buf, size_t n, size_t *got, dnn_error *err);
/* Go to byte offset of the content again, reusing what the input holds (not standard input). */
dnn_status dnn_input_seek(dnn_input *in, uint64_t offset, dnn_error *err);
/* The bytes of the file consumed so far (compressed, for gzip). */
uint64_t dnn_input_consumed(const dnn_input *in);
void dnn_input_close(dnn_input *in);

#endif
