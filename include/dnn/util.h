/* Small shared helpers: files, paths, atomic writes, locale-free number formatting, spelling hints. */
#ifndef DNN_UTIL_H
#define DNN_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "dnn/error.h"

/* Read a whole file (at most max_bytes, else an error naming the limit). *buf is NUL-terminated and
 * owned by the caller. Missing or unreadable files are DNN_EIO. */
dnn_status dnn_read_file(const char *path, size_t max_bytes, char **buf, size_t *len, dnn_error *err);

/* Write data to path atomically: a temporary file in the same folder, fsync, rename, fsync of the folder.
 * On any failure the previous file at path is left untouched and the temporary file removed. */
dnn_status dnn_write_atomic(const char *path, const void *data, size_t len, dnn_error *err);

/* Create a folder and its parents (like mkdir -p). */
dnn_status dnn_mkdirs(const char *path, dnn_error *err);
/* Check that a folder accepts new files, by creating and removing one. */
dnn_status dnn_check_writable_dir(const char *dir, dnn_error *err);
/* Remove temporary files that an interrupted atomic write left in dir (".<name>.tmp.*"). */
void dnn_clean_temp_files(const char *dir);

/* Paths. Results are malloc'ed (NULL on allocation failure). */
char *dnn_path_join(const char *dir, const char *name); /* name if absolute */
char *dnn_path_dir(const char *path);                   /* "." when there is no folder part */
char *dnn_path_stem(const char *path);                  /* "configs/mlp.json" -> "mlp" */
char *dnn_path_absolute(const char *path);              /* lexically, against the current folder */

char *dnn_strdup(const char *s);
/* Free an array of n strings and the array (NULL is fine); copy one (NULL on allocation failure). */
void dnn_strings_free(char **v, size_t n);
char **dnn_strings_copy(char *const *v, size_t n);

/* Zeroed memory for the hot float buffers (parameters, gradients, optimizer moments, batch workspace):
 * 64-byte aligned, and from 1 MiB up placed on transparent huge pages, which makes streaming updates over
 * them several times faster by sparing the TLB. Free with free(). NULL on failure or overflow. */
void *dnn_alloc_hot(size_t count, size_t size);

/* Hot element-wise kernels get an AVX2 clone next to the baseline one, chosen at load time, so one binary
 * runs everywhere and vectorises wide where it can. Not under ThreadSanitizer, whose runtime is not up yet
 * when the loader calls the clones' resolvers. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&                  \
    !defined(__SANITIZE_THREAD__)
#define DNN_HOT __attribute__((target_clones("avx2", "default")))
#else
#define DNN_HOT
#endif

/* printf into a FILE or buffer in the C locale, whatever the process locale is. */
int dnn_fprintf_c(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dnn_snprintf_c(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int dnn_vsnprintf_c(char *buf, size_t n, const char *fmt, va_list ap);
/* strtod in the C locale. */
double dnn_strtod_c(const char *s, char **end);

/* The candidate closest to s by edit distance, or NULL when none is close enough to be a likely typo. */
const char *dnn_nearest(const char *s, const char *const *candidates, size_t n);

/* The memory budget that sizes are checked against before allocating: max_memory (from --max-memory), or
 * when it is 0, 3/4 of physical memory. dnn_memory_budget_source says which, for messages. */
size_t dnn_memory_budget(size_t max_memory);
const char *dnn_memory_budget_source(size_t max_memory);
/* "1.5 GiB" */
const char *dnn_format_bytes(double bytes, char *buf, size_t n);
/* "512M", "8G", "1.5T", "100000" (bytes): 0 and *out, or -1. */
int dnn_parse_bytes(const char *s, size_t *out);

/* Monotonic seconds. */
double dnn_now(void);

#endif
