/* Training loop tests: the order samples are dealt in (a fresh seeded permutation every epoch, or the file's
 * order without shuffle), the batches of an epoch (the last partial one included), and the step count.
 * The order is read back from the progress hook: with all inputs 0 and a learning rate too small to move a
 * weight, the model predicts 0, so sample i's loss is its target squared, i^2, and the running mean loss
 * after each batch of one sample says which sample it was. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "check.h"
#include "dnn/train.h"

enum { N = 8, EPOCHS = 3 };

typedef struct {
    int order[EPOCHS][N]; /* the sample of each batch (batches of one) */
    size_t samples[EPOCHS][N], batches;
    double seen_loss; /* the epoch's total loss so far */
} record;

static void on_batch(void *ctx, const dnn_progress *p)
{
    record *r = ctx;
    if (p->epoch < 1 || p->epoch > EPOCHS || p->batch < 1 || p->batch > N) return;
    if (p->batch == 1) r->seen_loss = 0;
    double total = p->loss * (double)p->samples;
    r->order[p->epoch - 1][p->batch - 1] = (int)lround(sqrt(total - r->seen_loss));
    r->samples[p->epoch - 1][p->batch - 1] = p->samples;
    r->batches = p->batches;
    r->seen_loss = total;
}

/* Train a one-unit linear model on n samples (x = 0, target i) with the given training settings; fills rec
 * and returns the optimizer steps taken, or -1. */
static long train(const char *training, uint64_t seed, size_t n, record *rec)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"seed\": %llu, \"data\": {\"train\": {\"format\": \"csv\", \"path\": \"unused.csv\"}},"
             " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 1}]}, \"loss\": \"mse\","
             " \"optimizer\": {\"type\": \"sgd\", \"learning_rate\": 1e-30}, \"training\": %s}",
             (unsigned long long)seed, training);
    dnn_error err = {0};
    dnn_config cfg;
    dnn_model m;
    dnn_train_state s = {0};
    if (dnn_config_from_json(&cfg, cJSON_Parse(json), "t.json", NULL, NULL, 0, &err) ||
        dnn_model_create(&m, &cfg, (dnn_shape){1, 1, 1}, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    /* identity normalisation, raw targets: sample i's loss is exactly i^2 */
    m.norm.d = 1;
    m.norm.shift = calloc(1, sizeof(float));
    m.norm.mul = malloc(sizeof(float));
    m.norm.mul[0] = 1.0f;
    float x[N + 4] = {0}, t[N + 4];
    uint32_t rows[N + 4];
    for (size_t i = 0; i < n; i++) t[i] = (float)i, rows[i] = (uint32_t)i;
    dnn_dataset ds = {.n = n, .d = 1, .d_num = 1, .dtype = DNN_F32, .x32 = x, .t = t, .n_targets = 1};
    dnn_batches b;
    dnn_memory_batches mem;
    dnn_train_hooks hooks = {on_batch, NULL, rec, NULL};
    memset(rec, 0, sizeof *rec);
    long steps = -1;
    if (dnn_batches_memory(&b, &mem, &ds, rows, n, NULL, 0, (size_t)m.cfg.batch_size, 0, 1, &err) ||
        dnn_train_state_init(&s, &m, &err) || dnn_train(&m, &s, &b, &hooks, &err))
        fprintf(stderr, "%s\n", err.msg);
    else
        steps = (long)s.step;
    dnn_batches_memory_free(&mem);
    dnn_train_state_free(&s);
    dnn_model_free(&m);
    return steps;
}

static int is_permutation(const int *v, int n)
{
    int seen[N] = {0};
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= n || seen[v[i]]) return 0;
        seen[v[i]] = 1;
    }
    return 1;
}

static int in_order(const int *v, int n)
{
    for (int i = 0; i < n; i++)
        if (v[i] != i) return 0;
    return 1;
}

static void test_shuffle(void)
{
    record a, b, c;
    CHECK(train("{\"epochs\": 3, \"batch_size\": 1}", 5, N, &a) == EPOCHS * N);
    for (int e = 0; e < EPOCHS; e++) {
        CHECK_MSG(is_permutation(a.order[e], N), "epoch %d does not deal every sample once", e + 1);
        CHECK_MSG(!in_order(a.order[e], N), "epoch %d is in file order although shuffle is on", e + 1);
    }
    /* a fresh order each epoch */
    CHECK(memcmp(a.order[0], a.order[1], sizeof a.order[0]) != 0);
    CHECK(memcmp(a.order[1], a.order[2], sizeof a.order[0]) != 0);
    /* the seed decides the order */
    CHECK(train("{\"epochs\": 3, \"batch_size\": 1}", 5, N, &b) == EPOCHS * N);
    CHECK(memcmp(a.order, b.order, sizeof a.order) == 0);
    CHECK(train("{\"epochs\": 3, \"batch_size\": 1}", 6, N, &c) == EPOCHS * N);
    CHECK(memcmp(a.order, c.order, sizeof a.order) != 0);
    /* without shuffle, the file's order every epoch */
    CHECK(train("{\"epochs\": 3, \"batch_size\": 1, \"shuffle\": false}", 5, N, &b) == EPOCHS * N);
    for (int e = 0; e < EPOCHS; e++)
        CHECK_MSG(in_order(b.order[e], N), "shuffle false: epoch %d reordered", e + 1);
}

/* 10 samples in batches of 4: batches of 4, 4 and 2, three steps an epoch. */
static void test_batches(void)
{
    record r;
    CHECK(train("{\"epochs\": 2, \"batch_size\": 4}", 1, 10, &r) == 6);
    CHECK(r.batches == 3);
    for (int e = 0; e < 2; e++)
        CHECK_MSG(r.samples[e][0] == 4 && r.samples[e][1] == 8 && r.samples[e][2] == 10,
                  "epoch %d: %zu, %zu, %zu samples after each batch", e + 1, r.samples[e][0], r.samples[e][1],
                  r.samples[e][2]);
}

int main(void)
{
    test_shuffle();
    test_batches();
    return check_done("test_train");
}
