/* Checkpoint tests: bit-exact round trip, and refusal of every truncation, every single-bit flip, foreign
 * files, other versions and inconsistent contents. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "dnn/checkpoint.h"
#include "dnn/util.h"

static const char *dir;

static const char *CONFIG =
    "{\"seed\": 5, \"data\": {\"train\": {\"format\": \"idx\", \"images\": \"/d/x-images-idx3-ubyte\"}},"
    " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 6, \"activation\": \"relu\"}, {\"type\": "
    "\"batchnorm\"},"
    " {\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"dense\", \"units\": 3, \"activation\": "
    "\"softmax\"}]},"
    " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\"},"
    " \"training\": {\"batch_size\": 4, \"early_stopping\": {\"monitor\": \"loss\", \"patience\": 2}}}";

/* Image layers of every kind, with parameters and state, on 2x5x4 inputs. */
static const char *CNN =
    "{\"seed\": 5, \"data\": {\"train\": {\"format\": \"idx\", \"images\": \"/d/x-images-idx3-ubyte\"}},"
    " \"model\": {\"layers\": [{\"type\": \"conv2d\", \"filters\": 3, \"kernel_size\": 3, \"padding\": "
    "\"same\"},"
    " {\"type\": \"batchnorm\"}, {\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"maxpool2d\", "
    "\"pool_size\": [1, 2]},"
    " {\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, \"activation\": \"relu\"}, {\"type\": "
    "\"flatten\"},"
    " {\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}]},"
    " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\"},"
    " \"training\": {\"batch_size\": 4, \"early_stopping\": {\"monitor\": \"loss\", \"patience\": 2}}}";

/* A model of config text on inputs of shape in, and training state, with every field set to something
 * recognisable. */
