/* ONNX export: the model's inference path as a list of operators, then written as an onnx.ModelProto in
 * protobuf's wire format by the small encoder below (varints, tags and length-prefixed fields are all an
 * ONNX file needs; the schema's field numbers are onnx.proto's). */
#include "dnn/onnx.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/util.h"

/* ---- protobuf wire format ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} pb;

enum { WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_I32 = 5 };

static void pb_raw(pb *b, const void *d, size_t n)
{
    if (b->oom || n == 0) return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

/* Seven bits a byte, low first; the high bit says another byte follows. */
static void pb_varint(pb *b, uint64_t v)
{
    uint8_t t[10];
    int k = 0;
    do {
        t[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, t, (size_t)k);
}

static void pb_tag(pb *b, unsigned field, unsigned wire)
{
    pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_int(pb *b, unsigned field, int64_t v)
{
    pb_tag(b, field, WIRE_VARINT);
    pb_varint(b, (uint64_t)v); /* a negative int64 is its two's complement, ten bytes */
}

static void pb_bytes(pb *b, unsigned field, const void *d, size_t n)
{
    pb_tag(b, field, WIRE_LEN);
    pb_varint(b, n);
    pb_raw(b, d, n);
}

static void pb_str(pb *b, unsigned field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

static void pb_float(pb *b, unsigned field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t q[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    pb_tag(b, field, WIRE_I32);
    pb_raw(b, q, 4);
}

/* Append a finished sub-message as a field of b, and free it. */
static void pb_msg(pb *b, unsigned field, pb *child)
{
    if (child->oom) b->oom = 1;
    pb_bytes(b, field, child->p, child->n);
    free(child->p);
    memset(child, 0, sizeof *child);
}

/* ---- onnx.proto's messages ---- */

enum { ONNX_FLOAT = 1, ONNX_INT64 = 7 };              /* TensorProto.DataType */
enum { ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7 }; /* AttributeProto.AttributeType */

/* A tensor (TensorProto) named name of shape dims, of floats (size 4) or int64 (size 8) values x, its data
 * little-endian in raw_data. */
static void tensor_proto(pb *t, const char *name, const int64_t *dims, int nd, int type, const void *x,
                         size_t size)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        pb_int(t, 1, dims[i]);
        n *= (size_t)dims[i];
    }
    pb_int(t, 2, type);
    pb_str(t, 8, name);
    pb_tag(t, 9, WIRE_LEN);
    pb_varint(t, size * (uint64_t)n);
    const uint8_t *p = x;
    for (size_t i = 0; i < n; i++, p += size) {
        uint64_t u = 0;
        if (size == 4) {
            uint32_t v;
            memcpy(&v, p, 4);
            u = v;
        } else {
            memcpy(&u, p, 8);
        }
        uint8_t q[8];
        for (size_t k = 0; k < size; k++) q[k] = (uint8_t)(u >> 8 * k);
        pb_raw(t, q, size);
    }
}

/* A float tensor's ValueInfoProto of shape [N, cols], N named "N" (any batch size). */
static void value_info(pb *g, unsigned field, const char *name, int64_t cols)
{
    pb vi = {0}, type = {0}, tensor = {0}, shape = {0}, dim = {0};
    pb_str(&dim, 2, "N"); /* Dimension.dim_param */
    pb_msg(&shape, 1, &dim);
    pb_int(&dim, 1, cols); /* Dimension.dim_value */
    pb_msg(&shape, 1, &dim);
    pb_int(&tensor, 1, ONNX_FLOAT);
    pb_msg(&tensor, 2, &shape);
    pb_msg(&type, 1, &tensor); /* TypeProto.tensor_type */
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(g, field, &vi);
}

/* ---- the graph: operators in order, each reading named values and writing one ---- */

typedef struct {
    const char *name;
    int type; /* ATTR_FLOAT, ATTR_INT or ATTR_INTS */
    float f;
    int64_t i;
    int64_t ints[4];
    int n_ints;
} attr;

enum { MAX_IN = 5, MAX_ATTR = 6, NAME = 48 };

typedef struct {
    const char *op;
    char in[MAX_IN][NAME];
    int n_in;
    char out[NAME];
    attr attrs[MAX_ATTR];
    int n_attrs;
} op;

typedef struct {
    op *ops;
    int n_ops, cap_ops;
    pb inits;        /* GraphProto.initializer fields, in order */
    char cur[NAME];  /* the value the next step reads: the data flowing through the model */
    int image;       /* whether it is [N, C, H, W] (after image layers) rather than [N, features] */
    unsigned consts; /* the shared scalar constants already written (bit per constant) */
    int oom;
} graph;

/* An operator of type reading ins[0..n_in); returns its index, or -1 when out of memory. Its output is named
 * prefix_<index>. */
static int node(graph *g, const char *type, const char *prefix, const char *const *ins, int n_in)
{
    char in[MAX_IN][NAME]; /* copied first: an input may name an earlier operator's output, which may move */
    for (int i = 0; i < n_in && i < MAX_IN; i++) snprintf(in[i], NAME, "%s", ins[i]);
    if (g->n_ops == g->cap_ops) {
        int cap = g->cap_ops ? 2 * g->cap_ops : 32;
        op *o = realloc(g->ops, (size_t)cap * sizeof *o);
        if (!o) {
            g->oom = 1;
            return -1;
        }
        g->ops = o, g->cap_ops = cap;
    }
    op *o = &g->ops[g->n_ops];
    memset(o, 0, sizeof *o);
    o->op = type;
    for (int i = 0; i < n_in && i < MAX_IN; i++) memcpy(o->in[o->n_in++], in[i], NAME);
    snprintf(o->out, NAME, "%s_%d", prefix, g->n_ops);
    return g->n_ops++;
}

/* An operator on the current value (and up to two more); its output becomes the current value. */
static int step(graph *g, const char *type, const char *prefix, const char *b, const char *c)
{
    const char *ins[3] = {g->cur, b, c};
    int i = node(g, type, prefix, ins, 1 + (b != NULL) + (c != NULL));
    if (i >= 0) snprintf(g->cur, NAME, "%s", g->ops[i].out);
    return i;
}

static void set_attr(graph *g, int i, attr a)
{
    if (i >= 0 && g->ops[i].n_attrs < MAX_ATTR) g->ops[i].attrs[g->ops[i].n_attrs++] = a;
}

/* A constant tensor (an initializer) named name. */
static void constant(graph *g, const char *name, const int64_t *dims, int nd, const float *x)
{
    pb t = {0};
    tensor_proto(&t, name, dims, nd, ONNX_FLOAT, x, 4);
    pb_msg(&g->inits, 5, &t);
}

static void constant_ints(graph *g, const char *name, const int64_t *x, int64_t n)
{
    pb t = {0};
    tensor_proto(&t, name, &n, 1, ONNX_INT64, x, 8);
    pb_msg(&g->inits, 5, &t);
}

static void vector(graph *g, const char *name, const float *x, int64_t n)
{
    constant(g, name, &n, 1, x);
}

/* A shared scalar constant, written once, on first use (an unused initializer draws warnings). */
static const char *scalar(graph *g, int id)
{
    static const char *const names[] = {"c_one", "c_half", "c_rsqrt2"};
    static const float values[] = {1.0f, 0.5f, 0.70710678f};
    if (!(g->consts & 1u << id)) constant(g, names[id], NULL, 0, &values[id]);
    g->consts |= 1u << id;
    return names[id];
}
enum { C_ONE, C_HALF, C_RSQRT2 };

/* ---- the model's inference path ---- */

static void preprocess(graph *g, const dnn_model *m)
{
    const int64_t d = m->net->n_in;
    if (dnn_model_fills_missing(m)) {
        /* x = IsNaN(x) ? fill : x; models trained to refuse missing values let NaN through to the output */
        vector(g, "impute_fill", m->impute.fill, d);
        const char *x[1] = {g->cur};
        int nan = node(g, "IsNaN", "missing", x, 1);
        if (nan < 0) return;
        const char *w[3] = {g->ops[nan].out, "impute_fill", g->cur};
        int i = node(g, "Where", "imputed", w, 3);
        if (i >= 0) snprintf(g->cur, NAME, "%s", g->ops[i].out);
    }
    int identity = 1;
    for (int64_t j = 0; j < d; j++) identity &= m->norm.shift[j] == 0.0f && m->norm.mul[j] == 1.0f;
    if (identity) return;
    /* (x - shift) * mul, as the training batches were normalised */
    vector(g, "norm_shift", m->norm.shift, d);
    vector(g, "norm_mul", m->norm.mul, d);
    step(g, "Sub", "centred", "norm_shift", NULL);
    step(g, "Mul", "normalised", "norm_mul", NULL);
}

/* 0.5 z (1 + erf(z / sqrt 2)) in the order net.c computes it: opset 13 has no Gelu. */
static void gelu(graph *g)
{
    char z[NAME];
    snprintf(z, NAME, "%s", g->cur);
    int half = step(g, "Mul", "gelu_half", scalar(g, C_HALF), NULL);
    if (half < 0) return;
    char h[NAME];
    snprintf(h, NAME, "%s", g->ops[half].out);
    snprintf(g->cur, NAME, "%s", z);
    step(g, "Mul", "gelu_scaled", scalar(g, C_RSQRT2), NULL);
    step(g, "Erf", "gelu_erf", NULL, NULL);
    step(g, "Add", "gelu_cdf", scalar(g, C_ONE), NULL);
    step(g, "Mul", "gelu", h, NULL);
}

static void activation(graph *g, const dnn_layer *L)
{
    switch (L->act) {
    case DNN_ACT_LINEAR: break;
    case DNN_ACT_RELU: step(g, "Relu", "relu", NULL, NULL); break;
    case DNN_ACT_LEAKY_RELU:
        set_attr(g, step(g, "LeakyRelu", "leaky_relu", NULL, NULL),
                 (attr){.name = "alpha", .type = ATTR_FLOAT, .f = L->slope});
        break;
    case DNN_ACT_SIGMOID: step(g, "Sigmoid", "sigmoid", NULL, NULL); break;
    case DNN_ACT_TANH: step(g, "Tanh", "tanh", NULL, NULL); break;
    case DNN_ACT_SOFTMAX:
        set_attr(g, step(g, "Softmax", "softmax", NULL, NULL),
                 (attr){.name = "axis", .type = ATTR_INT, .i = 1});
        break;
    case DNN_ACT_GELU: gelu(g); break;
    }
}

static void dense(graph *g, const dnn_net *net, const dnn_layer *L, int l)
{
    char w[NAME], b[NAME];
    snprintf(w, NAME, "layer%d_W", l);
    snprintf(b, NAME, "layer%d_b", l);
    /* W is stored [in, out]: Gemm's B as it is, y = x W + b */
    int64_t dims[2] = {L->in, L->out};
    constant(g, w, dims, 2, net->params + L->w);
    vector(g, b, net->params + L->b, L->out);
    set_attr(g, step(g, "Gemm", "dense", w, b), (attr){.name = "transB", .type = ATTR_INT, .i = 0});
    activation(g, L);
}

/* Inference-mode batchnorm with the running statistics: (x - mean) / sqrt(var + eps) * gamma + beta, per
 * channel of [N, C, H, W] after image layers (as the network keeps them), per feature of [N, features]. */
static void batchnorm(graph *g, const dnn_net *net, const dnn_layer *L, int l)
{
    static const char *const what[4] = {"gamma", "beta", "mean", "var"};
    const int n = L->in_maps ? L->in_shape.c : L->in;
    const float *src[4] = {net->params + L->w, net->params + L->b, net->state + L->s,
                           net->state + L->s + (size_t)n};
    char names[5][NAME];
    snprintf(names[0], NAME, "%s", g->cur);
    const char *ins[5] = {names[0], names[1], names[2], names[3], names[4]};
    for (int i = 0; i < 4; i++) {
        snprintf(names[i + 1], NAME, "layer%d_%s", l, what[i]);
        vector(g, names[i + 1], src[i], n);
    }
    int i = node(g, "BatchNormalization", "batchnorm", ins, 5);
    if (i < 0) return;
    set_attr(g, i, (attr){.name = "epsilon", .type = ATTR_FLOAT, .f = L->eps});
    snprintf(g->cur, NAME, "%s", g->ops[i].out);
}

/* ---- image layers: on [N, C, H, W], the layout of ONNX's operators and of a sample's values in a row ----
 */

static attr ints_attr(const char *name, int64_t a, int64_t b, int64_t c, int64_t d, int n)
{
    return (attr){.name = name, .type = ATTR_INTS, .ints = {a, b, c, d}, .n_ints = n};
}

/* Rows [N, C*H*W] as images [N, C, H, W] of shape s, before the first image layer (a row holds a sample's
 * values channel by channel, row by row). */
static void to_image(graph *g, dnn_shape s, int l)
{
    if (g->image) return;
    char name[NAME];
    snprintf(name, NAME, "layer%d_shape", l);
    const int64_t dims[4] = {0, s.c, s.h, s.w}; /* 0: the batch dimension as it is */
    constant_ints(g, name, dims, 4);
    step(g, "Reshape", "images", name, NULL);
    g->image = 1;
}

/* Images [N, C, H, W] back to rows [N, C*H*W], in the same order as flatten's. */
static void to_rows(graph *g)
{
    if (!g->image) return;
    set_attr(g, step(g, "Flatten", "flatten", NULL, NULL), (attr){.name = "axis", .type = ATTR_INT, .i = 1});
    g->image = 0;
}

/* The window's attributes: its size, strides and, for a convolution, the zero rows and columns before and
 * after (those after are what the output size needs beyond the input: 'same' at stride 2 pads one side). */
static void window_attrs(graph *g, int i, const dnn_window *w, int padded)
{
    set_attr(g, i, ints_attr("kernel_shape", w->kh, w->kw, 0, 0, 2));
    set_attr(g, i, ints_attr("strides", w->sh, w->sw, 0, 0, 2));
    if (!padded) return;
    int64_t bottom = (int64_t)(w->oh - 1) * w->sh + w->kh - w->h - w->ph;
    int64_t right = (int64_t)(w->ow - 1) * w->sw + w->kw - w->w - w->pw;
    set_attr(g, i, ints_attr("pads", w->ph, w->pw, bottom, right, 4));
}

static void conv2d(graph *g, const dnn_net *net, const dnn_layer *L, int l)
{
    to_image(g, L->in_shape, l);
    char w[NAME], b[NAME];
    snprintf(w, NAME, "layer%d_W", l);
    snprintf(b, NAME, "layer%d_b", l);
    const dnn_window *win = &L->win;
    int64_t dims[4] = {L->out_shape.c, win->c, win->kh, win->kw}; /* dnn's order is ONNX's */
    constant(g, w, dims, 4, net->params + L->w);
    vector(g, b, net->params + L->b, L->out_shape.c);
    window_attrs(g, step(g, "Conv", "conv", w, b), win, 1);
    activation(g, L);
}

static void pool(graph *g, const dnn_layer *L, int l)
{
    to_image(g, L->in_shape, l);
    int max = L->kind == DNN_LAYER_MAXPOOL2D;
    window_attrs(g, step(g, max ? "MaxPool" : "AveragePool", max ? "maxpool" : "avgpool", NULL, NULL),
                 &L->win, 0);
}

static void global_avgpool(graph *g, const dnn_layer *L, int l)
{
    to_image(g, L->in_shape, l);
    step(g, "GlobalAveragePool", "global_avgpool", NULL, NULL); /* [N, C, 1, 1] */
    to_rows(g);
}

static void layers(graph *g, const dnn_model *m)
{
    const dnn_net *net = m->net;
    for (int l = 0; l < net->n_layers; l++) {
        const dnn_layer *L = &net->layers[l];
        switch (L->kind) {
        case DNN_LAYER_DENSE: dense(g, net, L, l); break;
        case DNN_LAYER_DROPOUT: break; /* inference keeps every unit; training scaled the kept ones already */
        case DNN_LAYER_BATCHNORM: batchnorm(g, net, L, l); break;
        case DNN_LAYER_CONV2D: conv2d(g, net, L, l); break;
        case DNN_LAYER_MAXPOOL2D:
        case DNN_LAYER_AVGPOOL2D: pool(g, L, l); break;
        case DNN_LAYER_FLATTEN: to_rows(g); break;
        case DNN_LAYER_GLOBAL_AVGPOOL: global_avgpool(g, L, l); break;
        }
    }
}

/* The network's output as dnneval reports it: both classes of a single sigmoid unit, or regression values
 * in the targets' units. */
static void postprocess(graph *g, const dnn_model *m)
{
    const int k = m->net->n_out;
    if (m->cfg.task == DNN_TASK_CLASSIFICATION && k == 1) {
        char p[NAME];
        snprintf(p, NAME, "%s", g->cur);
        const char *ins[2] = {scalar(g, C_ONE), p};
        int neg = node(g, "Sub", "p_negative", ins, 2);
        if (neg < 0) return;
        const char *both[2] = {g->ops[neg].out, p};
        set_attr(g, node(g, "Concat", "probabilities", both, 2),
                 (attr){.name = "axis", .type = ATTR_INT, .i = 1});
    } else if (m->cfg.task == DNN_TASK_REGRESSION && m->norm.k) {
        vector(g, "target_mul", m->norm.tmul, k);
        vector(g, "target_shift", m->norm.tshift, k);
        step(g, "Div", "unscaled", "target_mul", NULL);
        step(g, "Add", "targets", "target_shift", NULL);
    }
}

/* ---- writing the ModelProto ---- */

static void node_proto(pb *gp, const op *o, const char *out)
{
    pb n = {0};
    for (int i = 0; i < o->n_in; i++) pb_str(&n, 1, o->in[i]);
    pb_str(&n, 2, out);
    pb_str(&n, 3, out); /* the node's name: its output's */
    pb_str(&n, 4, o->op);
    for (int i = 0; i < o->n_attrs; i++) {
        const attr *a = &o->attrs[i];
        pb at = {0};
        pb_str(&at, 1, a->name);
        pb_int(&at, 20, a->type);
        if (a->type == ATTR_FLOAT) pb_float(&at, 2, a->f);
        if (a->type == ATTR_INT) pb_int(&at, 3, a->i);
        for (int j = 0; a->type == ATTR_INTS && j < a->n_ints; j++) pb_int(&at, 8, a->ints[j]);
        pb_msg(&n, 5, &at);
    }
    pb_msg(gp, 1, &n);
}

/* names as a JSON array of strings ("0", "1", ... when there are none); NULL when out of memory */
static char *names_json(char *const *names, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        cJSON *item = cJSON_CreateString(names ? names[i] : idx);
        if (!item || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

static void metadata(pb *mp, const char *key, const char *value)
{
    pb e = {0};
    pb_str(&e, 1, key);
    pb_str(&e, 2, value ? value : "");
    pb_msg(mp, 14, &e);
    if (!value) mp->oom = 1;
}

static void model_metadata(pb *mp, const dnn_model *m)
{
    const int cls = m->cfg.task == DNN_TASK_CLASSIFICATION;
    metadata(mp, "dnn_version", dnn_version());
    metadata(mp, "task", dnn_task_name(m->cfg.task));
    char *s;
    if (cls) {
        metadata(mp, "classes", s = names_json(m->class_names, m->n_classes));
        free(s);
    } else {
        metadata(mp, "targets", s = names_json(m->target_names, m->net->n_out));
        free(s);
    }
    if (m->feature_names) {
        metadata(mp, "features", s = names_json(m->feature_names, m->net->n_in));
        free(s);
    }
    metadata(mp, "missing_values",
             dnn_model_fills_missing(m) ? "filled as in training" : "not filled: NaN in, NaN out");
}

dnn_status dnn_onnx_encode(const dnn_model *m, uint8_t **buf, size_t *len, dnn_error *err)
{
    *buf = NULL;
    *len = 0;
    graph g = {0};
    snprintf(g.cur, NAME, "input");
    preprocess(&g, m);
    layers(&g, m);
    postprocess(&g, m);
    const int n_out = m->cfg.task == DNN_TASK_CLASSIFICATION ? m->n_classes : m->net->n_out;

    pb gp = {0}, mp = {0}, opset = {0};
    for (int i = 0; i < g.n_ops; i++) node_proto(&gp, &g.ops[i], i == g.n_ops - 1 ? "output" : g.ops[i].out);
    if (g.n_ops == 0) { /* a network of dropout layers alone, unnormalised: output = input */
        op id = {.op = "Identity", .n_in = 1, .in = {"input"}};
        node_proto(&gp, &id, "output");
    }
    pb_str(&gp, 2, "dnn");
    if (g.inits.oom) gp.oom = 1;
    pb_raw(&gp, g.inits.p, g.inits.n);
    free(g.inits.p);
    free(g.ops);
    value_info(&gp, 11, "input", m->net->n_in);
    value_info(&gp, 12, "output", n_out);

    pb_int(&mp, 1, DNN_ONNX_IR_VERSION);
    pb_str(&mp, 2, "dnn");
    pb_str(&mp, 3, dnn_version());
    pb_msg(&mp, 7, &gp);
    pb_str(&opset, 1, ""); /* the default domain, ai.onnx */
    pb_int(&opset, 2, DNN_ONNX_OPSET);
    pb_msg(&mp, 8, &opset);
    model_metadata(&mp, m);
    if (mp.oom || g.oom) {
        free(mp.p);
        return dnn_fail_oom(err, "the ONNX model", mp.n);
    }
    *buf = mp.p;
    *len = mp.n;
    return DNN_OK;
}

dnn_status dnn_onnx_save(const char *path, const dnn_model *m, dnn_error *err)
{
    uint8_t *buf;
    size_t len;
    dnn_status st = dnn_onnx_encode(m, &buf, &len, err);
    if (st) return st;
    st = dnn_write_atomic(path, buf, len, err);
    free(buf);
    return st;
}
