/* IDX reader tests: valid files of several types, plain and gzip, and every malformed case. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "dnn/data.h"
#include "dnn/idx.h"

static const char *dir;

static char *path(const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* An IDX header for type and dims, followed by body bytes. */
static size_t idx_bytes(uint8_t *out, int type, int ndim, const uint32_t *dims, const void *body,
                        size_t body_len)
{
    out[0] = 0, out[1] = 0, out[2] = (uint8_t)type, out[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) put_be32(out + 4 + 4 * i, dims[i]);
    memcpy(out + 4 + 4 * ndim, body, body_len);
    return 4 + 4 * (size_t)ndim + body_len;
}

static void write_plain(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void write_gz(const char *p, const void *data, size_t n)
{
    gzFile f = gzopen(p, "wb");
    gzwrite(f, data, (unsigned)n);
    gzclose(f);
}

static dnn_status read_idx(const char *p, dnn_idx *idx, dnn_error *err)
{
    memset(err, 0, sizeof *err);
    return dnn_idx_read(p, 0, idx, err);
}

static uint8_t buf[1 << 16];

static void test_valid(void)
{
    uint8_t body[30];
    for (int i = 0; i < 30; i++) body[i] = (uint8_t)(i * 7);
    uint32_t dims[] = {5, 2, 3};
    size_t n = idx_bytes(buf, DNN_IDX_U8, 3, dims, body, 30);
    write_plain(path("u8-images-idx3-ubyte"), buf, n);
    write_gz(path("u8-images-idx3-ubyte.gz"), buf, n);
    const char *files[] = {path("u8-images-idx3-ubyte"), path("u8-images-idx3-ubyte.gz")};
    for (int f = 0; f < 2; f++) {
        dnn_idx idx;
        dnn_error err;
        dnn_status st = read_idx(files[f], &idx, &err);
        CHECK_MSG(st == DNN_OK, "%s", err.msg);
        if (st) continue;
        CHECK(idx.count == 5 && idx.item == 6 && idx.ndim == 3 && idx.u8 && !idx.f32);
        CHECK(idx.gzip == f);
        CHECK(memcmp(idx.u8, body, 30) == 0);
        dnn_idx_free(&idx);
    }
    /* other element types are converted to float, big-endian as the format says */
    uint8_t b16[] = {0xff, 0xfe, 0x01, 0x00}; /* -2, 256 */
    uint32_t d2[] = {2};
    write_plain(path("i16"), buf, idx_bytes(buf, DNN_IDX_I16, 1, d2, b16, 4));
    dnn_idx idx;
    dnn_error err;
    CHECK(read_idx(path("i16"), &idx, &err) == DNN_OK && idx.f32 && idx.f32[0] == -2 && idx.f32[1] == 256);
    dnn_idx_free(&idx);
    uint8_t b8[] = {0xfe, 0x7f}; /* -2, 127 */
    write_plain(path("i8"), buf, idx_bytes(buf, DNN_IDX_I8, 1, d2, b8, 2));
    CHECK(read_idx(path("i8"), &idx, &err) == DNN_OK && idx.f32 && idx.f32[0] == -2 && idx.f32[1] == 127);
    dnn_idx_free(&idx);
    uint8_t bf[] = {0x3f, 0xc0, 0, 0, 0xc1, 0x20, 0, 0}; /* 1.5, -10 */
    write_plain(path("f32"), buf, idx_bytes(buf, DNN_IDX_F32, 1, d2, bf, 8));
    CHECK(read_idx(path("f32"), &idx, &err) == DNN_OK && idx.f32 && idx.f32[0] == 1.5f &&
          idx.f32[1] == -10.0f);
    dnn_idx_free(&idx);
    uint8_t bd[] = {0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18}; /* pi */
    uint32_t d1[] = {1};
    write_plain(path("f64"), buf, idx_bytes(buf, DNN_IDX_F64, 1, d1, bd, 8));
    CHECK(read_idx(path("f64"), &idx, &err) == DNN_OK && idx.f32 && fabsf(idx.f32[0] - 3.14159265f) < 1e-6f);
    dnn_idx_free(&idx);
    uint8_t bi[] = {0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07};
    write_plain(path("i32"), buf, idx_bytes(buf, DNN_IDX_I32, 1, d2, bi, 8));
    CHECK(read_idx(path("i32"), &idx, &err) == DNN_OK && idx.f32 && idx.f32[0] == -2147483647.0f &&
          idx.f32[1] == 7);
    dnn_idx_free(&idx);
    uint8_t bnan[] = {0x7f, 0xc0, 0, 0};
    write_plain(path("nan"), buf, idx_bytes(buf, DNN_IDX_F32, 1, d1, bnan, 4));
    CHECK_ERR(read_idx(path("nan"), &idx, &err), err, DNN_EDATA, "nan", "not a finite number");
}

static void test_malformed(void)
{
    dnn_idx idx;
    dnn_error err;
    uint8_t body[64] = {0};
    uint32_t dims[] = {4, 4, 4};
    size_t n = idx_bytes(buf, DNN_IDX_U8, 3, dims, body, 64);

    buf[0] = 0x1f;
    buf[1] = 0x00;
    write_plain(path("magic"), buf, n);
    CHECK_ERR(read_idx(path("magic"), &idx, &err), err, DNN_EDATA, path("magic"), "byte 0", "bad magic");
    buf[0] = 0;

    buf[2] = 0x07;
    write_plain(path("type"), buf, n);
    CHECK_ERR(read_idx(path("type"), &idx, &err), err, DNN_EDATA, "byte 2", "unknown element type 0x07");
    buf[2] = DNN_IDX_U8;

    buf[3] = 0;
    write_plain(path("nodims"), buf, n);
    CHECK_ERR(read_idx(path("nodims"), &idx, &err), err, DNN_EDATA, "byte 3", "zero dimensions");
    buf[3] = 3;

    write_plain(path("short-magic"), buf, 3);
    CHECK_ERR(read_idx(path("short-magic"), &idx, &err), err, DNN_EDATA, "truncated header");
    write_plain(path("short-header"), buf, 9);
    CHECK_ERR(read_idx(path("short-header"), &idx, &err), err, DNN_EDATA, "truncated header",
              "need 16 bytes");
    write_plain(path("empty"), buf, 0);
    CHECK_ERR(read_idx(path("empty"), &idx, &err), err, DNN_EDATA, "truncated header");

    write_plain(path("short-body"), buf, n - 10);
    CHECK_ERR(read_idx(path("short-body"), &idx, &err), err, DNN_EDATA, "truncated", "claims 4 items",
              "54 bytes");
    write_plain(path("long-body"), buf, n + 3);
    CHECK_ERR(read_idx(path("long-body"), &idx, &err), err, DNN_EDATA, "byte 80",
              "3 bytes of unexpected data");
    write_plain(path("one-more-byte"), buf, n + 1);
    CHECK_ERR(read_idx(path("one-more-byte"), &idx, &err), err, DNN_EDATA, "byte 80",
              "1 bytes of unexpected data");

    uint32_t huge[] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    write_plain(path("overflow"), buf, idx_bytes(buf, DNN_IDX_U8, 3, huge, body, 64));
    CHECK_ERR(read_idx(path("overflow"), &idx, &err), err, DNN_EDATA, "overflow");

    /* A header claiming 4 GB in a small file: refused before any allocation. Under a 512 MB address-space
     * limit an attempt to allocate would fail with a different (out of memory) message. */
    uint32_t big[] = {1000000, 64, 64};
    n = idx_bytes(buf, DNN_IDX_U8, 3, big, body, 64);
    write_plain(path("claims-4gb"), buf, n);
    write_gz(path("claims-4gb.gz"), buf, n);
    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    lim = old;
    lim.rlim_cur = 512ull << 20;
#ifndef __SANITIZE_ADDRESS__
    /* (AddressSanitizer needs its address space: there, its own refusal of a 4 GB malloc plays this part) */
    setrlimit(RLIMIT_AS, &lim);
#endif
    CHECK_ERR(read_idx(path("claims-4gb"), &idx, &err), err, DNN_EDATA, "claims 1000000 items",
              "4096000000 bytes");
    CHECK_ERR(read_idx(path("claims-4gb.gz"), &idx, &err), err, DNN_EDATA, "more than",
              "compressed bytes can hold");
    setrlimit(RLIMIT_AS, &old);

    /* gzip: a claim larger than the stream, a truncated stream, corrupted data */
    uint8_t many[4096];
    for (int i = 0; i < 4096; i++) many[i] = (uint8_t)(i * 31 + i / 7);
    uint32_t d64[] = {64, 8, 8};
    n = idx_bytes(buf, DNN_IDX_U8, 3, d64, many, 4096);
    write_gz(path("good.gz"), buf, n);
    uint32_t d65[] = {65, 8, 8};
    write_gz(path("claims-more.gz"), buf, idx_bytes(buf, DNN_IDX_U8, 3, d65, many, 4096));
    CHECK_ERR(read_idx(path("claims-more.gz"), &idx, &err), err, DNN_EDATA, "truncated", "64 whole items");

    FILE *f = fopen(path("good.gz"), "rb");
    size_t gz_len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_plain(path("cut.gz"), buf, gz_len / 2);
    CHECK_ERR(read_idx(path("cut.gz"), &idx, &err), err, DNN_EDATA, "truncated");
    write_plain(path("cut-trailer.gz"), buf, gz_len - 4);
    CHECK_ERR(read_idx(path("cut-trailer.gz"), &idx, &err), err, DNN_EDATA, "truncated gzip stream");
    uint8_t flipped[sizeof buf];
    memcpy(flipped, buf, gz_len);
    for (size_t i = 20; i < gz_len - 8; i += 13) flipped[i] ^= 0x5a;
    write_plain(path("corrupt.gz"), flipped, gz_len);
    CHECK_ERR(read_idx(path("corrupt.gz"), &idx, &err), err, DNN_EDATA, "corrupt.gz", "gzip");
    memcpy(flipped, buf, gz_len);
    flipped[gz_len - 6] ^= 1; /* the CRC in the trailer */
    write_plain(path("badcrc.gz"), flipped, gz_len);
    CHECK_ERR(read_idx(path("badcrc.gz"), &idx, &err), err, DNN_EDATA, "corrupt gzip data",
              "incorrect data check");

    CHECK_ERR(read_idx(path("does-not-exist"), &idx, &err), err, DNN_EIO, "does-not-exist", "cannot open");
    CHECK_ERR(read_idx(dir, &idx, &err), err, DNN_EIO, "not a regular file");
}

static void test_dataset(void)
{
    uint8_t body[12];
    for (int i = 0; i < 12; i++) body[i] = (uint8_t)(i * 20);
    uint32_t dims[] = {3, 2, 2};
    write_plain(path("set-images-idx3-ubyte"), buf, idx_bytes(buf, DNN_IDX_U8, 3, dims, body, 12));
    uint8_t labels[] = {2, 0, 1};
    uint32_t ld[] = {3};
    write_gz(path("set-labels-idx1-ubyte.gz"), buf, idx_bytes(buf, DNN_IDX_U8, 1, ld, labels, 3));
    write_plain(path("set-labels-idx1-ubyte"), buf, idx_bytes(buf, DNN_IDX_U8, 1, ld, labels, 3));

    char *paired = dnn_idx_labels_path("/a/b/train-images-idx3-ubyte.gz");
    CHECK(paired && strcmp(paired, "/a/b/train-labels-idx1-ubyte.gz") == 0);
    free(paired);
    CHECK(dnn_idx_labels_path("/images/data.idx") == NULL);

    dnn_source_config src = {.format = DNN_FORMAT_IDX, .images = path("set-images-idx3-ubyte")};
    dnn_dataset ds;
    dnn_error err = {0};
    dnn_status st = dnn_load_source(&ds, &src, DNN_TASK_CLASSIFICATION, NULL, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (!st) {
        CHECK(ds.n == 3 && ds.d == 4 && ds.dtype == DNN_U8 && ds.y[0] == 2 && ds.y[2] == 1);
        CHECK(dnn_check_labels(&ds, 3, &err) == DNN_OK);
        CHECK_ERR(dnn_check_labels(&ds, 2, &err), err, DNN_EDATA, "set-labels-idx1-ubyte", "byte 8",
                  "label 2", "out of range", "2 classes");
        /* scale maps u8 to [0, 1]; gather converts rows in the order asked */
        dnn_norm nm;
        CHECK(dnn_norm_fit(&nm, DNN_NORM_SCALE, &ds, NULL, 0, &err) == DNN_OK);
        float x[8];
        int32_t y[2];
        uint32_t rows[] = {2, 0};
        dnn_gather(&ds, &nm, rows, 2, x, y, NULL);
        CHECK_NEAR(x[0], 160 / 255.0, 1e-6);
        CHECK_NEAR(x[4], 0, 0);
        CHECK(y[0] == 1 && y[1] == 2);
        dnn_norm_free(&nm);
        /* standardize: mean 0 and unit variance per feature over the chosen rows */
        CHECK(dnn_norm_fit(&nm, DNN_NORM_STANDARDIZE, &ds, NULL, 0, &err) == DNN_OK);
        uint32_t all[] = {0, 1, 2};
        float z[12];
        dnn_gather(&ds, &nm, all, 3, z, NULL, NULL);
        CHECK_NEAR(z[0] + z[4] + z[8], 0, 1e-5);
        CHECK_NEAR(z[0] * z[0] + z[4] * z[4] + z[8] * z[8], 3, 1e-4);
        dnn_norm_free(&nm);
        dnn_dataset_free(&ds);
    }
    /* the count must match */
    uint32_t ld2[] = {2};
    write_plain(path("two-labels"), buf, idx_bytes(buf, DNN_IDX_U8, 1, ld2, labels, 2));
    src.labels = path("two-labels");
    CHECK_ERR(dnn_load_source(&ds, &src, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EDATA, "two-labels",
              "2 labels for the 3 images");
    /* labels must be integers, one per item */
    uint32_t ld3[] = {3, 2};
    write_plain(path("wide-labels"), buf, idx_bytes(buf, DNN_IDX_U8, 2, ld3, body, 6));
    src.labels = path("wide-labels");
    CHECK_ERR(dnn_load_source(&ds, &src, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EDATA,
              "one integer class label");
    /* no pairing by name, no labels given */
    write_plain(path("odd-name"), buf, idx_bytes(buf, DNN_IDX_U8, 3, dims, body, 12));
    dnn_source_config odd = {.format = DNN_FORMAT_IDX, .images = path("odd-name")};
    CHECK_ERR(dnn_load_source(&ds, &odd, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_ECONFIG, "odd-name",
              "labels");
    /* no data */
    uint32_t d0[] = {0, 2, 2};
    write_plain(path("none-images-idx3-ubyte"), buf, idx_bytes(buf, DNN_IDX_U8, 3, d0, body, 0));
    dnn_source_config none = {.format = DNN_FORMAT_IDX, .images = path("none-images-idx3-ubyte")};
    CHECK_ERR(dnn_load_source(&ds, &none, DNN_TASK_CLASSIFICATION, NULL, &err), err, DNN_EDATA, "no data");
}

static void test_split(void)
{
    uint32_t *tr, *va, *tr2, *va2;
    size_t ntr, nva;
    dnn_error err;
    CHECK(dnn_split("c.json", 1000, 0.1, 7, &tr, &ntr, &va, &nva, &err) == DNN_OK);
    CHECK(ntr == 900 && nva == 100);
    /* disjoint, covering, sorted, and the same for the same seed */
    char seen[1000] = {0};
    for (size_t i = 0; i < ntr; i++) seen[tr[i]]++;
    for (size_t i = 0; i < nva; i++) seen[va[i]]++;
    int ok = 1;
    for (int i = 0; i < 1000; i++) ok &= seen[i] == 1;
    for (size_t i = 1; i < nva; i++) ok &= va[i - 1] < va[i];
    CHECK(ok);
    CHECK(dnn_split("c.json", 1000, 0.1, 7, &tr2, &ntr, &va2, &nva, &err) == DNN_OK &&
          memcmp(va, va2, 100 * 4) == 0);
    free(tr2);
    free(va2);
    CHECK(dnn_split("c.json", 1000, 0.1, 8, &tr2, &ntr, &va2, &nva, &err) == DNN_OK &&
          memcmp(va, va2, 100 * 4) != 0);
    free(tr), free(va), free(tr2), free(va2);
    CHECK_ERR(dnn_split("c.json", 1, 0.5, 7, &tr, &ntr, &va, &nva, &err), err, DNN_ECONFIG,
              "c.json: data.validation_split");
}

int main(void)
{
    dir = check_tmpdir("test_idx");
    test_valid();
    test_malformed();
    test_dataset();
    test_split();
    check_rmdir();
    return check_done("test_idx");
}
