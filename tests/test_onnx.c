/* ONNX export: the bytes read back by a protobuf reader written here from the wire format's definition:
 * the ModelProto's version fields and metadata, the operators in order and well connected, the weights'
 * bytes, the shapes. (tests/cli_onnx.sh runs the exports in ONNX Runtime and onnx's checker.) */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "dnn/onnx.h"
#include "dnn/rng.h"
#include "dnn/util.h"

/* ---- a protobuf reader: fields of one message ---- */

typedef struct {
    const uint8_t *p;
    size_t n, at;
    int bad;
} rd;

static uint64_t varint(rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->at >= r->n) break;
        uint8_t b = r->p[r->at++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    r->bad = 1;
    return 0;
}

typedef struct {
    unsigned field, wire;
    uint64_t v;       /* varint and fixed32 */
    const uint8_t *d; /* length-delimited */
    size_t len;
} fld;

/* The next field, or 0 at the end of the message. */
static int next(rd *r, fld *f)
{
    if (r->at >= r->n || r->bad) return 0;
    uint64_t tag = varint(r);
    f->field = (unsigned)(tag >> 3), f->wire = (unsigned)(tag & 7);
    if (f->wire == 0) {
        f->v = varint(r);
    } else if (f->wire == 2) {
        f->len = (size_t)varint(r);
        if (f->len > r->n - r->at) return r->bad = 1, 0;
        f->d = r->p + r->at;
        r->at += f->len;
    } else if (f->wire == 5 && r->n - r->at >= 4) {
        const uint8_t *q = r->p + r->at;
        f->v = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        r->at += 4;
    } else {
        return r->bad = 1, 0;
    }
    return !r->bad;
}

static rd sub(const fld *f)
{
    return (rd){f->d, f->len, 0, 0};
}

static int is(const fld *f, const char *s)
{
    return f->wire == 2 && f->len == strlen(s) && memcmp(f->d, s, f->len) == 0;
}

/* ---- what an export holds ---- */

enum { MAX = 64 };

typedef struct {
    char op[MAX][32], out[MAX][48];
    char in[MAX][5][48];
    int n_in[MAX], n_nodes;
    char init[MAX][48];
    int64_t init_dims[MAX][4];
    int init_nd[MAX], init_type[MAX], n_init;
    const uint8_t *init_raw[MAX];
    size_t init_len[MAX];
    char input[48], output[48];
    int64_t input_cols, output_cols;
    int64_t ir, opset;
    char meta_keys[512];
    float attr_f[MAX];
    int64_t attr_i[MAX];
    char attr_name[MAX][16];
    char attr_ints[MAX][96]; /* integer-list attributes as text: "kernel_shape=3,3 strides=1,1 " */
} onnx_model;

static void copy(char *dst, size_t n, const fld *f)
{
    size_t k = f->len < n - 1 ? f->len : n - 1;
    memcpy(dst, f->d, k);
    dst[k] = '\0';
}

/* A ValueInfoProto of shape [N, cols]: its name and cols. */
static void value_info(const fld *vi, char *name, int64_t *cols)
{
    rd r = sub(vi), t, tt, sh, dim;
    fld f, g, h, s, d;
    int dims = 0;
    while (next(&r, &f)) {
        if (f.field == 1) copy(name, 48, &f);
        if (f.field != 2) continue;
        for (t = sub(&f); next(&t, &g);)
            for (tt = sub(&g); g.field == 1 && next(&tt, &h);) {
                CHECK(h.field != 1 || h.v == 1); /* elem_type FLOAT */
                for (sh = sub(&h); h.field == 2 && next(&sh, &s);)
                    for (dim = sub(&s), dims++; next(&dim, &d);) {
                        if (dims == 1) CHECK(d.field == 2 && is(&d, "N"));
                        if (dims == 2 && d.field == 1) *cols = (int64_t)d.v;
                    }
            }
    }
    CHECK(dims == 2);
}

