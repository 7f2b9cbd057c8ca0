/* Streaming tests: one-pass statistics against exact ones, the hashed validation split, epochs that deal
 * every training row once in a seeded order whatever the files' shapes (plain, gzip, parts), validation rows
 * apart, resumed epochs, IDX items, sharding, and corrupt parts named. */
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "dnn/csv.h"
#include "dnn/data.h"
#include "dnn/idx.h"
#include "dnn/rng.h"
#include "dnn/stats.h"
#include "dnn/stream.h"

static const char *dir;
static size_t budget; /* the streams' memory budget (0: the default) */

static const char *path_of(const char *name)
{
    static char p[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void write_text(const char *name, const char *text, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path_of(name), "wb6");
        gzwrite(f, text, (unsigned)n);
        gzclose(f);
        return;
    }
    FILE *f = fopen(path_of(name), "wb");
    fwrite(text, 1, n, f);
    fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_welford(void)
{
    dnn_rng r;
    dnn_rng_seed(&r, 3, 9);
    dnn_welford w = {0}, all = {0};
    double sum = 0, sq = 0, x[1000];
    for (int i = 0; i < 1000; i++) {
        x[i] = 100 + 3 * dnn_rng_normal(&r);
        dnn_welford_add(&w, x[i]);
        sum += x[i];
    }
    double mean = sum / 1000;
    for (int i = 0; i < 1000; i++) sq += (x[i] - mean) * (x[i] - mean);
    CHECK_NEAR(w.mean, mean, 1e-9);
    CHECK_NEAR(dnn_welford_var(&w), sq / 1000, 1e-7);
    /* 200 more values of 7 (what imputation adds) combine like adding them one by one */
    all = w;
    for (int i = 0; i < 200; i++) dnn_welford_add(&all, 7);
    dnn_welford c = dnn_welford_with(w, 200, 7);
    CHECK_NEAR(c.mean, all.mean, 1e-9);
    CHECK_NEAR(dnn_welford_var(&c), dnn_welford_var(&all), 1e-6);
    CHECK(c.min == 7 && c.max == all.max && c.n == 1200);
}

/* Greenwald-Khanna: every quantile within eps * n of its rank, on data in order, reversed and random. */
static void test_quantiles(void)
{
    enum { N = 200000 };
    double *x = malloc(N * sizeof *x), *sorted = malloc(N * sizeof *sorted);
    dnn_rng r;
    dnn_rng_seed(&r, 5, 1);
    for (int shape = 0; shape < 3; shape++) {
        for (int i = 0; i < N; i++)
            x[i] = shape == 0 ? exp(dnn_rng_normal(&r)) : shape == 1 ? N - i : (double)(i % 1000);
        memcpy(sorted, x, N * sizeof *x);
        qsort(sorted, N, sizeof *x, cmp_double);
        dnn_gk g;
        dnn_error err;
        CHECK(dnn_gk_init(&g, DNN_MEDIAN_EPS, &err) == DNN_OK);
        for (int i = 0; i < N; i++) dnn_gk_add(&g, x[i], &err);
        const double qs[] = {0.01, 0.25, 0.5, 0.75, 0.99};
        for (int q = 0; q < 5; q++) {
            double v;
            CHECK(dnn_gk_query(&g, qs[q], &v, &err) == DNN_OK);
            /* the ranks v may have (ties make a range) against the rank asked for */
            long lo = 0, hi = N;
            while (lo < N && sorted[lo] < v) lo++;
            while (hi > 0 && sorted[hi - 1] > v) hi--;
            double want = qs[q] * N, miss = want < lo ? lo - want : want > hi ? want - hi : 0;
            CHECK_MSG(miss <= DNN_MEDIAN_EPS * N + 1, "shape %d q %g: rank error %g > %g", shape, qs[q], miss,
                      DNN_MEDIAN_EPS * N);
        }
        CHECK_MSG(dnn_gk_bytes(&g) < 400000, "the summary holds %zu bytes", dnn_gk_bytes(&g));
        dnn_gk_free(&g);
    }
    free(x);
    free(sorted);
}

static void test_split(void)
{
    int n = 0, again = 0, other = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        int v = dnn_stream_is_validation(42, 0.2, i);
        n += v;
        again += v == dnn_stream_is_validation(42, 0.2, i);
        other += v != dnn_stream_is_validation(43, 0.2, i);
    }
    CHECK_MSG(n > 19600 && n < 20400, "%d of 100000 rows for validation at 0.2", n);
    CHECK(again == 100000);
    CHECK_MSG(other > 25000, "another seed moves only %d rows", other);
    CHECK(!dnn_stream_is_validation(42, 0, 7));
}

