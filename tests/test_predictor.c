/* The public API (include/dnn.h): predictions against a forward pass written out here in double, for models
 * with every layer kind, activation, missing-value fill and target scaling; loading from files and memory;
 * every bad buffer and argument refused with a message; 8 threads on one predictor at once (this file is
 * also built with ThreadSanitizer). */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "dnn.h"
#include "dnn/checkpoint.h"
#include "dnn/rng.h"
#include "dnn/util.h"

#define D 3

/* classification: mean-filled missing values, standardised inputs, 3 named classes */
static const char *CLASSIFIER =
    "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\", \"missing\": \"mean\"},"
    " \"normalize\": \"standardize\"},"
    " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 5, \"activation\": \"relu\"},"
    " {\"type\": \"dense\", \"units\": 4, \"activation\": \"leaky_relu\", \"negative_slope\": 0.1},"
    " {\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}]},"
    " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\"}, \"training\": {\"batch_size\": 7}}";
/* binary: one sigmoid unit after batchnorm, dropout and gelu; missing values refused */
static const char *BINARY =
    "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\"}, \"normalize\": \"none\"},"
    " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 6, \"activation\": \"gelu\"},"
    " {\"type\": \"batchnorm\"}, {\"type\": \"dropout\", \"rate\": 0.3},"
    " {\"type\": \"dense\", \"units\": 1, \"activation\": \"sigmoid\"}]},"
    " \"loss\": \"binary_cross_entropy\", \"optimizer\": {\"type\": \"adam\"}, \"training\": "
    "{\"batch_size\": 16}}";
/* regression: two standardised targets, median-filled inputs */
static const char *REGRESSION =
    "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\", \"missing\": \"median\"},"
    " \"normalize\": \"scale\"},"
    " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 8, \"activation\": \"tanh\"},"
    " {\"type\": \"dense\", \"units\": 2}]},"
    " \"loss\": \"mse\", \"optimizer\": {\"type\": \"adam\"}, \"training\": {\"batch_size\": 32}}";

