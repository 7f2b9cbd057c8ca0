/* Config tests: the reference config, defaults, overrides, path resolution, and every class of error with
 * the file and dotted path it must name. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "dnn/config.h"

static const char *dir;

static const char *REFERENCE =
    "{\n"
    "  \"seed\": 42,\n"
    "  \"data\": {\n"
    "    \"train\": {\"format\": \"idx\", \"images\": \"train-images-idx3-ubyte.gz\", \"labels\": "
    "\"train-labels-idx1-ubyte.gz\"},\n"
    "    \"test\":  {\"format\": \"idx\", \"images\": \"/abs/t10k-images-idx3-ubyte.gz\"},\n"
    "    \"validation_split\": 0.1,\n"
    "    \"normalize\": \"scale\"\n"
    "  },\n"
    "  \"model\": {\n"
    "    \"layers\": [\n"
    "      {\"type\": \"dense\", \"units\": 256, \"activation\": \"relu\"},\n"
    "      {\"type\": \"dense\", \"units\": 256, \"activation\": \"relu\"},\n"
    "      {\"type\": \"dense\", \"units\": 10,  \"activation\": \"softmax\"}\n"
    "    ],\n"
    "    \"init\": \"he\"\n"
    "  },\n"
    "  \"loss\": \"cross_entropy\",\n"
    "  \"optimizer\": {\"type\": \"adam\", \"learning_rate\": 0.001},\n"
    "  \"training\": {\"epochs\": 20, \"batch_size\": 100, \"shuffle\": true},\n"
    "  \"output\": {\"dir\": \"runs/mlp\", \"save_best\": true}\n"
    "}\n";

static const char *write_config(const char *name, const char *text)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

/* Load text as a config file, with overrides. */
static dnn_status load(const char *text, dnn_config *c, dnn_error *err, const char *const *sets, int n)
{
    memset(err, 0, sizeof *err);
    return dnn_config_load(c, write_config("c.json", text), sets, n, err);
}

/* The reference config with one substring replaced. */
static const char *edit(const char *from, const char *to)
{
    static char out[8192];
    const char *at = strstr(REFERENCE, from);
    if (!at) {
        fprintf(stderr, "test bug: \"%s\" not in the reference config\n", from);
        exit(2);
    }
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - REFERENCE), REFERENCE, to, at + strlen(from));
    return out;
}

static void test_reference(void)
{
    dnn_config c;
    dnn_error err;
    dnn_status st = load(REFERENCE, &c, &err, NULL, 0);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    CHECK(c.seed == 42 && c.n_layers == 3 && c.layers[1].units == 256 &&
          c.layers[2].activation == DNN_ACT_SOFTMAX);
    CHECK(c.loss == DNN_LOSS_CROSS_ENTROPY && c.task == DNN_TASK_CLASSIFICATION);
    CHECK(c.optim.kind == DNN_OPT_ADAM && c.optim.learning_rate == 0.001 && c.optim.beta2 == 0.999);
    CHECK(c.epochs == 20 && c.batch_size == 100 && c.shuffle && c.save_best && c.every_epochs == 1);
    CHECK(c.validation_split == 0.1 && c.normalize == DNN_NORM_SCALE && c.init == DNN_INIT_HE && c.has_test);
    /* relative data paths resolve against the config's folder, absolute ones stay; the tree is updated too */
    char want[512];
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte.gz", dir);
    CHECK_MSG(strcmp(c.train.images, want) == 0, "%s", c.train.images);
    CHECK(strcmp(c.test.images, "/abs/t10k-images-idx3-ubyte.gz") == 0 && c.test.labels == NULL);
    const cJSON *img =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(c.json, "data"), "train"), "images");
    CHECK(img && strcmp(img->valuestring, want) == 0);
    CHECK(strcmp(c.output_dir, "runs/mlp") == 0);
    dnn_config_free(&c);
}

