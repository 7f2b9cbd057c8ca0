/* csv_bench FILE [RUNS]: load a CSV file (last column as a regression target) with dnn's reader and print
 * the median MB/s over the runs, for scripts/bench.sh. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "dnn/csv.h"
#include "dnn/util.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: csv_bench FILE [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    if (runs < 1 || runs > 100) runs = 3;
    struct stat st;
    if (stat(argv[1], &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    double t[100];
    dnn_source_config src = {.format = DNN_FORMAT_CSV, .path = argv[1], .header = -1};
    for (int r = 0; r < runs; r++) {
        dnn_dataset ds;
        dnn_error err;
        double t0 = dnn_now();
        if (dnn_csv_load(&ds, &src, DNN_TASK_REGRESSION, NULL, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        t[r] = dnn_now() - t0;
        if (r == 0) fprintf(stderr, "%zu rows, %zu features\n", ds.n, ds.d);
        dnn_dataset_free(&ds);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
    printf("%.1f MB/s (%.3f s median of %d)\n", (double)st.st_size / 1e6 / med, med, runs);
    return 0;
}
