/* Errors as values: a status code (the process exit code of SPEC.md) and a message naming the culprit. */
#ifndef DNN_ERROR_H
#define DNN_ERROR_H

#include <stddef.h>

#include "dnn.h" /* dnn_status: the public API's codes */

typedef struct {
    dnn_status code;
    char msg[1024];
} dnn_error;

/* Set err (if not NULL) to code and a printf-style message; returns code so callers can
 * `return dnn_fail(err, DNN_EDATA, "%s: ...", path)`. */
dnn_status dnn_fail(dnn_error *err, dnn_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Out of memory is reported like any other error, naming what was being allocated. */
dnn_status dnn_fail_oom(dnn_error *err, const char *what, size_t bytes);

/* Checked size arithmetic: return 0 and set *out, or return -1 on overflow. */
int dnn_mul_size(size_t a, size_t b, size_t *out);
int dnn_add_size(size_t a, size_t b, size_t *out);

#endif