static void node(onnx_model *o, const fld *nf)
{
    int i = o->n_nodes++;
    rd r = sub(nf);
    fld f;
    while (next(&r, &f)) {
        if (f.field == 1) copy(o->in[i][o->n_in[i]++], 48, &f);
        if (f.field == 2) copy(o->out[i], 48, &f);
        if (f.field == 4) copy(o->op[i], 32, &f);
        if (f.field != 5) continue;
        rd a = sub(&f);
        fld g;
        char list[64] = "";
        while (next(&a, &g)) {
            if (g.field == 1) copy(o->attr_name[i], 16, &g);
            if (g.field == 2) memcpy(&o->attr_f[i], &(uint32_t){(uint32_t)g.v}, 4);
            if (g.field == 3) o->attr_i[i] = (int64_t)g.v;
            if (g.field == 8)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%lld", list[0] ? "," : "",
                         (long long)g.v);
        }
        if (list[0]) {
            size_t k = strlen(o->attr_ints[i]);
            snprintf(o->attr_ints[i] + k, sizeof o->attr_ints[i] - k, "%s=%s ", o->attr_name[i], list);
        }
    }
}

static void initializer(onnx_model *o, const fld *tf)
{
    int i = o->n_init++;
    rd r = sub(tf);
    fld f;
    while (next(&r, &f)) {
        if (f.field == 1 && o->init_nd[i] < 4) o->init_dims[i][o->init_nd[i]++] = (int64_t)f.v;
        if (f.field == 2) CHECK(f.v == 1 || f.v == 7); /* FLOAT, INT64 */
        if (f.field == 2) o->init_type[i] = (int)f.v;
        if (f.field == 8) copy(o->init[i], 48, &f);
        if (f.field == 9) o->init_raw[i] = f.d, o->init_len[i] = f.len;
    }
}

static void parse(const uint8_t *buf, size_t len, onnx_model *o)
{
    memset(o, 0, sizeof *o);
    rd r = {buf, len, 0, 0};
    fld f, g;
    while (next(&r, &f)) {
        if (f.field == 1) o->ir = (int64_t)f.v;
        if (f.field == 8)
            for (rd s = sub(&f); next(&s, &g);)
                if (g.field == 2) o->opset = (int64_t)g.v;
        if (f.field == 14)
            for (rd s = sub(&f); next(&s, &g);)
                if (g.field == 1) {
                    strncat(o->meta_keys, (const char *)g.d, g.len);
                    strcat(o->meta_keys, " ");
                }
        if (f.field != 7) continue;
        for (rd gr = sub(&f); next(&gr, &g);) {
            if (g.field == 1 && o->n_nodes < MAX) node(o, &g);
            if (g.field == 5 && o->n_init < MAX) initializer(o, &g);
            if (g.field == 11) value_info(&g, o->input, &o->input_cols);
            if (g.field == 12) value_info(&g, o->output, &o->output_cols);
        }
    }
    CHECK(!r.bad && r.at == len);
}

/* Every node reads the input, a constant or an earlier node's output. */
static void check_connected(const onnx_model *o)
{
    for (int i = 0; i < o->n_nodes; i++)
        for (int k = 0; k < o->n_in[i]; k++) {
            const char *v = o->in[i][k];
            int known = strcmp(v, "input") == 0;
            for (int j = 0; j < o->n_init && !known; j++) known = strcmp(v, o->init[j]) == 0;
            for (int j = 0; j < i && !known; j++) known = strcmp(v, o->out[j]) == 0;
            CHECK_MSG(known, "node %d (%s) reads %s, which nothing before it makes", i, o->op[i], v);
        }
    CHECK(o->n_nodes > 0 && strcmp(o->out[o->n_nodes - 1], "output") == 0);
}

static const char *ops(const onnx_model *o)
{
    static char s[1024];
    s[0] = '\0';
    for (int i = 0; i < o->n_nodes; i++) {
        strcat(s, i ? " " : "");
        strcat(s, o->op[i]);
    }
    return s;
}

static int find_init(const onnx_model *o, const char *name)
{
    for (int j = 0; j < o->n_init; j++)
        if (strcmp(o->init[j], name) == 0) return j;
    return -1;
}