/* A CSV of n rows: id (the row number, as a feature), x = id / 10, a colour, a class from x. */
static char *make_csv(int n, int from, int header)
{
    static const char *colours[] = {"red", "green", "blue"};
    size_t cap = (size_t)n * 48 + 64, k = 0;
    char *t = malloc(cap);
    if (header) k += (size_t)snprintf(t + k, cap - k, "id,x,colour,y\n");
    for (int i = from; i < from + n; i++)
        k += (size_t)snprintf(t + k, cap - k, "%d,%g,%s,%s\n", i, i / 10.0, colours[i % 3],
                              i % 7 < 3 ? "a" : "b");
    return t;
}

/* A source of one CSV file of n rows (make_csv's), written as name. */
static dnn_source_config csv_file(const char *name, int n)
{
    char *t = make_csv(n, 0, 1);
    write_text(name, t, strlen(t), 0);
    free(t);
    return (dnn_source_config){.format = DNN_FORMAT_CSV, .header = -1, .path = (char *)path_of(name)};
}

typedef struct {
    dnn_stream *s;
    dnn_batches b;
    dnn_impute im;
    dnn_norm nm;
    float *x;
    int32_t *y;
} opened;

static dnn_status open_stream(opened *o, dnn_source_config *src, double val, int buffer, int rank, int ranks,
                              dnn_error *err)
{
    memset(o, 0, sizeof *o);
    src->categorical_auto = src->format == DNN_FORMAT_CSV;
    dnn_stream_opts so = {.seed = 7,
                          .validation_split = val,
                          .shuffle_buffer = buffer,
                          .missing = DNN_MISSING_ERROR,
                          .rank = rank,
                          .ranks = ranks,
                          .max_memory = budget,
                          .scratch = dir};
    dnn_status st = dnn_stream_open(&o->s, src, DNN_TASK_CLASSIFICATION, &so, err);
    if (st) return st;
    const dnn_dataset *in = dnn_stream_info(o->s);
    st = dnn_stream_fit(o->s, DNN_MISSING_ERROR, DNN_NORM_NONE, &o->im, &o->nm, err);
    if (!st) st = dnn_stream_start(o->s, in->enc, &o->im, 64, &o->b, err);
    o->x = malloc(64 * in->d * sizeof(float));
    o->y = malloc(64 * sizeof(int32_t));
    return st;
}

static void close_stream(opened *o)
{
    dnn_stream_close(o->s);
    dnn_impute_free(&o->im);
    dnn_norm_free(&o->nm);
    free(o->x);
    free(o->y);
}

/* The first column of every row an epoch (or validation) deals, in order. */
static size_t deal(opened *o, int validation, uint64_t seed, size_t skip, int *ids, size_t cap)
{
    dnn_error err;
    dnn_rng r;
    dnn_rng_seed(&r, seed, DNN_STREAM_SHUFFLE);
    size_t n = 0, rows;
    dnn_batch_rows br;
    if (validation)
        o->b.val_begin(&o->b, &err);
    else if (o->b.epoch(&o->b, &r, 1, skip, &err) != DNN_OK)
        return 0;
    for (;;) {
        dnn_status st = validation ? o->b.val_next(&o->b, &o->nm, o->x, o->y, NULL, &rows, &err)
                                   : o->b.next(&o->b, &o->nm, o->x, o->y, NULL, &br, &err);
        if (!validation) rows = br.rows;
        CHECK_MSG(st == DNN_OK, "%s", err.msg);
        if (st || !rows) break;
        const size_t d = o->b.d;
        for (size_t i = 0; i < rows && n < cap; i++, n++) {
            ids[n] = (int)o->x[i * d];
            /* the label and the one-hot colour agree with the id */
            CHECK(o->y[i] == (ids[n] % 7 < 3 ? 0 : 1));
            CHECK(o->x[i * d + 2 + (size_t)(ids[n] % 3 == 0 ? 2 : ids[n] % 3 == 1 ? 1 : 0)] == 1.0f);
        }
    }
    return n;
}

