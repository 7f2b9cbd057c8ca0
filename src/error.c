/* Error values: formatting messages and checked size arithmetic. */
#include "dnn/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

dnn_status dnn_fail(dnn_error *err, dnn_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

dnn_status dnn_fail_oom(dnn_error *err, const char *what, size_t bytes)
{
    return dnn_fail(err, DNN_EIO, "out of memory allocating %zu bytes for %s", bytes, what);
}

int dnn_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

int dnn_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a) return -1;
    *out = a + b;
    return 0;
}