static void test_defaults(void)
{
    dnn_config c;
    dnn_error err;
    const char *minimal =
        "{\"data\": {\"train\": {\"images\": \"/x-images-idx3-ubyte\"}},"
        " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 3}]}, \"loss\": \"mse\","
        " \"optimizer\": \"sgd\"}";
    dnn_status st = load(minimal, &c, &err, NULL, 0);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    CHECK(c.train.format == DNN_FORMAT_IDX && c.seed == 0 && c.epochs == 10 && c.batch_size == 32 &&
          c.shuffle);
    CHECK(c.layers[0].activation == DNN_ACT_LINEAR && c.task == DNN_TASK_REGRESSION);
    CHECK(c.optim.kind == DNN_OPT_SGD && c.optim.learning_rate == 0.01 && c.optim.momentum == 0);
    CHECK(!c.has_test && c.validation_split == 0 && c.output_dir == NULL && !c.early_stopping.enabled);
    dnn_config_free(&c);
}

/* Streaming keys: a path list and a glob resolved against the config's folder, stream and cache settings,
 * categorical columns shared by the sources. */
static void test_data_at_scale(void)
{
    const char *text =
        "{\"data\": {\"train\": {\"path\": [\"a/p1.csv.gz\", \"/abs/p2.csv\"], \"stream\": true,"
        " \"cache\": \"c/rows.cache\"}, \"test\": {\"path\": \"t/*.csv\"},"
        " \"categorical\": [\"colour\", 3], \"max_categories\": 8, \"shuffle_buffer\": 500},"
        " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 2, \"activation\": \"softmax\"}]},"
        " \"loss\": \"cross_entropy\", \"optimizer\": \"adam\"}";
    dnn_config c;
    dnn_error err;
    dnn_status st = load(text, &c, &err, NULL, 0);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    char want[300];
    snprintf(want, sizeof want, "%s/a/p1.csv.gz", dir);
    CHECK(c.train.n_paths == 2 && strcmp(c.train.paths[0], want) == 0 &&
          strcmp(c.train.paths[1], "/abs/p2.csv") == 0);
    CHECK(strcmp(c.train.path, want) == 0 && c.train.stream == 1 && c.test.stream == -1);
    snprintf(want, sizeof want, "%s/c/rows.cache", dir);
    CHECK(c.train.cache && strcmp(c.train.cache, want) == 0);
    snprintf(want, sizeof want, "%s/t/*.csv", dir);
    CHECK(strcmp(c.test.path, want) == 0);
    CHECK(c.n_categorical == 2 && strcmp(c.categorical[0].name, "colour") == 0 &&
          c.categorical[1].index == 3);
    CHECK(c.train.categorical == c.categorical && c.test.n_categorical == 2 && c.test.max_categories == 8);
    CHECK(c.max_categories == 8 && c.shuffle_buffer == 500);
    dnn_config_free(&c);
    const char *cache_true[] = {"data.train.cache=true", "data.categorical=\"auto\""};
    st = load(text, &c, &err, cache_true, 2);
    CHECK(st == DNN_OK && c.train.cache && c.train.cache[0] == '\0' && c.train.categorical_auto);
    if (!st) dnn_config_free(&c);
}

