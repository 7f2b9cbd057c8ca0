/* The job in a build without MPI: this process alone, where every collective operation leaves its data as
 * they are and training runs exactly as it did before data-parallel training existed. */
#include <stdio.h>
#include <stdlib.h>

#include "dnn/comm.h"

struct dnn_comm {
    int unused;
};

dnn_status dnn_comm_init(dnn_comm **out, int *argc, char ***argv, dnn_error *err)
{
    (void)argc, (void)argv;
    *out = calloc(1, sizeof **out);
    return *out ? DNN_OK : dnn_fail_oom(err, "the job", sizeof **out);
}

void dnn_comm_finalize(dnn_comm *c)
{
    free(c);
}

void dnn_comm_abort(dnn_comm *c, int code)
{
    (void)c, (void)code;
}

int dnn_comm_rank(const dnn_comm *c)
{
    (void)c;
    return 0;
}

int dnn_comm_size(const dnn_comm *c)
{
    (void)c;
    return 1;
}

int dnn_comm_threads(const dnn_comm *c)
{
    (void)c;
    return 0;
}

int dnn_comm_failed(const dnn_comm *c)
{
    (void)c;
    return 0;
}

const char *dnn_comm_library(char *buf, size_t n)
{
    if (n) buf[0] = '\0';
    return buf;
}

const char *dnn_comm_describe(const dnn_comm *c, char *buf, size_t n)
{
    (void)c;
    snprintf(buf, n, "built without MPI: one process");
    return buf;
}

dnn_status dnn_comm_bcast(dnn_comm *c, float *x, size_t n, dnn_error *err)
{
    (void)c, (void)x, (void)n, (void)err;
    return DNN_OK;
}

dnn_status dnn_comm_bcast_bytes(dnn_comm *c, uint8_t **buf, size_t *len, dnn_error *err)
{
    (void)c, (void)buf, (void)len, (void)err;
    return DNN_OK;
}

dnn_status dnn_comm_sum(dnn_comm *c, float *x, size_t n, dnn_error *err)
{
    (void)c, (void)x, (void)n, (void)err;
    return DNN_OK;
}

dnn_status dnn_comm_sum_f64(dnn_comm *c, double *x, int n, dnn_error *err)
{
    (void)c, (void)x, (void)n, (void)err;
    return DNN_OK;
}

int dnn_comm_can_part(const dnn_comm *c, size_t n)
{
    (void)c, (void)n;
    return 1;
}

dnn_status dnn_comm_sum_part(dnn_comm *c, float *x, const size_t *parts, float *tmp, dnn_error *err)
{
    (void)c, (void)x, (void)parts, (void)tmp, (void)err;
    return DNN_OK;
}

dnn_status dnn_comm_gather_parts(dnn_comm *c, float *x, const size_t *parts, dnn_error *err)
{
    (void)c, (void)x, (void)parts, (void)err;
    return DNN_OK;
}

dnn_status dnn_comm_range(dnn_comm *c, uint64_t v, uint64_t *lo, uint64_t *hi, dnn_error *err)
{
    (void)c, (void)err;
    *lo = *hi = v;
    return DNN_OK;
}

dnn_status dnn_comm_agree(dnn_comm *c, dnn_status st, int *flag, dnn_error *err)
{
    (void)c, (void)flag, (void)err;
    return st;
}
