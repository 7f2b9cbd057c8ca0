/* allreduce_bench [FLOATS=269322] [REPEATS=400]: under mpirun, the time of the gradient's sum across the job
 * as the training loop does it (dnn_comm_sum: MPI_Allreduce in place, MPI_SUM). Prints, on rank 0,
 * "allreduce FLOATS floats (BYTES bytes) on P processes: median M ms, p10 A ms, p90 B ms". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "dnn/comm.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    dnn_comm *comm;
    dnn_error err;
    if (dnn_comm_init(&comm, &argc, &argv, &err)) {
        fprintf(stderr, "allreduce_bench: %s\n", err.msg);
        return 1;
    }
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 269322;
    int repeats = argc > 2 ? atoi(argv[2]) : 400;
    float *x = malloc(n * sizeof(float) + 1);
    double *t = malloc((size_t)(repeats > 0 ? repeats : 1) * sizeof(double));
    if (!x || !t || repeats <= 0) return 1;
    for (size_t i = 0; i < n; i++) x[i] = 1e-3f * (float)(i % 1000);
    for (int i = 0; i < 20; i++) dnn_comm_sum(comm, x, n, &err); /* connections, caches */
    for (int i = 0; i < repeats; i++) {
        MPI_Barrier(MPI_COMM_WORLD); /* time the operation, not the wait for a late process */
        double t0 = MPI_Wtime();
        if (dnn_comm_sum(comm, x, n, &err)) {
            fprintf(stderr, "allreduce_bench: %s\n", err.msg);
            return 1;
        }
        t[i] = MPI_Wtime() - t0;
    }
    qsort(t, (size_t)repeats, sizeof *t, by_value);
    if (dnn_comm_rank(comm) == 0)
        printf("allreduce %zu floats (%zu bytes) on %d processes: median %.4f ms, p10 %.4f ms, p90 %.4f ms\n",
               n, n * sizeof(float), dnn_comm_size(comm), 1e3 * t[repeats / 2], 1e3 * t[repeats / 10],
               1e3 * t[repeats * 9 / 10]);
    free(x);
    free(t);
    dnn_comm_finalize(comm);
    return 0;
}