static void test_overrides(void)
{
    dnn_config c;
    dnn_error err;
    const char *sets[] = {"training.epochs=3",     "model.layers.0.units=128",
                          "optimizer.type=sgd",    "optimizer.learning_rate=0.5",
                          "output.every_epochs=2", "data.test.labels=\"/l\""};
    /* adam has no momentum, sgd no beta: the type override changes what is valid */
    dnn_status st = load(REFERENCE, &c, &err, sets, 6);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (!st) {
        CHECK(c.epochs == 3 && c.layers[0].units == 128 && c.optim.kind == DNN_OPT_SGD);
        CHECK(c.optim.learning_rate == 0.5 && c.every_epochs == 2 && strcmp(c.test.labels, "/l") == 0);
        /* the effective tree carries the overrides, for the checkpoint */
        const cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(c.json, "training"), "epochs");
        CHECK(e && e->valuedouble == 3);
        dnn_config_free(&c);
    }
    const char *bad[] = {"model.layers.0.units=ten"};
    CHECK_ERR(load(REFERENCE, &c, &err, bad, 1), err, DNN_ECONFIG, "model.layers[0].units",
              "expected a positive integer, got \"ten\"", "(from --set model.layers.0.units=ten)");
    dnn_config_free(&c);
    const char *idx[] = {"model.layers.7.units=3"};
    CHECK_ERR(load(REFERENCE, &c, &err, idx, 1), err, DNN_ECONFIG, "--set model.layers.7.units=3",
              "not an index of an array of 3");
    const char *noeq[] = {"training.epochs"};
    CHECK_ERR(load(REFERENCE, &c, &err, noeq, 1), err, DNN_ECONFIG, "expected KEY=VALUE");
    const char *typo[] = {"training.epoch=3"};
    CHECK_ERR(load(REFERENCE, &c, &err, typo, 1), err, DNN_ECONFIG, "training.epoch", "unknown key",
              "did you mean \"epochs\"");
    dnn_config_free(&c);
    const char *inside[] = {"seed.x=1"};
    CHECK_ERR(load(REFERENCE, &c, &err, inside, 1), err, DNN_ECONFIG, "not an object or array");
}