/* Every training row exactly once, no validation row; validation rows in order. */
static void check_epoch(opened *o, int n_rows, double val, const char *what)
{
    int *ids = malloc((size_t)n_rows * sizeof *ids), *seen = calloc((size_t)n_rows, sizeof *seen);
    size_t n = deal(o, 0, 11, 0, ids, (size_t)n_rows);
    int dup = 0, leak = 0, in_order = 1;
    for (size_t i = 0; i < n; i++) {
        dup += seen[ids[i]]++;
        leak += dnn_stream_is_validation(7, val, (uint64_t)ids[i]);
        in_order &= i == 0 || ids[i] > ids[i - 1];
    }
    CHECK_MSG(n == o->b.n_train && dup == 0 && leak == 0, "%s: %zu rows of %llu, %d twice, %d validation",
              what, n, (unsigned long long)o->b.n_train, dup, leak);
    CHECK_MSG(!in_order, "%s: the epoch is not shuffled", what);
    size_t nv = deal(o, 1, 0, 0, ids, (size_t)n_rows);
    int wrong = 0;
    for (size_t i = 0; i < nv; i++)
        wrong += !dnn_stream_is_validation(7, val, (uint64_t)ids[i]) || (i && ids[i] <= ids[i - 1]);
    CHECK_MSG(nv == o->b.n_val && nv + n == (size_t)n_rows && wrong == 0, "%s: %zu validation rows, %d wrong",
              what, nv, wrong);
    free(ids);
    free(seen);
}