static int make_from(dnn_model *m, dnn_train_state *s, const char *text, dnn_shape in)
{
    dnn_error err;
    dnn_config c;
    const int d = in.c * in.h * in.w;
    if (dnn_config_from_json(&c, cJSON_Parse(text), "t.json", NULL, NULL, 0, &err) ||
        dnn_model_create(m, &c, in, &err) || dnn_train_state_init(s, m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    dnn_rng r;
    dnn_rng_seed(&r, 3, 1);
    dnn_net_init(m->net, DNN_INIT_HE, &r);
    for (size_t i = 0; i < m->net->n_state; i++) m->net->state[i] = (float)dnn_rng_normal(&r);
    m->norm.d = (size_t)d;
    m->norm.shift = calloc((size_t)d, sizeof(float));
    m->norm.mul = calloc((size_t)d, sizeof(float));
    for (int j = 0; j < d; j++) m->norm.shift[j] = (float)j, m->norm.mul[j] = 1.0f / (j + 1);
    m->class_names = calloc(3, sizeof(char *));
    const char *names[] = {"cat", "dog, big", "\"bird\""};
    for (int i = 0; i < 3; i++) m->class_names[i] = dnn_strdup(names[i]);
    s->epoch = 2;
    s->step = 77;
    s->opt->t = 66; /* differs from step after a resume that changed the optimizer */
    for (size_t i = 0; i < s->opt->n; i++) s->opt->m[i] = (float)i * 1e-3f, s->opt->v[i] = (float)i * 1e-6f;
    dnn_rng_seed(&s->shuffle_rng, 9, 3);
    dnn_rng_seed(&s->dropout_rng, 9, 4);
    s->sched.lr = 0.000123456789;
    s->best_epoch = 1;
    s->best_value = 0.25;
    s->wait = 1;
    s->history = calloc(2, sizeof *s->history);
    s->n_history = 2;
    for (int i = 0; i < 2; i++)
        s->history[i] = (dnn_epoch_log){i + 1, 1.0 / (i + 3), 0.5, NAN, NAN, 0.001, 1, 1};
    for (size_t i = 0; i < m->net->n_params + m->net->n_state; i++) s->best_params[i] = (float)i;
    return 0;
}

static int make(dnn_model *m, dnn_train_state *s)
{
    return make_from(m, s, CONFIG, (dnn_shape){5, 1, 1});
}

static dnn_status decode(const uint8_t *buf, size_t len, dnn_error *err)
{
    dnn_model m;
    dnn_train_state s;
    memset(err, 0, sizeof *err);
    dnn_status st = dnn_checkpoint_decode("x.bin", buf, len, 0, &m, &s, err);
    if (!st) {
        dnn_train_state_free(&s);
        dnn_model_free(&m);
    }
    return st;
}

/* Recompute the trailing CRC after an edit, to reach the checks behind it. */
static void fix_crc(uint8_t *buf, size_t len)
{
    uLong c = crc32(0L, buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) buf[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

static void test_round_trip(void)
{
    dnn_model m;
    dnn_train_state s;
    if (make(&m, &s)) {
        check_failures++;
        return;
    }
    uint8_t *a, *b;
    size_t la, lb;
    dnn_error err;
    CHECK(dnn_checkpoint_encode(&m, &s, &a, &la, &err) == DNN_OK);
    dnn_model m2;
    dnn_train_state s2;
    dnn_status st = dnn_checkpoint_decode("x.bin", a, la, 0, &m2, &s2, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    CHECK(dnn_checkpoint_encode(&m2, &s2, &b, &lb, &err) == DNN_OK);
    CHECK(la == lb && memcmp(a, b, la) == 0); /* bit-exact */
    CHECK(memcmp(m.net->params, m2.net->params, m.net->n_params * sizeof(float)) == 0);
    CHECK(memcmp(m.net->state, m2.net->state, m.net->n_state * sizeof(float)) == 0);
    CHECK(memcmp(s.opt->v, s2.opt->v, s.opt->n * sizeof(float)) == 0 && s2.opt->t == 66 && s2.step == 77);
    CHECK(memcmp(&s.shuffle_rng, &s2.shuffle_rng, sizeof s.shuffle_rng) == 0);
    CHECK(s2.sched.lr == 0.000123456789 && s2.epoch == 2 && s2.best_epoch == 1 && s2.wait == 1);
    CHECK(s2.n_history == 2 && s2.history[1].loss == 0.25 && isnan(s2.history[1].val_loss));
    CHECK(strcmp(m2.class_names[1], "dog, big") == 0 && m2.norm.mul[3] == 0.25f);
    CHECK(m2.cfg.seed == 5 && m2.cfg.layers[2].rate == 0.2f && m2.cfg.early_stopping.patience == 2);
    CHECK(memcmp(s.best_params, s2.best_params, (m.net->n_params + m.net->n_state) * sizeof(float)) == 0);
    /* the model continues from the last weights; a model loaded to score takes the best epoch's */
    CHECK(memcmp(m.net->params, m2.net->params, m.net->n_params * sizeof(float)) == 0);
    dnn_model m5;
    CHECK(dnn_checkpoint_decode("x.bin", a, la, 0, &m5, NULL, &err) == DNN_OK);
    CHECK(memcmp(m5.net->params, s.best_params, m.net->n_params * sizeof(float)) == 0 &&
          memcmp(m5.net->state, s.best_params + m.net->n_params, m.net->n_state * sizeof(float)) == 0);
    dnn_model_free(&m5);
    /* a model without training state decodes for evaluation, and says it has none */
    uint8_t *c;
    size_t lc;
    CHECK(dnn_checkpoint_encode(&m, NULL, &c, &lc, &err) == DNN_OK);
    dnn_model m3;
    dnn_train_state s3;
    CHECK(dnn_checkpoint_decode("y.bin", c, lc, 0, &m3, NULL, &err) == DNN_OK);
    dnn_model_free(&m3);
    CHECK(dnn_checkpoint_decode("y.bin", c, lc, 0, &m3, &s3, &err) == DNN_OK && s3.opt == NULL);
    dnn_model_free(&m3);
    free(c);
    /* the memory budget is the caller's */
    CHECK_ERR(dnn_checkpoint_decode("x.bin", a, la, 100, &m3, NULL, &err), err, DNN_ECONFIG,
              "the network needs", "set by --max-memory");
    /* little-endian on disk: the magic, then version 1 as 01 00 00 00 */
    CHECK(a[0] == 0x89 && a[1] == 'D' && a[8] == 1 && a[9] == 0 && a[10] == 0 && a[11] == 0);

    /* every truncation and every single-bit flip is refused with exit 4 */
    int missed = 0;
    for (size_t n = 0; n < la; n++) missed += decode(a, n, &err) != DNN_EIO;
    CHECK_MSG(missed == 0, "%d truncations accepted", missed);
    CHECK_ERR(decode(a, la - 1, &err), err, DNN_EIO, "x.bin", "truncated");
    uint8_t *f = malloc(la);
    missed = 0;
    for (size_t i = 0; i < la * 8; i++) {
        memcpy(f, a, la);
        f[i / 8] ^= (uint8_t)(1u << (i % 8));
        missed += decode(f, la, &err) != DNN_EIO;
    }
    CHECK_MSG(missed == 0, "%d bit flips accepted", missed);
    memcpy(f, a, la);
    f[la / 2] ^= 0x10;
    CHECK_ERR(decode(f, la, &err), err, DNN_EIO, "x.bin", "checksum mismatch", "corrupted");

    /* another format version, with a valid checksum */
    memcpy(f, a, la);
    f[8] = 2;
    fix_crc(f, la);
    CHECK_ERR(decode(f, la, &err), err, DNN_EIO, "format version 2");
    /* a consistent file whose weights do not fit its config */
    memcpy(f, a, la);
    char *conf = memmem(f, la, "\"units\":6", 9);
    if (conf) {
        conf[8] = '7';
        fix_crc(f, la);
        CHECK_ERR(decode(f, la, &err), err, DNN_EIO, "x.bin", "does not match");
    } else
        check_failures++;
    /* a consistent file whose config this dnn does not accept (another version's key) */
    memcpy(f, a, la);
    char *seed = memmem(f, la, "\"seed\"", 6);
    if (seed) {
        seed[2] = 'x';
        fix_crc(f, la);
        CHECK_ERR(decode(f, la, &err), err, DNN_EIO, "x.bin (embedded config)", "sxed", "unknown key");
    } else
        check_failures++;
    /* foreign files */
    const char *png = "\x89PNG\r\n\x1a\n0000000000000000000000000000";
    CHECK_ERR(decode((const uint8_t *)png, 36, &err), err, DNN_EIO, "not a dnn checkpoint");
    CHECK_ERR(decode((const uint8_t *)"", 0, &err), err, DNN_EIO, "not a dnn checkpoint");
    free(f);

    /* saving is atomic: the file appears whole, no temporary file stays, and a failure leaves the old one */
    char p[256];
    snprintf(p, sizeof p, "%s/ckpt.bin", dir);
    CHECK(dnn_checkpoint_save(p, &m, &s, &err) == DNN_OK);
    dnn_model m4;
    dnn_train_state s4;
    CHECK(dnn_checkpoint_load(p, 0, &m4, &s4, &err) == DNN_OK);
    dnn_train_state_free(&s4);
    dnn_model_free(&m4);
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.' || strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    CHECK(entries == 1);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/taken", dir);
    mkdir(sub, 0755);
    CHECK_ERR(dnn_checkpoint_save(sub, &m, &s, &err), err, DNN_EIO, "taken", "cannot replace");
    snprintf(sub, sizeof sub, "%s/nofolder/ckpt.bin", dir);
    CHECK_ERR(dnn_checkpoint_save(sub, &m, &s, &err), err, DNN_EIO, "cannot create temporary file");
    CHECK_ERR(dnn_checkpoint_load("/nonexistent.bin", 0, &m4, NULL, &err), err, DNN_EIO, "/nonexistent.bin");

    free(a);
    free(b);
    dnn_train_state_free(&s);
    dnn_train_state_free(&s2);
    dnn_model_free(&m);
    dnn_model_free(&m2);
}

/* A convolutional model: shapes and every buffer survive the round trip bit for bit, and an input shape that
 * does not match the model is refused. */
static void test_image_model(void)
{
    dnn_model m, m2;
    dnn_train_state s, s2;
    if (make_from(&m, &s, CNN, (dnn_shape){2, 5, 4})) {
        check_failures++;
        return;
    }
    uint8_t *a, *b;
    size_t la, lb;
    dnn_error err;
    CHECK(dnn_checkpoint_encode(&m, &s, &a, &la, &err) == DNN_OK);
    dnn_status st = dnn_checkpoint_decode("c.bin", a, la, 0, &m2, &s2, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    const dnn_shape in = m2.net->in_shape;
    CHECK(in.c == 2 && in.h == 5 && in.w == 4 && m2.net->n_params == m.net->n_params);
    CHECK(m2.net->layers[4].win.kh == 2 && m2.net->layers[3].out_shape.w == 2 && m2.net->n_state == 6);
    CHECK(dnn_checkpoint_encode(&m2, &s2, &b, &lb, &err) == DNN_OK);
    CHECK(la == lb && memcmp(a, b, la) == 0);
    /* the shape is stored after the counts in MODL: 2, 5, 4 */
    const uint8_t shape[12] = {2, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0};
    uint8_t *at = memmem(a, la, shape, sizeof shape);
    CHECK(at != NULL);
    if (at) {
        at[0] = 4, at[8] = 2; /* 4x5x2: as many values, another image */
        fix_crc(a, la);
        CHECK_ERR(decode(a, la, &err), err, DNN_EIO, "x.bin", "does not match");
        at[0] = 3; /* 3x5x2: another size */
        fix_crc(a, la);
        CHECK_ERR(decode(a, la, &err), err, DNN_EIO, "x.bin", "the input's shape does not match its size");
    }
    free(a);
    free(b);
    dnn_train_state_free(&s);
    dnn_train_state_free(&s2);
    dnn_model_free(&m);
    dnn_model_free(&m2);
}

int main(void)
{
    dir = check_tmpdir("test_ckpt");
    test_round_trip();
    test_image_model();
    check_rmdir();
    return check_done("test_checkpoint");
}
