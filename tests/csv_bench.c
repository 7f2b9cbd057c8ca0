/* csv_bench FILE [RUNS] [--first-pass]: read a CSV file with dnn's reader and print the median MB/s of its
 * text over the runs, for scripts/bench.sh and scripts/bench_stream.sh. It loads the file into memory (the
 * last column a regression target), or with --first-pass makes a stream's first pass over it (the last
 * column a class; text columns categorical). A gzip file's MB/s count its decompressed text, measured by
 * reading it once first. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dnn/csv.h"
#include "dnn/input.h"
#include "dnn/stream.h"
#include "dnn/util.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Bytes of text in the file, decompressed. */
static double text_bytes(const char *path)
{
    dnn_input *in;
    dnn_error err;
    if (dnn_input_open(&in, path, 0, &err)) return 0;
    static char buf[1 << 16];
    double n = 0;
    size_t got;
    while (!dnn_input_read(in, buf, sizeof buf, &got, &err) && got) n += (double)got;
    dnn_input_close(in);
    return n;
}

static int once(dnn_source_config *src, int first_pass, int verbose)
{
    dnn_error err;
    if (first_pass) {
        dnn_stream_opts so = {.seed = 1};
        dnn_stream *s;
        if (dnn_stream_open(&s, src, DNN_TASK_CLASSIFICATION, &so, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        uint64_t rows;
        dnn_stream_counts(s, &rows, NULL, NULL, NULL);
        if (verbose)
            fprintf(stderr, "%llu rows, %zu features\n", (unsigned long long)rows, dnn_stream_info(s)->d);
        dnn_stream_close(s);
        return 0;
    }
    dnn_dataset ds;
    if (dnn_csv_load(&ds, src, DNN_TASK_REGRESSION, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (verbose) fprintf(stderr, "%zu rows, %zu features\n", ds.n, ds.d);
    dnn_dataset_free(&ds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: csv_bench FILE [RUNS] [--first-pass]\n");
        return 2;
    }
    int runs = argc > 2 && argv[2][0] != '-' ? atoi(argv[2]) : 3, first_pass = 0;
    for (int i = 2; i < argc; i++) first_pass |= strcmp(argv[i], "--first-pass") == 0;
    if (runs < 1 || runs > 100) runs = 3;
    double bytes = text_bytes(argv[1]);
    if (bytes <= 0) {
        fprintf(stderr, "%s: cannot read it\n", argv[1]);
        return 1;
    }
    double t[100];
    dnn_source_config src = {.format = DNN_FORMAT_CSV,
                             .path = argv[1],
                             .header = -1,
                             .missing = DNN_MISSING_MEAN,
                             .categorical_auto = first_pass};
    for (int r = 0; r < runs; r++) {
        double t0 = dnn_now();
        if (once(&src, first_pass, r == 0)) return 1;
        t[r] = dnn_now() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
    printf("%.1f MB/s (%.3f s median of %d)\n", bytes / 1e6 / med, med, runs);
    return 0;
}