static void test_csv_epochs(void)
{
    enum { N = 5000 };
    char *t = make_csv(N, 0, 1);
    write_text("all.csv", t, strlen(t), 0);
    write_text("all.csv.gz", t, strlen(t), 1);
    /* the same rows in three parts, one of them gzip: a header each */
    char *a = make_csv(2000, 0, 1), *b = make_csv(1000, 2000, 1), *c = make_csv(2000, 3000, 1);
    write_text("p1.csv", a, strlen(a), 0);
    write_text("p2.csv.gz", b, strlen(b), 1);
    write_text("p3.csv", c, strlen(c), 0);
    const char *names[] = {"all.csv", "all.csv.gz", NULL};
    for (int f = 0; f < 3; f++) {
        dnn_source_config src = {.format = DNN_FORMAT_CSV, .header = -1};
        char *list[] = {(char *)path_of("p*.csv*")};
        if (names[f])
            src.path = (char *)path_of(names[f]);
        else
            src.path = list[0], src.paths = list, src.n_paths = 1;
        opened o;
        dnn_error err;
        dnn_status st = open_stream(&o, &src, 0.2, 100, 0, 1, &err);
        CHECK_MSG(st == DNN_OK, "%s", err.msg);
        if (!st) {
            uint64_t rows, train, val;
            size_t chunks;
            dnn_stream_counts(o.s, &rows, &train, &val, &chunks);
            CHECK(rows == N && train + val == N && o.s);
            /* plain files are cut in chunks; a gzip part is read whole */
            CHECK_MSG(f == 1   ? chunks == 1
                      : f == 0 ? chunks == (N + 1023) / 1024
                               : chunks == 2 + 1 + 2,
                      "%s: %zu chunks", names[f] ? names[f] : "parts", chunks);
            const dnn_dataset *in = dnn_stream_info(o.s);
            CHECK(in->d_num == 2 && in->n_cat == 1 && in->d == 2 + 4 && in->n_classes == 2);
            CHECK(in->feature_names && strcmp(in->feature_names[3], "colour=green") == 0);
            check_epoch(&o, N, 0.2, names[f] ? names[f] : "parts");
        }
        close_stream(&o);
    }
    /* validation rows past a quarter of the budget are spilled to a file in the scratch folder, and read
     * back the same */
    budget = 64 << 10;
    dnn_source_config src = {.format = DNN_FORMAT_CSV, .header = -1, .path = (char *)path_of("all.csv")};
    opened o;
    dnn_error err;
    dnn_status st = open_stream(&o, &src, 0.2, 100, 0, 1, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    char spill[300];
    snprintf(spill, sizeof spill, "%s/.validation.tmp.%ld", dir, (long)getpid());
    if (!st) {
        CHECK(access(spill, F_OK) == 0);
        check_epoch(&o, N, 0.2, "spilled validation rows");
    }
    close_stream(&o);
    CHECK(access(spill, F_OK) != 0);
    budget = 0;
    free(t);
    free(a);
    free(b);
    free(c);
}

/* The same seed deals the same order; another epoch's generator another; a resumed epoch the same rest. */
static void test_determinism(void)
{
    enum { N = 3000 };
    dnn_source_config src = csv_file("d.csv", N);
    opened o1, o2;
    dnn_error err;
    CHECK(open_stream(&o1, &src, 0.1, 500, 0, 1, &err) == DNN_OK);
    CHECK(open_stream(&o2, &src, 0.1, 500, 0, 1, &err) == DNN_OK);
    int *a = malloc(N * sizeof(int)), *b = malloc(N * sizeof(int)), *c = malloc(N * sizeof(int));
    size_t na = deal(&o1, 0, 21, 0, a, N), nb = deal(&o2, 0, 21, 0, b, N), nc = deal(&o1, 0, 22, 0, c, N);
    CHECK(na == nb && memcmp(a, b, na * sizeof(int)) == 0);
    CHECK(nc == na && memcmp(a, c, na * sizeof(int)) != 0);
    /* resumed after 10 batches of 64: the rest of the epoch is the same rows in the same order */
    size_t nr = deal(&o2, 0, 21, 10, b, N);
    CHECK_MSG(nr == na - 640 && memcmp(a + 640, b, nr * sizeof(int)) == 0, "resumed: %zu rows", nr);
    close_stream(&o1);
    close_stream(&o2);
    free(a);
    free(b);
    free(c);
}

/* Batches read ahead by a thread are the stream's own, in its order: whole epochs, an epoch left part way
 * (what was read ahead is dropped), validation between batches, and a resumed epoch. */
static void test_prefetch(void)
{
    enum { N = 5000 };
    dnn_source_config src = csv_file("p.csv", N);
    opened plain, ahead;
    dnn_error err;
    dnn_prefetch *p;
    CHECK(open_stream(&plain, &src, 0.1, 300, 0, 1, &err) == DNN_OK);
    CHECK(open_stream(&ahead, &src, 0.1, 300, 0, 1, &err) == DNN_OK);
    CHECK(dnn_batches_prefetch(&ahead.b, &p, 64, 1, &err) == DNN_OK);
    int *a = malloc(N * sizeof(int)), *b = malloc(N * sizeof(int));
    for (uint64_t seed = 3; seed < 5; seed++) {
        size_t na = deal(&plain, 0, seed, 0, a, N), nb = deal(&ahead, 0, seed, 0, b, N);
        CHECK_MSG(na == plain.b.n_train && nb == na && memcmp(a, b, na * sizeof(int)) == 0,
                  "seed %llu: %zu rows read ahead, %zu not", (unsigned long long)seed, nb, na);
        /* five batches, then validation, then the sixth: as without reading ahead */
        dnn_rng r;
        dnn_rng_seed(&r, seed, DNN_STREAM_SHUFFLE);
        CHECK(ahead.b.epoch(&ahead.b, &r, 1, 0, &err) == DNN_OK);
        dnn_batch_rows br;
        for (int k = 0; k < 5; k++)
            CHECK(ahead.b.next(&ahead.b, &ahead.nm, ahead.x, ahead.y, NULL, &br, &err) == 0);
        size_t nv = deal(&ahead, 1, 0, 0, b, N), nv_plain = deal(&plain, 1, 0, 0, a, N);
        CHECK(nv == nv_plain && nv == plain.b.n_val && memcmp(a, b, nv * sizeof(int)) == 0);
        CHECK(ahead.b.next(&ahead.b, &ahead.nm, ahead.x, ahead.y, NULL, &br, &err) == DNN_OK &&
              br.rows == 64);
        na = deal(&plain, 0, seed, 0, a, N);
        CHECK((int)ahead.x[0] == a[5 * 64] && (int)ahead.x[63 * ahead.b.d] == a[6 * 64 - 1]);
        /* resumed after 7 batches, having left the last epoch part way */
        nb = deal(&ahead, 0, seed, 7, b, N);
        CHECK(nb == na - 7 * 64 && memcmp(a + 7 * 64, b, nb * sizeof(int)) == 0);
    }
    dnn_prefetch_free(p);
    close_stream(&plain);
    close_stream(&ahead);
    free(a);
    free(b);
}

/* Parts of n rows over p processes: in order, covering [0, n), the first n % p one row longer. */
static void test_parts(void)
{
    for (size_t n = 0; n < 40; n++)
        for (int p = 1; p <= 5; p++) {
            size_t at = 0;
            for (int r = 0; r < p; r++) {
                size_t lo, hi;
                dnn_batch_part(n, r, p, &lo, &hi);
                CHECK_MSG(lo == at && hi - lo == n / (size_t)p + ((size_t)r < n % (size_t)p),
                          "n %zu, process %d of %d: [%zu, %zu)", n, r, p, lo, hi);
                at = hi;
            }
            CHECK(at == n);
        }
}

/* Two and three processes: each deals its own chunks and its part of every batch of 64 (32 each; 22, 21,
 * 21), the same number of batches, together every row at most once. */
static void test_shards(void)
{
    enum { N = 9000 };
    dnn_source_config src = csv_file("s.csv", N);
    static const size_t local[2][3] = {{32, 32, 0}, {22, 21, 21}};
    for (int R = 2; R <= 3; R++) {
        int *ids[3], *seen = calloc(N, sizeof(int)), *val = malloc(N * sizeof(int)), val_seen = 0;
        uint64_t n_val = 0;
        size_t n[3];
        for (int r = 0; r < R; r++) {
            opened o;
            dnn_error err;
            CHECK(open_stream(&o, &src, 0.1, 200, r, R, &err) == DNN_OK);
            ids[r] = malloc(N * sizeof(int));
            n[r] = deal(&o, 0, 5, 0, ids[r], N);
            CHECK_MSG(n[r] == o.b.n_train / 64 * local[R - 2][r], "%d processes, rank %d: %zu rows of %llu",
                      R, r, n[r], (unsigned long long)o.b.n_train);
            for (size_t i = 0; i < n[r]; i++) {
                CHECK(((size_t)ids[r][i] / 1024) % (size_t)R == (size_t)r); /* its own chunks */
                seen[ids[r][i]]++;
            }
            /* validation: each process its part, together every validation row once */
            size_t nv = deal(&o, 1, 0, 0, val, N);
            for (size_t i = 0; i < nv; i++) val_seen += seen[val[i]]++ == 0;
            n_val = o.b.n_val;
            close_stream(&o);
        }
        CHECK_MSG(n_val > 800 && (uint64_t)val_seen == n_val,
                  "%d processes: %d of %llu validation rows scored", R, val_seen, (unsigned long long)n_val);
        CHECK(n[0] / local[R - 2][0] == n[R - 1] / local[R - 2][R - 1] && n[0] > 3500 / (size_t)(R - 1));
        int twice = 0;
        for (int i = 0; i < N; i++) twice += seen[i] > 1;
        CHECK(twice == 0);
        for (int r = 0; r < R; r++) free(ids[r]);
        free(seen);
        free(val);
    }
}

/* Statistics of the training rows as in memory: means and scales exact, medians within their rank error. */
static void test_fit(void)
{
    enum { N = 4000 };
    size_t cap = N * 40, k = 0;
    char *t = malloc(cap);
    k += (size_t)snprintf(t + k, cap - k, "u,v,y\n");
    dnn_rng r;
    dnn_rng_seed(&r, 9, 9);
    for (int i = 0; i < N; i++) {
        double u = dnn_rng_normal(&r) * 5 + 2;
        if (i % 9 == 4)
            k += (size_t)snprintf(t + k, cap - k, "NA,%d,%c\n", i % 13, 'a' + i % 2);
        else
            k += (size_t)snprintf(t + k, cap - k, "%.5f,%d,%c\n", u, i % 13, 'a' + i % 2);
    }
    write_text("f.csv", t, k, 0);
    for (int policy = DNN_MISSING_MEAN; policy <= DNN_MISSING_ZERO; policy++) {
        dnn_source_config src = {.format = DNN_FORMAT_CSV,
                                 .header = -1,
                                 .path = (char *)path_of("f.csv"),
                                 .missing = (dnn_missing)policy};
        dnn_stream_opts so = {.seed = 1, .validation_split = 0.25, .missing = (dnn_missing)policy};
        dnn_stream *s;
        dnn_error err;
        CHECK(dnn_stream_open(&s, &src, DNN_TASK_CLASSIFICATION, &so, &err) == DNN_OK);
        dnn_dataset ds;
        CHECK(dnn_load_source(&ds, &src, DNN_TASK_CLASSIFICATION, NULL, &err) == DNN_OK);
        /* the same training rows in memory */
        uint32_t *rows = malloc(N * sizeof *rows);
        size_t n = 0;
        for (size_t i = 0; i < ds.n; i++)
            if (!dnn_stream_is_validation(1, 0.25, ds.index[i])) rows[n++] = (uint32_t)i;
        for (int kind = DNN_NORM_SCALE; kind <= DNN_NORM_STANDARDIZE; kind++) {
            dnn_impute im, im2;
            dnn_norm nm, nm2;
            CHECK(dnn_stream_fit(s, (dnn_missing)policy, (dnn_norm_kind)kind, &im, &nm, &err) == DNN_OK);
            dnn_dataset copy = ds;
            float *x = malloc(ds.n * ds.d_num * sizeof(float));
            memcpy(x, ds.x32, ds.n * ds.d_num * sizeof(float));
            CHECK(dnn_impute_fit(&im2, (dnn_missing)policy, &ds, rows, n, &err) == DNN_OK);
            copy.x32 = x;
            dnn_impute_apply(&im2, &copy);
            CHECK(dnn_norm_fit(&nm2, (dnn_norm_kind)kind, &copy, rows, n, &err) == DNN_OK);
            double tol = policy == DNN_MISSING_MEDIAN ? 0.05 : 1e-4; /* a median within 0.1% in rank */
            CHECK_NEAR(im.fill[0], im2.fill[0], tol);
            for (int j = 0; j < 2; j++) {
                CHECK_NEAR(nm.shift[j], nm2.shift[j], tol * 2);
                CHECK_NEAR(nm.mul[j], nm2.mul[j],
                           1e-3 * nm2.mul[j] + (policy == DNN_MISSING_MEDIAN ? 1e-3 : 0));
            }
            free(x);
            dnn_impute_free(&im);
            dnn_impute_free(&im2);
            dnn_norm_free(&nm);
            dnn_norm_free(&nm2);
        }
        free(rows);
        dnn_dataset_free(&ds);
        dnn_stream_close(s);
    }
    free(t);
}

/* IDX items stream in order as they load in memory, from plain and gzip files. */
static void test_idx(void)
{
    enum { N = 2500, D = 6 };
    unsigned char *img = malloc(16 + N * D), *lab = malloc(8 + N);
    const unsigned char ih[] = {0, 0, 8, 3, 0, 0, N >> 8, N & 255, 0, 0, 0, 2, 0, 0, 0, 3};
    const unsigned char lh[] = {0, 0, 8, 1, 0, 0, N >> 8, N & 255};
    memcpy(img, ih, 16);
    memcpy(lab, lh, 8);
    for (int i = 0; i < N * D; i++) img[16 + i] = (unsigned char)((i * 37) % 251);
    for (int i = 0; i < N; i++) lab[8 + i] = (unsigned char)(i % 4);
    for (int gz = 0; gz < 2; gz++) {
        write_text(gz ? "s-images-idx3-ubyte.gz" : "s-images-idx3-ubyte", (char *)img, 16 + N * D, gz);
        write_text(gz ? "s-labels-idx1-ubyte.gz" : "s-labels-idx1-ubyte", (char *)lab, 8 + N, gz);
        dnn_source_config src = {.format = DNN_FORMAT_IDX,
                                 .images =
                                     (char *)path_of(gz ? "s-images-idx3-ubyte.gz" : "s-images-idx3-ubyte")};
        opened o;
        dnn_error err;
        dnn_status st = open_stream(&o, &src, 0, 100, 0, 1, &err);
        CHECK_MSG(st == DNN_OK, "%s", err.msg);
        if (st) continue;
        size_t chunks;
        dnn_stream_counts(o.s, NULL, NULL, NULL, &chunks);
        CHECK(chunks == (gz ? 1 : (N + 1023) / 1024));
        dnn_rng r;
        dnn_rng_seed(&r, 1, 1);
        o.b.epoch(&o.b, &r, 0, 0, &err); /* unshuffled: in file order */
        size_t rows, at = 0, bad = 0;
        dnn_batch_rows br;
        while (o.b.next(&o.b, &o.nm, o.x, o.y, NULL, &br, &err) == DNN_OK && (rows = br.rows)) {
            for (size_t i = 0; i < rows; i++, at++) {
                for (int j = 0; j < D; j++) bad += o.x[i * D + j] != img[16 + at * D + j];
                bad += o.y[i] != (int)(at % 4);
            }
        }
        CHECK_MSG(at == N && bad == 0, "%s: %zu items, %zu wrong", gz ? "gzip" : "plain", at, bad);
        CHECK(dnn_stream_max_label(o.s, NULL, 0) == 3);
        close_stream(&o);
    }
    free(img);
    free(lab);
}

/* A corrupt gzip part of a list is an error naming that part. */
static void test_corrupt_part(void)
{
    char *a = make_csv(3000, 0, 1), *b = make_csv(3000, 3000, 1);
    write_text("ok.csv.gz", a, strlen(a), 1);
    write_text("bad.csv.gz", b, strlen(b), 1);
    FILE *f = fopen(path_of("bad.csv.gz"), "r+b");
    fseek(f, 400, SEEK_SET);
    fputs("\xff\x00\xff\x00garbage", f);
    fclose(f);
    char *list[] = {(char *)path_of("ok.csv.gz"), (char *)path_of("bad.csv.gz")};
    dnn_source_config src = {.format = DNN_FORMAT_CSV,
                             .header = -1,
                             .path = list[0],
                             .paths = list,
                             .n_paths = 2,
                             .categorical_auto = 1};
    dnn_stream_opts so = {.seed = 1};
    dnn_stream *s;
    dnn_error err;
    CHECK_ERR(dnn_stream_open(&s, &src, DNN_TASK_CLASSIFICATION, &so, &err), err, DNN_EDATA, "bad.csv.gz",
              "corrupt gzip data");
    dnn_dataset ds;
    CHECK_ERR(dnn_load_source(&ds, &src, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EDATA, "bad.csv.gz",
              "corrupt gzip data");
    free(a);
    free(b);
}

/* The cache: written by a first pass, then read instead of the text (the same rows, dealt the same way);
 * rebuilt when the source changes; a damaged one refused. */
static void test_cache(void)
{
    enum { N = 4000 };
    dnn_source_config src = csv_file("c.csv", N);
    int *a = malloc(N * sizeof(int)), *b = malloc(N * sizeof(int));
    size_t na = 0;
    for (int run = 0; run < 4; run++) {
        if (run == 2) { /* the source changes: same size, another time */
            sleep(1);
            src = csv_file("c.csv", N);
        }
        opened o;
        dnn_error err;
        memset(&o, 0, sizeof o);
        src.categorical_auto = 1;
        dnn_stream_opts so = {
            .seed = 7, .validation_split = 0.2, .shuffle_buffer = 300, .cache = path_of("c.cache")};
        dnn_status st = dnn_stream_open(&o.s, &src, DNN_TASK_CLASSIFICATION, &so, &err);
        CHECK_MSG(st == DNN_OK, "%s", err.msg);
        if (st) break;
        CHECK_MSG(dnn_stream_cache_use(o.s) == (run == 0 || run == 2 ? 1 : 2), "run %d: cache use %d", run,
                  dnn_stream_cache_use(o.s));
        st = dnn_stream_fit(o.s, DNN_MISSING_ERROR, DNN_NORM_NONE, &o.im, &o.nm, &err);
        if (!st) st = dnn_stream_start(o.s, dnn_stream_info(o.s)->enc, &o.im, 64, &o.b, &err);
        o.x = malloc(64 * o.b.d * sizeof(float));
        o.y = malloc(64 * sizeof(int32_t));
        size_t n = deal(&o, 0, 3, 0, run ? b : a, N);
        if (run == 0) na = n;
        CHECK(n == na && (run == 0 || memcmp(a, b, n * sizeof(int)) == 0));
        close_stream(&o);
    }
    /* a flipped byte in the rows: the first pass over the cache finds it */
    FILE *f = fopen(path_of("c.cache"), "r+b");
    fseek(f, 5000, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 5000, SEEK_SET);
    fputc(ch ^ 0x10, f);
    fclose(f);
    dnn_stream *s;
    dnn_error err;
    dnn_stream_opts so = {.seed = 7, .cache = path_of("c.cache")};
    CHECK_ERR(dnn_stream_open(&s, &src, DNN_TASK_CLASSIFICATION, &so, &err), err, DNN_EDATA, "c.cache",
              "damaged", "remove it");
    free(a);
    free(b);
}

int main(void)
{
    dir = check_tmpdir("test_stream");
    test_welford();
    test_quantiles();
    test_split();
    test_csv_epochs();
    test_determinism();
    test_prefetch();
    test_parts();
    test_shards();
    test_fit();
    test_idx();
    test_corrupt_part();
    test_cache();
    check_rmdir();
    return check_done("test_stream");
}