static float *floats(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

/* A model of config json for inputs of shape in with random weights, state and preprocessing, as a
 * checkpoint. */
static uint8_t *make_shaped(const char *json, dnn_shape in, uint64_t seed, size_t *len, dnn_model *m)
{
    const int d = in.c * in.h * in.w;
    dnn_error err;
    dnn_config c;
    if (dnn_config_from_json(&c, cJSON_Parse(json), "t.json", NULL, NULL, 0, &err) ||
        dnn_model_create(m, &c, in, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    dnn_rng r;
    dnn_rng_seed(&r, seed, 1);
    dnn_net_init(m->net, DNN_INIT_XAVIER, &r);
    for (size_t i = 0; i < m->net->n_params; i++) m->net->params[i] += 0.1f * (float)dnn_rng_normal(&r);
    for (size_t i = 0; i < m->net->n_state; i++) m->net->state[i] = 0.5f + (float)dnn_rng_uniform(&r);
    m->norm.d = m->impute.d = d;
    m->norm.shift = floats((size_t)d), m->norm.mul = floats((size_t)d), m->impute.fill = floats((size_t)d);
    for (int j = 0; j < d; j++) {
        m->norm.shift[j] = (float)j - 1.0f;
        m->norm.mul[j] = 1.0f / (float)(j + 2);
        m->impute.fill[j] = 0.25f * (float)(j + 1);
    }
    if (m->cfg.task == DNN_TASK_REGRESSION) {
        m->norm.k = m->net->n_out;
        m->norm.tshift = floats(2), m->norm.tmul = floats(2);
        m->norm.tshift[0] = 100.0f, m->norm.tmul[0] = 0.01f;
        m->norm.tshift[1] = -3.0f, m->norm.tmul[1] = 2.0f;
        m->target_names = dnn_strings_copy((char *const[]){"price", "days"}, 2);
    } else if (m->n_classes == 3) {
        m->class_names = dnn_strings_copy((char *const[]){"cat", "dog", "emu"}, 3);
    }
    if (d == D) m->feature_names = dnn_strings_copy((char *const[]){"a", "b", "c"}, D);
    uint8_t *buf;
    if (dnn_checkpoint_encode(m, NULL, &buf, len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return buf;
}

static uint8_t *make(const char *json, uint64_t seed, size_t *len, dnn_model *m)
{
    return make_shaped(json, (dnn_shape){D, 1, 1}, seed, len, m);
}

/* make's model, loaded into a predictor from its checkpoint's bytes. */
static dnn_predictor *load(const char *json, uint64_t seed, dnn_model *m)
{
    size_t len;
    uint8_t *buf = make(json, seed, &len, m);
    dnn_predictor *p = NULL;
    if (dnn_predictor_load_buffer(buf, len, &p) != DNN_OK) {
        fprintf(stderr, "%s\n", dnn_last_error());
        exit(1);
    }
    free(buf);
    return p;
}

/* ---- the reference: one row through the model in double, written from the layers' definitions ---- */

static double act(dnn_act a, double z, double slope)
{
    switch (a) {
    case DNN_ACT_RELU: return z > 0 ? z : 0;
    case DNN_ACT_LEAKY_RELU: return z > 0 ? z : slope * z;
    case DNN_ACT_SIGMOID: return 1 / (1 + exp(-z));
    case DNN_ACT_TANH: return tanh(z);
    case DNN_ACT_GELU: return 0.5 * z * (1 + erf(z / sqrt(2)));
    default: return z;
    }
}

/* Also scale[o]: the size of the terms out[o] sums, which float rounding is relative to (a value in target
 * units near 0 is the difference of two large terms). */
static int reference(const dnn_model *m, const float *x, double *out, double *scale)
{
    double h[64], t[64];
    int n = D;
    for (int j = 0; j < D; j++) {
        double v = isnan(x[j]) ? m->impute.fill[j] : x[j];
        h[j] = (v - m->norm.shift[j]) * m->norm.mul[j];
    }
    for (int l = 0; l < m->net->n_layers; l++) {
        const dnn_layer *L = &m->net->layers[l];
        const float *p = m->net->params, *s = m->net->state;
        if (L->kind == DNN_LAYER_DENSE) {
            double sum = 0; /* z = h W + b, W [in, out] */
            for (int o = 0; o < L->out; o++) {
                t[o] = p[L->b + (size_t)o];
                for (int i = 0; i < n; i++) t[o] += h[i] * p[L->w + (size_t)i * L->out + (size_t)o];
                sum += exp(t[o]);
            }
            for (int o = 0; o < L->out; o++)
                h[o] = L->act == DNN_ACT_SOFTMAX ? exp(t[o]) / sum : act(L->act, t[o], L->slope);
        } else if (L->kind == DNN_LAYER_BATCHNORM) {
            for (int o = 0; o < L->out; o++)
                h[o] = (h[o] - s[L->s + (size_t)o]) / sqrt(s[L->s + (size_t)(L->out + o)] + L->eps) *
                           p[L->w + (size_t)o] +
                       p[L->b + (size_t)o];
        } /* dropout: the identity at inference */
        n = L->out;
    }
    if (m->cfg.task == DNN_TASK_CLASSIFICATION && n == 1) {
        out[0] = 1 - h[0], out[1] = h[0];
        scale[0] = scale[1] = 1;
        return 2;
    }
    for (int o = 0; o < n; o++) {
        out[o] = m->norm.k ? h[o] / m->norm.tmul[o] + m->norm.tshift[o] : h[o];
        scale[o] = m->norm.k ? fabs(h[o] / m->norm.tmul[o]) + fabs(m->norm.tshift[o]) : fabs(out[o]);
    }
    return n;
}

/* Rows of raw features, some of them missing. */
static float *rows(size_t n, uint64_t seed, double missing)
{
    float *x = floats(n * D);
    dnn_rng r;
    dnn_rng_seed(&r, seed, 2);
    for (size_t i = 0; i < n * D; i++)
        x[i] = dnn_rng_uniform(&r) < missing ? NAN : (float)(3 * dnn_rng_normal(&r) + (double)(i % D));
    return x;
}

static void check_against_reference(const char *what, const char *json, double missing)
{
    dnn_model m;
    size_t n = 300; /* more than one forward pass of dnn_predict */
    dnn_predictor *p = load(json, 7, &m);
    const int k = dnn_predictor_n_outputs(p);
    float *x = rows(n, 3, missing), *y = floats(n * (size_t)k);
    CHECK(dnn_predict(p, x, n, D, y) == DNN_OK);
    double worst = 0, ref[64], scale[64];
    for (size_t i = 0; i < n; i++) {
        CHECK(reference(&m, x + i * D, ref, scale) == k);
        for (int j = 0; j < k; j++) {
            double e = fabs(y[i * (size_t)k + (size_t)j] - ref[j]) / fmax(scale[j], 1e-3);
            worst = e > worst ? e : worst;
        }
    }
    CHECK_MSG(worst < 2e-6, "%s: relative difference %.3g from the double-precision reference", what, worst);
    fprintf(stderr, "%s: %zu rows, %d outputs, max relative difference %.3g\n", what, n, k, worst);
    free(x);
    free(y);
    dnn_predictor_free(p);
    dnn_model_free(&m);
}

/* A convolutional model: the predictor's views take the input's shape from the checkpoint, and batches of
 * many rows (several passes, the last partial) and of one row give what the model's own forward pass gives.
 */
static void test_conv_model(void)
{
    static const char *CNN =
        "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\"}, \"shape\": [2, 4, 4],"
        " \"normalize\": \"standardize\"},"
        " \"model\": {\"layers\": [{\"type\": \"conv2d\", \"filters\": 3, \"kernel_size\": 3, \"padding\": "
        "\"same\","
        " \"activation\": \"relu\"}, {\"type\": \"batchnorm\"}, {\"type\": \"maxpool2d\", \"pool_size\": 2},"
        " {\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, \"activation\": \"tanh\"}, {\"type\": "
        "\"flatten\"},"
        " {\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}]},"
        " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\"}, \"training\": {\"batch_size\": "
        "8}}";
    enum { N = 37, F = 32, K = 3 };
    dnn_model m;
    size_t len;
    uint8_t *buf = make_shaped(CNN, (dnn_shape){2, 4, 4}, 11, &len, &m);
    dnn_predictor *p = NULL;
    CHECK(dnn_predictor_load_buffer(buf, len, &p) == DNN_OK);
    free(buf);
    if (!p) return;
    CHECK(dnn_predictor_n_features(p) == F && dnn_predictor_n_outputs(p) == K);
    float x[N * F], xn[8 * F], y[N * K], y1[K];
    dnn_rng r;
    dnn_rng_seed(&r, 5, 2);
    for (int i = 0; i < N * F; i++) x[i] = (float)dnn_rng_normal(&r);
    CHECK(dnn_predict(p, x, N, F, y) == DNN_OK);
    double worst = 0, worst1 = 0;
    for (int start = 0; start < N; start += 8) { /* the model's own net: batches of up to 8 */
        int b = N - start < 8 ? N - start : 8;
        for (int i = 0; i < b * F; i++) xn[i] = (x[start * F + i] - m.norm.shift[i % F]) * m.norm.mul[i % F];
        const float *a = dnn_net_forward(m.net, xn, b, 0, NULL);
        for (int i = 0; i < b; i++) {
            CHECK(dnn_predict(p, x + (start + i) * F, 1, F, y1) == DNN_OK);
            for (int j = 0; j < K; j++) {
                worst = fmax(worst, fabs(y[(start + i) * K + j] - a[i * K + j]));
                worst1 = fmax(worst1, fabs(y1[j] - a[i * K + j]));
            }
        }
    }
    CHECK_MSG(worst < 1e-6 && worst1 < 1e-6, "conv model: differences %.3g (batches), %.3g (single rows)",
              worst, worst1);
    dnn_predictor_free(p);
    dnn_model_free(&m);
}

static void test_sizes_and_names(void)
{
    dnn_model m;
    dnn_predictor *p = load(CLASSIFIER, 1, &m);
    CHECK(dnn_predictor_n_features(p) == 3 && dnn_predictor_n_outputs(p) == 3 &&
          dnn_predictor_n_classes(p) == 3);
    CHECK(strcmp(dnn_predictor_feature_name(p, 2), "c") == 0 && !dnn_predictor_feature_name(p, 3));
    CHECK(strcmp(dnn_predictor_output_name(p, 1), "dog") == 0 && !dnn_predictor_output_name(p, -1));
    dnn_predictor_free(p);
    dnn_model_free(&m);

    p = load(BINARY, 1, &m);
    CHECK(dnn_predictor_n_outputs(p) == 2 && dnn_predictor_n_classes(p) == 2);
    CHECK(dnn_predictor_output_name(p, 0) == NULL); /* classes given by index */
    dnn_predictor_free(p);
    dnn_model_free(&m);

    p = load(REGRESSION, 1, &m);
    CHECK(dnn_predictor_n_outputs(p) == 2 && dnn_predictor_n_classes(p) == 0);
    CHECK(strcmp(dnn_predictor_output_name(p, 1), "days") == 0);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", DNN_VERSION_MAJOR, DNN_VERSION_MINOR, DNN_VERSION_PATCH);
    CHECK_MSG(strcmp(dnn_version(), v) == 0, "dnn_version() %s, dnn.h %s", dnn_version(), v);
    dnn_predictor_free(p);
    dnn_predictor_free(NULL);
    dnn_model_free(&m);
}

/* Files and buffers load the same model; every damaged buffer is refused with a message and no leak. */
static void test_loading(void)
{
    dnn_model m;
    size_t len;
    uint8_t *buf = make(CLASSIFIER, 2, &len, &m);
    const char *dir = check_tmpdir("predictor");
    char path[128];
    snprintf(path, sizeof path, "%s/m.bin", dir);
    dnn_error err;
    CHECK(dnn_write_atomic(path, buf, len, &err) == DNN_OK);
    dnn_predictor *a, *b, *bad = (dnn_predictor *)&err;
    CHECK(dnn_predictor_load(path, &a) == DNN_OK && dnn_predictor_load_buffer(buf, len, &b) == DNN_OK);
    float *x = rows(50, 5, 0.2), ya[150], yb[150];
    CHECK(dnn_predict(a, x, 50, D, ya) == DNN_OK && dnn_predict(b, x, 50, D, yb) == DNN_OK);
    CHECK(memcmp(ya, yb, sizeof ya) == 0);

    CHECK(dnn_predictor_load_buffer(buf, 0, &bad) == DNN_EIO && bad == NULL);
    CHECK(strstr(dnn_last_error(), "<buffer>: not a dnn checkpoint"));
    CHECK(dnn_predictor_load_buffer("\x89"
                                    "DNN\r\n\x1a\n",
                                    8, &bad) == DNN_EIO);
    CHECK(strstr(dnn_last_error(), "truncated"));
    CHECK(dnn_predictor_load_buffer(buf, len - 1, &bad) == DNN_EIO);
    uint8_t *flip = malloc(len);
    memcpy(flip, buf, len);
    flip[len / 2] ^= 0x10;
    CHECK(dnn_predictor_load_buffer(flip, len, &bad) == DNN_EIO &&
          strstr(dnn_last_error(), "checksum mismatch"));
    dnn_rng r;
    dnn_rng_seed(&r, 1, 1);
    for (size_t i = 0; i < len; i++) flip[i] = (uint8_t)dnn_rng_u64(&r);
    CHECK(dnn_predictor_load_buffer(flip, len, &bad) == DNN_EIO &&
          strstr(dnn_last_error(), "not a dnn checkpoint"));
    CHECK(dnn_predictor_load_buffer(NULL, 5, &bad) == DNN_ECONFIG);
    CHECK(dnn_predictor_load("/nonexistent/m.bin", &bad) == DNN_EIO &&
          strstr(dnn_last_error(), "/nonexistent/m.bin: cannot open"));
    free(flip);

    /* bad calls */
    CHECK(dnn_predict(a, x, 50, 4, ya) == DNN_ECONFIG &&
          strstr(dnn_last_error(), "rows of 4 features, but the model takes 3"));
    CHECK(dnn_predict(NULL, x, 1, D, ya) == DNN_ECONFIG);
    CHECK(dnn_predict(a, NULL, 1, D, ya) == DNN_ECONFIG);
    CHECK(dnn_predict(a, NULL, 0, D, NULL) == DNN_OK);
    CHECK(dnn_predictor_n_features(NULL) == 0 && dnn_predictor_feature_name(NULL, 0) == NULL);

    free(x);
    free(buf);
    dnn_predictor_free(a);
    dnn_predictor_free(b);
    dnn_model_free(&m);
    check_rmdir();
}

/* A model trained to refuse missing values refuses them here too, naming the row and the feature. */
static void test_missing_refused(void)
{
    dnn_model m;
    dnn_predictor *p = load(BINARY, 3, &m);
    float *x = rows(300, 9, 0), y[600];
    x[270 * D + 1] = NAN;
    CHECK(dnn_predict(p, x, 300, D, y) == DNN_EDATA);
    CHECK_MSG(strstr(dnn_last_error(), "row 270: feature 1 (\"b\") is missing"), "%s", dnn_last_error());
    CHECK(strstr(dnn_last_error(), "data.missing \"error\""));
    free(x);
    dnn_predictor_free(p);
    dnn_model_free(&m);
}

/* ---- threads ---- */

enum { THREADS = 8, ROUNDS = 20, ROWS = 300, SLICES = 100 };

/* Every call of the threads, made first by one thread alone: rows first.. of x, and row first alone. */
typedef struct {
    float slice[SLICES][ROWS * 3], single[SLICES][3];
} expected;

typedef struct {
    const dnn_predictor *p;
    const float *x;
    const expected *want;
    int id, mismatches, failures;
    char last_error[64];
} job;

static void *worker(void *arg)
{
    job *j = arg;
    float y[ROWS * 3];
    for (int r = 0; r < ROUNDS; r++) {
        /* each round a different slice, so the threads' calls differ in size and place; and one row alone */
        size_t first = (size_t)((j->id * 37 + r * 11) % SLICES), n = ROWS - first;
        if (dnn_predict(j->p, j->x + first * D, n, D, y) != DNN_OK) j->failures++;
        if (memcmp(y, j->want->slice[first], n * 3 * sizeof(float)) != 0) j->mismatches++;
        if (dnn_predict(j->p, j->x + first * D, 1, D, y) != DNN_OK) j->failures++;
        if (memcmp(y, j->want->single[first], 3 * sizeof(float)) != 0) j->mismatches++;
    }
    /* a failure in this thread sets this thread's message, and no other's */
    dnn_predict(j->p, j->x, 1, 99, y);
    snprintf(j->last_error, sizeof j->last_error, "%s", dnn_last_error());
    return NULL;
}

static void test_threads(void)
{
    dnn_model m;
    dnn_predictor *p = load(CLASSIFIER, 4, &m);
    float *x = rows(ROWS, 11, 0.1);
    expected *want = calloc(1, sizeof *want);
    job jobs[THREADS];
    pthread_t t[THREADS];
    int ok = 1;
    double worst = 0;
    for (size_t first = 0; first < SLICES; first++) {
        ok &= dnn_predict(p, x + first * D, ROWS - first, D, want->slice[first]) == DNN_OK;
        ok &= dnn_predict(p, x + first * D, 1, D, want->single[first]) == DNN_OK;
        /* a row's prediction is the same in any batch, but for float rounding: a row alone goes through
         * sgemv, which sums in another order than sgemm */
        for (size_t i = 0; i < (ROWS - first) * 3; i++) {
            double a = want->slice[first][i], b = want->slice[0][first * 3 + i];
            worst = fmax(worst, fabs(a - b) / fmax(fabs(b), 1e-3));
        }
        for (int j = 0; j < 3; j++) {
            double a = want->single[first][j], b = want->slice[0][first * 3 + (size_t)j];
            worst = fmax(worst, fabs(a - b) / fmax(fabs(b), 1e-3));
        }
    }
    CHECK(ok);
    CHECK_MSG(worst < 1e-6, "a row's prediction changes by %.3g (relative) with the rows around it", worst);
    CHECK(dnn_predict(p, x, 1, 2, want->single[0]) == DNN_ECONFIG); /* this thread's own last error */
    char mine[128];
    snprintf(mine, sizeof mine, "%s", dnn_last_error());
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){.p = p, .x = x, .want = want, .id = i};
        CHECK(pthread_create(&t[i], NULL, worker, &jobs[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_MSG(jobs[i].failures == 0 && jobs[i].mismatches == 0, "thread %d: %d failures, %d mismatches",
                  i, jobs[i].failures, jobs[i].mismatches);
        CHECK(strstr(jobs[i].last_error, "rows of 99 features"));
    }
    CHECK_MSG(strcmp(dnn_last_error(), mine) == 0, "another thread's error showed in this one: %s",
              dnn_last_error());
    free(x);
    free(want);
    dnn_predictor_free(p);
    dnn_model_free(&m);
}

int main(int argc, char **argv)
{
    /* --threads: only the concurrency test (the ThreadSanitizer build runs this) */
    int threads_only = argc > 1 && strcmp(argv[1], "--threads") == 0;
    if (!threads_only) {
        check_against_reference("classifier (relu, leaky_relu, softmax; mean fill)", CLASSIFIER, 0.15);
        check_against_reference("binary (gelu, batchnorm, dropout, sigmoid)", BINARY, 0);
        check_against_reference("regression (tanh, linear; median fill; target units)", REGRESSION, 0.15);
        test_conv_model();
        test_sizes_and_names();
        test_loading();
        test_missing_refused();
    }
    test_threads();
    return check_done("test_predictor");
}