/* Every error class names the file and the dotted path and says what was expected. */
static void test_errors(void)
{
    struct {
        const char *from, *to;
        const char *frags[3];
    } cases[] = {
        /* the message of SPEC.md, word for word */
        {"\"units\": 10,",
         "\"units\": \"ten\",",
         {"c.json: model.layers[2].units: expected a positive integer, got \"ten\""}},
        {"\"units\": 10,", "\"units\": 0,", {"model.layers[2].units", "positive integer", "got 0"}},
        {"\"units\": 10,", "\"units\": 2.5,", {"model.layers[2].units", "got 2.5"}},
        {"\"seed\": 42", "\"seed\": -1", {"seed", "integer"}},
        {"\"validation_split\": 0.1",
         "\"validation_split\": 1.5",
         {"data.validation_split", "[0, 1)", "got 1.5"}},
        {"\"epochs\": 20", "\"epochs\": 0", {"training.epochs", "positive integer"}},
        {"\"shuffle\": true", "\"shuffle\": \"yes\"", {"training.shuffle", "true or false", "got \"yes\""}},
        {"\"learning_rate\": 0.001", "\"learning_rate\": -1", {"optimizer.learning_rate", "positive number"}},
        {"\"type\": \"dense\", \"units\": 10",
         "\"type\": \"conv\", \"units\": 10",
         {"model.layers[2].type", "\"dense\"", "got \"conv\""}},
        {"\"activation\": \"softmax\"",
         "\"activation\": \"softmx\"",
         {"model.layers[2].activation", "did you mean \"softmax\""}},
        {"\"loss\": \"cross_entropy\"", "\"loss\": \"hinge\"", {"c.json: loss", "\"mse\"", "got \"hinge\""}},
        {"{\"type\": \"adam\"",
         "{\"type\": \"adagrad\"",
         {"optimizer.type", "\"rmsprop\"", "got \"adagrad\""}},
        {"\"normalize\": \"scale\"", "\"normalize\": 1", {"data.normalize", "\"standardize\"", "got 1"}},
        {"\"init\": \"he\"", "\"init\": \"glorot\"", {"model.init", "\"xavier\""}},
        /* unknown keys, at every depth */
        {"\"seed\": 42", "\"sed\": 42", {"c.json: sed: unknown key", "did you mean \"seed\""}},
        {"\"save_best\": true",
         "\"save_bets\": true",
         {"output.save_bets", "unknown key", "did you mean \"save_best\""}},
        {"\"units\": 256, \"activation\": \"relu\"},\n      {\"type\": \"dense\", \"units\": 256",
         "\"units\": 256, \"activation\": \"relu\"},\n      {\"type\": \"dense\", \"unit\": 256",
         {"model.layers[1].unit", "unknown key", "did you mean \"units\""}},
        {"\"learning_rate\": 0.001}",
         "\"learning_rate\": 0.001, \"momentum\": 0.9}",
         {"optimizer.momentum", "unknown key"}},
        {"\"images\": \"train-images-idx3-ubyte.gz\"",
         "\"images\": \"train-images-idx3-ubyte.gz\", \"path\": \"x\"",
         {"data.train.path", "unknown key"}},
        /* missing keys */
        {"\"loss\": \"cross_entropy\",", "", {"c.json: loss: missing required key"}},
        {"{\"type\": \"dense\", \"units\": 10,",
         "{\"type\": \"dense\",",
         {"model.layers[2].units", "missing required key"}},
        {"\"train\": {\"format\": \"idx\", \"images\": \"train-images-idx3-ubyte.gz\", \"labels\": "
         "\"train-labels-idx1-ubyte.gz\"},",
         "",
         {"data.train", "missing required key"}},
        {"\"format\": \"idx\", \"images\": \"train-images-idx3-ubyte.gz\",",
         "\"format\": \"idx\",",
         {"data.train.images", "missing"}},
        {"\"layers\": [", "\"layers\": 3, \"x\": [", {"model"}},
        /* duplicates, wrong shapes, cross-field rules */
        {"\"seed\": 42", "\"seed\": 42, \"seed\": 43", {"seed", "key given twice"}},
        {"\"optimizer\": {\"type\": \"adam\", \"learning_rate\": 0.001}",
         "\"optimizer\": 7",
         {"optimizer", "expected an object"}},
        {"\"activation\": \"softmax\"",
         "\"activation\": \"sigmoid\"",
         {"c.json: loss", "needs a last layer", "\"sigmoid\" with 10 units"}},
        {"{\"type\": \"dense\", \"units\": 256, \"activation\": \"relu\"},\n      {\"type\": \"dense\", "
         "\"units\": 10",
         "{\"type\": \"dense\", \"units\": 256, \"activation\": \"softmax\"},\n      {\"type\": \"dense\", "
         "\"units\": 10",
         {"model.layers[1].activation", "only allowed in the last layer"}},
        {"\"normalize\": \"scale\"",
         "\"normalize\": \"scale\", \"task\": \"regression\"",
         {"data.task", "does not fit loss"}},
        /* data at scale */
        {"\"labels\": \"train-labels-idx1-ubyte.gz\"}",
         "\"labels\": \"train-labels-idx1-ubyte.gz\", \"stream\": \"yes\"}",
         {"data.train.stream", "true, false or \"auto\"", "got \"yes\""}},
        {"\"labels\": \"train-labels-idx1-ubyte.gz\"}",
         "\"labels\": \"train-labels-idx1-ubyte.gz\", \"cache\": 3}",
         {"data.train.cache", "the path of a cache file"}},
        {"\"images\": \"/abs/t10k-images-idx3-ubyte.gz\"}",
         "\"images\": \"/abs/t10k-images-idx3-ubyte.gz\", \"stream\": true}",
         {"data.test.stream", "read into memory"}},
        {"\"normalize\": \"scale\"",
         "\"normalize\": \"scale\", \"categorical\": \"all\"",
         {"data.categorical", "\"auto\""}},
        {"\"normalize\": \"scale\"",
         "\"normalize\": \"scale\", \"max_categories\": 0",
         {"data.max_categories", "positive"}},
        {"\"normalize\": \"scale\"",
         "\"normalize\": \"scale\", \"shuffle_buffer\": -5",
         {"data.shuffle_buffer", "positive integer"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dnn_config c;
        dnn_error err;
        dnn_status st = load(edit(cases[i].from, cases[i].to), &c, &err, NULL, 0);
        if (st != DNN_ECONFIG) {
            fprintf(stderr, "case %zu (%s): expected exit 2, got %d (%s)\n", i, cases[i].to, st, err.msg);
            check_failures++;
        }
        for (int k = 0; k < 3 && cases[i].frags[k]; k++)
            CHECK_MSG(strstr(err.msg, cases[i].frags[k]) != NULL, "case %zu: \"%s\" not in: %s", i,
                      cases[i].frags[k], err.msg);
        dnn_config_free(&c);
    }
    dnn_config c;
    dnn_error err;
    /* invalid JSON: the line and column of the problem */
    CHECK_ERR(load("{\n  \"seed\": 42,\n  \"data\": {,\n}", &c, &err, NULL, 0), err, DNN_ECONFIG,
              "c.json:3:", "invalid JSON");
    CHECK_ERR(load("{\"seed\": 1} trailing", &c, &err, NULL, 0), err, DNN_ECONFIG,
              "c.json:1:", "invalid JSON");
    CHECK_ERR(load("[1, 2]", &c, &err, NULL, 0), err, DNN_ECONFIG, "c.json", "JSON object");
    CHECK_ERR(load("", &c, &err, NULL, 0), err, DNN_ECONFIG, "invalid JSON");
    char nul[] = "{\"seed\": 1}\0{}";
    FILE *f = fopen(write_config("nul.json", ""), "wb");
    fwrite(nul, 1, sizeof nul, f);
    fclose(f);
    char p[256];
    snprintf(p, sizeof p, "%s/nul.json", dir);
    CHECK_ERR(dnn_config_load(&c, p, NULL, 0, &err), err, DNN_ECONFIG, "invalid JSON");
    CHECK_ERR(dnn_config_load(&c, "/nonexistent/dnn.json", NULL, 0, &err), err, DNN_ECONFIG,
              "/nonexistent/dnn.json", "cannot open");
}

/* The image layers' keys: pairs given as one number or [height, width], defaults, data.shape, and their
 * errors. */
static void test_image_layers(void)
{
    const char *layers =
        "\"layers\": [{\"type\": \"conv2d\", \"filters\": 8, \"kernel_size\": 3, \"padding\": \"same\", "
        "\"activation\": \"relu\", \"l2\": 0.001},\n"
        "      {\"type\": \"maxpool2d\"}, {\"type\": \"conv2d\", \"filters\": 4, \"kernel_size\": [3, 1], "
        "\"stride\": [1, 2], \"padding\": [1, 0]},\n"
        "      {\"type\": \"avgpool2d\", \"pool_size\": [2, 3], \"stride\": 1}, {\"type\": \"batchnorm\"}, "
        "{\"type\": \"global_avgpool\"}, {\"type\": \"flatten\"},\n"
        "      {\"type\": \"dense\", \"units\": 10,  \"activation\": \"softmax\"}";
    char text[4096];
    snprintf(text, sizeof text, "%s",
             edit("\"layers\": [\n      {\"type\": \"dense\", \"units\": 256, "
                  "\"activation\": \"relu\"},\n      {\"type\": \"dense\", "
                  "\"units\": 256, \"activation\": \"relu\"},\n      {\"type\": "
                  "\"dense\", \"units\": 10,  \"activation\": \"softmax\"}",
                  layers));
    dnn_config c;
    dnn_error err;
    dnn_status st = load(text, &c, &err, NULL, 0);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    const dnn_layer_config *l = c.layers;
    CHECK(c.n_layers == 8 && l[0].kind == DNN_LAYER_CONV2D && l[0].filters == 8 && l[0].kernel[0] == 3 &&
          l[0].kernel[1] == 3 && l[0].stride[0] == 1 && l[0].padding == DNN_PAD_SAME && l[0].l2 == 0.001f);
    CHECK(l[1].kind == DNN_LAYER_MAXPOOL2D && l[1].kernel[0] == 2 && l[1].stride[1] == 2); /* defaults */
    CHECK(l[2].kernel[0] == 3 && l[2].kernel[1] == 1 && l[2].stride[1] == 2 &&
          l[2].padding == DNN_PAD_EXPLICIT && l[2].pad[0] == 1 && l[2].pad[1] == 0 &&
          l[2].activation == DNN_ACT_LINEAR);
    CHECK(l[3].kind == DNN_LAYER_AVGPOOL2D && l[3].kernel[1] == 3 && l[3].stride[0] == 1 &&
          l[3].stride[1] == 1);
    CHECK(l[5].kind == DNN_LAYER_GLOBAL_AVGPOOL && l[6].kind == DNN_LAYER_FLATTEN && !c.has_shape);
    dnn_config_free(&c);
    const char *shape[] = {"data.shape=[3, 32, 30]"};
    st = load(text, &c, &err, shape, 1);
    CHECK_MSG(st == DNN_OK && c.has_shape && c.shape.c == 3 && c.shape.h == 32 && c.shape.w == 30, "%s",
              err.msg);
    dnn_config_free(&c);

    struct {
        const char *set, *frags[3];
    } cases[] = {
        {"model.layers.0.filters=null", {"model.layers[0].filters", "missing required key"}},
        {"model.layers.0.kernel_size=null", {"model.layers[0].kernel_size", "missing required key"}},
        {"model.layers.0.kernel_size=0",
         {"model.layers[0].kernel_size", "a positive integer or [height, width]"}},
        {"model.layers.0.kernel_size=[3]", {"model.layers[0].kernel_size", "got [3]"}},
        {"model.layers.0.kernel_size=[3, \"a\"]", {"model.layers[0].kernel_size", "got [3,\"a\"]"}},
        {"model.layers.0.kernel_size=70000", {"kernel_size", "at most 65536"}},
        {"model.layers.0.stride=0", {"model.layers[0].stride", "positive integer"}},
        {"model.layers.0.padding=\"full\"",
         {"model.layers[0].padding", "\"valid\", \"same\"", "got \"full\""}},
        {"model.layers.0.padding=\"sam\"", {"model.layers[0].padding", "did you mean \"same\""}},
        {"model.layers.0.padding=-1",
         {"model.layers[0].padding", "a non-negative integer or [rows, columns]"}},
        {"model.layers.0.padding=[1, 2, 3]", {"model.layers[0].padding", "got [1,2,3]"}},
        {"model.layers.0.activation=\"softmax\"",
         {"model.layers[0].activation", "only allowed in the last layer"}},
        {"model.layers.0.units=3",
         {"model.layers[0].units", "unknown key", "expected one of: type, filters"}},
        {"model.layers.1.pool_size=0", {"model.layers[1].pool_size", "positive integer"}},
        {"model.layers.1.filters=2", {"model.layers[1].filters", "unknown key"}},
        {"model.layers.6.units=2", {"model.layers[6].units", "unknown key", "expected one of: type"}},
        {"model.layers.0.type=\"conv2\"", {"model.layers[0].type", "did you mean \"conv2d\""}},
        {"data.shape=[1, 28]", {"data.shape", "[C, H, W]: three positive integers", "got [1,28]"}},
        {"data.shape=[1, 0, 28]", {"data.shape", "three positive integers"}},
        {"data.shape=\"28x28\"", {"data.shape", "three positive integers"}},
        {"data.shape=[65536, 65536, 2]", {"data.shape", "at most 2147483647 values"}},
        {"data.train={\"format\": \"csv\", \"path\": \"p.csv\"}",
         {"c.json: data.shape", "model.layers[0] (conv2d) works on images", "give data.shape [C, H, W]"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *sets[] = {cases[i].set};
        st = load(text, &c, &err, sets, 1);
        if (st != DNN_ECONFIG) {
            fprintf(stderr, "--set %s: expected exit 2, got %d (%s)\n", cases[i].set, st, err.msg);
            check_failures++;
        }
        for (int k = 0; k < 3 && cases[i].frags[k]; k++)
            CHECK_MSG(strstr(err.msg, cases[i].frags[k]) != NULL, "--set %s: \"%s\" not in: %s", cases[i].set,
                      cases[i].frags[k], err.msg);
        dnn_config_free(&c);
    }
    /* CSV with data.shape is fine */
    const char *csv[] = {"data.train={\"format\": \"csv\", \"path\": \"p.csv\"}", "data.shape=[1, 8, 8]"};
    st = load(text, &c, &err, csv, 2);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    dnn_config_free(&c);
}

int main(void)
{
    dir = check_tmpdir("test_config");
    test_reference();
    test_defaults();
    test_overrides();
    test_data_at_scale();
    test_errors();
    test_image_layers();
    check_rmdir();
    return check_done("test_config");
}
