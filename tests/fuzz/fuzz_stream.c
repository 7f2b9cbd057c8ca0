/* libFuzzer target: streaming and the readers it adds. The first byte picks the options: bit 0 wraps the
 * input in gzip; bits 1-2 the delimiter; bit 3 categorical "auto"; bit 4 missing "mean" (else "drop");
 * bit 5 a regression; bit 6 a cache, written then read back; bit 7 a validation split. The rest is a CSV
 * file, streamed (first pass, one shuffled epoch, validation) and loaded in memory; the same bytes are also
 * decoded as a cache file. */
#include <zlib.h>

#include "dnn/cache.h"
#include "dnn/data.h"
#include "dnn/stream.h"
#include "fuzz_util.h"

static void one_epoch(dnn_stream *s, dnn_error *err)
{
    dnn_impute im;
    dnn_norm nm;
    dnn_batches b;
    if (dnn_stream_fit(s, DNN_MISSING_MEAN, DNN_NORM_STANDARDIZE, &im, &nm, err)) return;
    if (!dnn_stream_start(s, dnn_stream_info(s)->enc, &im, 8, &b, err)) {
        float *x = malloc(8 * b.d * sizeof(float) + 1), t[8 * 4];
        int32_t y[8];
        dnn_rng r;
        dnn_rng_seed(&r, 1, 2);
        dnn_batch_rows br;
        size_t rows;
        if (!b.epoch(&b, &r, 1, 1, err))
            while (!b.next(&b, &nm, x, y, t, &br, err) && br.total) continue;
        if (!b.val_begin(&b, err))
            while (!b.val_next(&b, &nm, x, y, t, &rows, err) && rows) continue;
        free(x);
    }
    dnn_impute_free(&im);
    dnn_norm_free(&nm);
}

/* The bytes as a cache file, with the key its header claims. */
static void as_cache(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("cache", data, size);
    uint64_t key = 0;
    if (size >= 24) memcpy(&key, data + 16, 8);
    dnn_cache *c;
    dnn_error err;
    int usable;
    if (!dnn_cache_open(&c, path, key, &usable, &err) && usable) {
        const dnn_cache_shape *sh = dnn_cache_shape_of(c);
        size_t rb = dnn_cache_row_bytes(sh);
        unsigned char *row = malloc(rb);
        for (uint64_t i = 0; row && i < dnn_cache_rows(c) && i < 1000; i++) {
            dnn_cache_row r;
            if (dnn_cache_read(c, i, 1, row, &err)) break;
            dnn_cache_row_at(sh, row, &r);
            dnn_cache_crc_add(c, row, 1);
        }
        dnn_cache_crc_check(c, &err);
        free(row);
        dnn_cache_close(c);
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t o = data[0];
    data++, size--;
    const char *path;
    static char gz[128], cache[160];
    if (o & 1) {
        snprintf(gz, sizeof gz, "/dev/shm/dnn-fuzz-streamgz-%ld", (long)getpid());
        gzFile f = gzopen(gz, "wb1");
        if (!f) abort();
        if (size) gzwrite(f, data, (unsigned)size);
        gzclose(f);
        path = gz;
    } else {
        path = fuzz_file("stream", data, size);
    }
    static const char delims[] = {0, ',', ';', '\t'};
    dnn_source_config src = {.format = DNN_FORMAT_CSV, .path = (char *)path, .header = -1};
    src.delimiter = delims[(o >> 1) & 3];
    src.categorical_auto = (o >> 3) & 1;
    src.missing = (o & 0x10) ? DNN_MISSING_MEAN : DNN_MISSING_DROP;
    src.max_categories = 3;
    const dnn_task task = (o & 0x20) ? DNN_TASK_REGRESSION : DNN_TASK_CLASSIFICATION;
    snprintf(cache, sizeof cache, "/dev/shm/dnn-fuzz-streamcache-%ld", (long)getpid());
    dnn_stream_opts so = {.seed = 3,
                          .validation_split = (o & 0x80) ? 0.3 : 0,
                          .shuffle_buffer = 16,
                          .missing = src.missing,
                          .max_memory = 64u << 20,
                          .cache = (o & 0x40) ? cache : NULL};
    dnn_error err;
    for (int pass = 0; pass < ((o & 0x40) ? 2 : 1); pass++) { /* with a cache: written, then read */
        dnn_stream *s;
        if (dnn_stream_open(&s, &src, task, &so, &err) == DNN_OK) {
            one_epoch(s, &err);
            dnn_stream_close(s);
        }
    }
    unlink(cache);
    dnn_dataset ds;
    src.max_memory = 64u << 20;
    if (dnn_load_source(&ds, &src, task, NULL, &err) == DNN_OK) dnn_dataset_free(&ds);
    unlink(path);
    as_cache(data, size);
    return 0;
}