/* ---- the models ---- */

static void make_shaped(dnn_model *m, const char *json, dnn_shape in)
{
    const int n_in = in.c * in.h * in.w;
    dnn_error err;
    dnn_config c;
    if (dnn_config_from_json(&c, cJSON_Parse(json), "t.json", NULL, NULL, 0, &err) ||
        dnn_model_create(m, &c, in, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    dnn_rng r;
    dnn_rng_seed(&r, 5, 1);
    dnn_net_init(m->net, DNN_INIT_XAVIER, &r);
    for (size_t i = 0; i < m->net->n_state; i++) m->net->state[i] = 1.0f + (float)i;
    m->norm.d = m->impute.d = (size_t)n_in;
    m->norm.shift = calloc((size_t)n_in, sizeof(float));
    m->norm.mul = calloc((size_t)n_in, sizeof(float));
    m->impute.fill = calloc((size_t)n_in, sizeof(float));
    for (int j = 0; j < n_in; j++) m->norm.mul[j] = 1.0f;
}

static void make(dnn_model *m, const char *json, int n_in)
{
    make_shaped(m, json, (dnn_shape){n_in, 1, 1});
}

/* The model's export, and the export read back (both to be freed). */
static onnx_model *exported(const dnn_model *m, uint8_t **buf, size_t *len)
{
    dnn_error err;
    if (dnn_onnx_encode(m, buf, len, &err) != DNN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    onnx_model *o = calloc(1, sizeof *o);
    if (!o) exit(1);
    parse(*buf, *len, o);
    return o;
}

/* A classifier with every preprocessing step and layer kind, and one sigmoid unit for two classes. */
static void test_binary_classifier(void)
{
    dnn_model m;
    make(&m,
         "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\", \"missing\": \"median\"}},"
         " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 80, \"activation\": \"relu\"},"
         " {\"type\": \"batchnorm\", \"epsilon\": 0.01}, {\"type\": \"dropout\", \"rate\": 0.5},"
         " {\"type\": \"dense\", \"units\": 4, \"activation\": \"leaky_relu\", \"negative_slope\": 0.25},"
         " {\"type\": \"dense\", \"units\": 1, \"activation\": \"sigmoid\"}]},"
         " \"loss\": \"binary_cross_entropy\", \"optimizer\": {\"type\": \"adam\"}}",
         300);
    m.norm.shift[7] = 2.0f; /* not the identity: normalisation is exported */
    m.feature_names = calloc(300, sizeof(char *));
    for (int j = 0; j < 300; j++) {
        char name[16];
        snprintf(name, sizeof name, "f\"%d", j); /* a quote, escaped in the metadata's JSON */
        m.feature_names[j] = dnn_strdup(name);
    }
    uint8_t *buf;
    size_t len;
    onnx_model *o = exported(&m, &buf, &len);
    CHECK(o->ir == 7 && o->opset == 13);
    CHECK_MSG(strcmp(ops(o),
                     "IsNaN Where Sub Mul Gemm Relu BatchNormalization Gemm LeakyRelu Gemm Sigmoid Sub "
                     "Concat") == 0,
              "operators: %s", ops(o));
    check_connected(o);
    CHECK(strcmp(o->input, "input") == 0 && o->input_cols == 300);
    CHECK(strcmp(o->output, "output") == 0 && o->output_cols == 2);
    CHECK_MSG(strcmp(o->meta_keys, "dnn_version task classes features missing_values ") == 0, "%s",
              o->meta_keys);
    /* the first layer's weights, [300, 80]: 96,000 bytes, a three-byte length */
    int w = find_init(o, "layer0_W");
    CHECK(w >= 0 && o->init_nd[w] == 2 && o->init_dims[w][0] == 300 && o->init_dims[w][1] == 80);
    CHECK(w >= 0 && o->init_len[w] == 96000 && memcmp(o->init_raw[w], m.net->params, 96000) == 0);
    int var = find_init(o, "layer1_var");
    CHECK(var >= 0 && memcmp(o->init_raw[var], m.net->state + 80, 80 * 4) == 0);
    for (int i = 0; i < o->n_nodes; i++) {
        if (strcmp(o->op[i], "BatchNormalization") == 0) CHECK(o->attr_f[i] == 0.01f);
        if (strcmp(o->op[i], "LeakyRelu") == 0) CHECK(o->attr_f[i] == 0.25f);
        if (strcmp(o->op[i], "Concat") == 0) CHECK(strcmp(o->attr_name[i], "axis") == 0 && o->attr_i[i] == 1);
        if (strcmp(o->op[i], "Gemm") == 0) CHECK(strcmp(o->attr_name[i], "transB") == 0 && o->attr_i[i] == 0);
    }
    /* the feature names in the metadata's JSON, the quote escaped */
    const char *names = "[\"f\\\"0\",\"f\\\"1\",";
    CHECK(memmem(buf, len, names, strlen(names)) != NULL);
    free(o);
    free(buf);
    dnn_model_free(&m);
}

/* A regression that refuses missing values and is not normalised: no fill, no normalisation, the targets'
 * units; softmax and gelu. */
static void test_regression(void)
{
    dnn_model m;
    make(&m,
         "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\"}},"
         " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 5, \"activation\": \"gelu\"},"
         " {\"type\": \"dense\", \"units\": 3, \"activation\": \"tanh\"}, {\"type\": \"dense\", \"units\": "
         "2}]},"
         " \"loss\": \"mse\", \"optimizer\": {\"type\": \"adam\"}}",
         4);
    m.norm.k = 2;
    m.norm.tshift = calloc(2, sizeof(float));
    m.norm.tmul = calloc(2, sizeof(float));
    m.norm.tmul[0] = m.norm.tmul[1] = 0.5f;
    uint8_t *buf;
    size_t len;
    onnx_model *o = exported(&m, &buf, &len);
    CHECK_MSG(strcmp(ops(o), "Gemm Mul Mul Erf Add Mul Gemm Tanh Gemm Div Add") == 0, "operators: %s",
              ops(o));
    check_connected(o);
    CHECK(o->input_cols == 4 && o->output_cols == 2);
    CHECK_MSG(strcmp(o->meta_keys, "dnn_version task targets missing_values ") == 0, "%s", o->meta_keys);
    CHECK(find_init(o, "impute_fill") < 0 && find_init(o, "norm_shift") < 0);
    int c = find_init(o, "c_rsqrt2");
    float v;
    CHECK(c >= 0 && o->init_nd[c] == 0 && o->init_len[c] == 4);
    if (c >= 0) memcpy(&v, o->init_raw[c], 4);
    CHECK(c >= 0 && v == 0.70710678f);
    free(o);
    free(buf);
    dnn_model_free(&m);
}

static void test_softmax(void)
{
    dnn_model m;
    make(&m,
         "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\", \"missing\": \"zero\"}},"
         " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}]},"
         " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\"}}",
         2);
    uint8_t *buf;
    size_t len;
    onnx_model *o = exported(&m, &buf, &len);
    CHECK_MSG(strcmp(ops(o), "IsNaN Where Gemm Softmax") == 0, "operators: %s", ops(o));
    CHECK(o->n_nodes == 4 && strcmp(o->attr_name[3], "axis") == 0 && o->attr_i[3] == 1);
    CHECK(o->output_cols == 3);
    free(o);
    free(buf);
    dnn_model_free(&m);
}

/* A CNN on 3x10x9 images: one Reshape to NCHW before the first image layer (after normalisation, which works
 * on rows), each window's attributes from the layer (the end padding of 'same' at stride 2 on one side
 * alone), per-channel batchnorm, Flatten before the dense layer, GlobalAveragePool and its Flatten. */
static void test_cnn(void)
{
    dnn_model m;
    make_shaped(
        &m,
        "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\"}, \"shape\": [3, 10, 9]},"
        " \"model\": {\"layers\": [{\"type\": \"conv2d\", \"filters\": 4, \"kernel_size\": [3, 2],"
        " \"stride\": 2, \"padding\": \"same\", \"activation\": \"relu\"}, {\"type\": \"batchnorm\"},"
        " {\"type\": \"maxpool2d\", \"pool_size\": [1, 2], \"stride\": 1},"
        " {\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"padding\": [1, 2]},"
        " {\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"avgpool2d\", \"pool_size\": [5, 3]},"
        " {\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}]},"
        " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\"}}",
        (dnn_shape){3, 10, 9});
    m.norm.shift[0] = 1.0f;
    uint8_t *buf;
    size_t len;
    onnx_model *o = exported(&m, &buf, &len);
    const char *chain =
        "Sub Mul Reshape Conv Relu BatchNormalization MaxPool Conv AveragePool Flatten Gemm Softmax";
    CHECK_MSG(strcmp(ops(o), chain) == 0, "operators: %s", ops(o));
    check_connected(o);
    CHECK(o->input_cols == 270 && o->output_cols == 3);
    int shape = find_init(o, "layer0_shape");
    const int64_t nchw[4] = {0, 3, 10, 9};
    CHECK(shape >= 0 && o->init_type[shape] == 7 && o->init_len[shape] == 32 &&
          memcmp(o->init_raw[shape], nchw, 32) == 0);
    /* 10x9 at stride 2, 'same': 5x5 outputs; rows: (5-1)*2+3-10 = 1 padding row, after; columns: 8+2-9 = 1 */
    const char *want[] = {"kernel_shape=3,2 strides=2,2 pads=0,0,1,1 ", "kernel_shape=1,2 strides=1,1 ",
                          "kernel_shape=3,3 strides=1,1 pads=1,2,1,2 ", "kernel_shape=5,3 strides=5,3 "};
    for (int i = 0, k = 0; i < o->n_nodes; i++)
        if (strstr("Conv MaxPool AveragePool", o->op[i]) && k < 4) {
            CHECK_MSG(strcmp(o->attr_ints[i], want[k]) == 0, "%s: %s, expected %s", o->op[i], o->attr_ints[i],
                      want[k]);
            k++;
        }
    /* conv weights [F][C][kh][kw] as the network holds them; batchnorm's statistics one per channel */
    int w = find_init(o, "layer0_W"), var = find_init(o, "layer1_var");
    CHECK(w >= 0 && o->init_nd[w] == 4 && o->init_dims[w][0] == 4 && o->init_dims[w][1] == 3 &&
          o->init_dims[w][2] == 3 && o->init_dims[w][3] == 2);
    CHECK(w >= 0 && o->init_len[w] == 4 * 72 && memcmp(o->init_raw[w], m.net->params, 4 * 72) == 0);
    CHECK(var >= 0 && o->init_len[var] == 16 &&
          memcmp(o->init_raw[var], m.net->state + m.net->layers[1].s + 4, 16) == 0);
    free(o);
    free(buf);
    dnn_model_free(&m);

    /* global average pooling gives rows: Flatten after it, no Reshape before the dense layer */
    make_shaped(&m,
                "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\"}, \"shape\": [2, 4, 4]},"
                " \"model\": {\"layers\": [{\"type\": \"conv2d\", \"filters\": 5, \"kernel_size\": 3},"
                " {\"type\": \"global_avgpool\"}, {\"type\": \"batchnorm\"},"
                " {\"type\": \"dense\", \"units\": 2, \"activation\": \"softmax\"}]},"
                " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\"}}",
                (dnn_shape){2, 4, 4});
    o = exported(&m, &buf, &len);
    CHECK_MSG(strcmp(ops(o), "Reshape Conv GlobalAveragePool Flatten BatchNormalization Gemm Softmax") == 0,
              "operators: %s", ops(o));
    check_connected(o);
    free(o);
    free(buf);
    dnn_model_free(&m);
}

int main(void)
{
    test_binary_classifier();
    test_regression();
    test_softmax();
    test_cnn();
    return check_done("test_onnx");
}
