/* Network and loss tests: every gradient against central finite differences, and the forward pass against
 * values computed by hand. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "check.h"
#include "dnn/config.h"
#include "dnn/loss.h"
#include "dnn/net.h"
#include "dnn/rng.h"

static int make_config(dnn_config *c, const char *json)
{
    dnn_error err = {0};
    cJSON *j = cJSON_Parse(json);
    if (!j || dnn_config_from_json(c, j, "test.json", NULL, NULL, 0, &err)) {
        fprintf(stderr, "bad test config: %s\n%s\n", err.msg, json);
        return -1;
    }
    return 0;
}

typedef struct {
    dnn_net *net;
    dnn_config cfg;
    int b, k, n_in;
    float *x, *t;
    int32_t *y;
    dnn_rng rng0; /* dropout draws restart from here on every pass, so the mask is fixed */
    int eval;     /* differentiate the evaluation-mode passes (dropout off, batchnorm's running statistics) */
} problem;

/* The mean loss of the batch plus the l2 penalty, as the trainer optimises it. */
static double objective(problem *p)
{
    dnn_rng r = p->rng0;
    const dnn_layer *out = &p->net->layers[p->net->n_layers - 1];
    const float *a = dnn_net_forward(p->net, p->x, p->b, !p->eval, &r);
    double loss =
        dnn_loss(p->cfg.loss, out->act, out->slope, dnn_net_logits(p->net), a, p->b, p->k, p->y, p->t, NULL);
    double pen = 0;
    for (int l = 0; l < p->net->n_layers; l++) {
        const dnn_layer *L = &p->net->layers[l];
        for (size_t i = 0; i < L->nw; i++)
            pen += L->l2 * (double)p->net->params[L->w + i] * p->net->params[L->w + i];
    }
    return loss / p->b + pen;
}

/* Compare backprop's gradient with central differences for every parameter; returns the worst relative
 * error. */
static double grad_check(problem *p, const char *name)
{
    dnn_net *net = p->net;
    dnn_rng r = p->rng0;
    const dnn_layer *out = &net->layers[net->n_layers - 1];
    const float *a = dnn_net_forward(net, p->x, p->b, !p->eval, &r);
    dnn_loss(p->cfg.loss, out->act, out->slope, dnn_net_logits(net), a, p->b, p->k, p->y, p->t,
             dnn_net_output_grad(net));
    dnn_net_backward(net, p->x, p->b);
    float *analytic = malloc(net->n_params * sizeof(float));
    memcpy(analytic, net->grads, net->n_params * sizeof(float));
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < net->n_params; i++) {
        /* Several step sizes: a ReLU kink near the point spoils a large step, float rounding a tiny one;
         * a wrong gradient disagrees at every step. */
        double best = INFINITY;
        float keep = net->params[i];
        for (float h = 1e-2f; h > 5e-5f; h /= 10) {
            net->params[i] = keep + h;
            double up = objective(p);
            net->params[i] = keep - h;
            double down = objective(p);
            net->params[i] = keep;
            double numeric = (up - down) / (2.0 * h);
            double e = fabs(numeric - analytic[i]) / fmax(fabs(numeric) + fabs(analytic[i]), 1e-2);
            if (e < best) best = e;
        }
        if (best > worst) worst = best, worst_i = i;
    }
    if (worst > 2e-2)
        fprintf(stderr,
                "%s: parameter %zu: analytic %.6g disagrees with finite differences (relative error %.3g)\n",
                name, worst_i, analytic[worst_i], worst);
    free(analytic);
    return worst;
}

/* Central differences of the objective against dL/dx of the input from the backward pass; the worst relative
 * error over the input's values. */
static double input_grad_check(problem *p, const char *name)
{
    dnn_net *net = p->net;
    dnn_rng r = p->rng0;
    const dnn_layer *out = &net->layers[net->n_layers - 1];
    const float *a = dnn_net_forward(net, p->x, p->b, !p->eval, &r);
    dnn_loss(p->cfg.loss, out->act, out->slope, dnn_net_logits(net), a, p->b, p->k, p->y, p->t,
             dnn_net_output_grad(net));
    size_t n = (size_t)p->b * p->n_in;
    float *dx = malloc(n * sizeof(float));
    dnn_net_backward_input(net, p->x, p->b, dx);
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        float keep = p->x[i];
        for (float h = 1e-2f; h > 5e-5f; h /= 10) {
            p->x[i] = keep + h;
            double up = objective(p);
            p->x[i] = keep - h;
            double down = objective(p);
            p->x[i] = keep;
            double numeric = (up - down) / (2.0 * h);
            best = fmin(best, fabs(numeric - dx[i]) / fmax(fabs(numeric) + fabs(dx[i]), 1e-2));
        }
        if (best > worst) worst = best, worst_i = i;
    }
    if (worst > 2e-2)
        fprintf(stderr, "%s: input %zu: dL/dx %.6g disagrees with finite differences (relative error %.3g)\n",
                name, worst_i, dx[worst_i], worst);
    free(dx);
    return worst;
}

static int setup_shaped(problem *p, const char *json, int b, dnn_shape in, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    if (make_config(&p->cfg, json)) {
        check_failures++;
        return -1;
    }
    dnn_error err;
    int n_in = in.c * in.h * in.w;
    if (dnn_net_create(&p->net, &p->cfg, in, 8, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        check_failures++;
        return -1;
    }
    dnn_rng r;
    dnn_rng_seed(&r, seed, 1);
    dnn_net_init(p->net, DNN_INIT_XAVIER, &r);
    /* non-zero biases and batchnorm scales exercise their gradients */
    for (size_t i = 0; i < p->net->n_params; i++) p->net->params[i] += 0.1f * (float)dnn_rng_normal(&r);
    p->b = b;
    p->n_in = n_in;
    p->k = p->net->n_out;
    p->x = malloc((size_t)b * n_in * sizeof(float));
    p->t = malloc((size_t)b * p->k * sizeof(float));
    p->y = malloc((size_t)b * sizeof(int32_t));
    for (int i = 0; i < b * n_in; i++) p->x[i] = (float)dnn_rng_normal(&r);
    for (int i = 0; i < b * p->k; i++) p->t[i] = (float)dnn_rng_normal(&r);
    for (int i = 0; i < b; i++) p->y[i] = (int32_t)dnn_rng_below(&r, p->k == 1 ? 2 : (uint64_t)p->k);
    dnn_rng_seed(&p->rng0, seed, 9);
    return 0;
}

static int setup(problem *p, const char *json, int b, int n_in, uint64_t seed)
{
    return setup_shaped(p, json, b, (dnn_shape){n_in, 1, 1}, seed);
}

static void teardown(problem *p)
{
    dnn_net_free(p->net);
    dnn_config_free(&p->cfg);
    free(p->x);
    free(p->t);
    free(p->y);
}

static char *config_json(const char *layers, const char *loss)
{
    static char buf[2048];
    snprintf(
        buf, sizeof buf,
        "{\"data\": {\"train\": {\"format\": \"idx\", \"images\": \"x\"}}, \"model\": {\"layers\": [%s]}, "
        "\"loss\": \"%s\", \"optimizer\": \"sgd\"}",
        layers, loss);
    return buf;
}

static void test_gradients(void)
{
    const char *acts[] = {"linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu"};
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
        char layers[512], name[128];
        /* each hidden activation, under each of the three losses */
        const char *outs[][2] = {
            {"{\"type\": \"dense\", \"units\": 4, \"activation\": \"softmax\"}", "cross_entropy"},
            {"{\"type\": \"dense\", \"units\": 1, \"activation\": \"sigmoid\"}", "binary_cross_entropy"},
            {"{\"type\": \"dense\", \"units\": 3, \"activation\": \"linear\"}", "mse"}};
        for (int o = 0; o < 3; o++) {
            snprintf(layers, sizeof layers,
                     "{\"type\": \"dense\", \"units\": 6, \"activation\": \"%s\"}, "
                     "{\"type\": \"dense\", \"units\": 5, \"activation\": \"%s\"}, %s",
                     acts[i], acts[i], outs[o][0]);
            snprintf(name, sizeof name, "%s hidden, %s", acts[i], outs[o][1]);
            problem p;
            if (setup(&p, config_json(layers, outs[o][1]), 5, 4, 11 + i)) continue;
            CHECK_MSG(grad_check(&p, name) < 2e-2, "%s", name);
            teardown(&p);
        }
    }
    /* mse through every output activation, softmax's Jacobian included */
    const char *outs[] = {"linear", "sigmoid", "tanh", "softmax", "relu", "leaky_relu", "gelu"};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
        char layers[512], name[128];
        snprintf(layers, sizeof layers,
                 "{\"type\": \"dense\", \"units\": 6, \"activation\": \"tanh\"}, "
                 "{\"type\": \"dense\", \"units\": 3, \"activation\": \"%s\"}",
                 outs[i]);
        snprintf(name, sizeof name, "mse through %s output", outs[i]);
        problem p;
        if (setup(&p, config_json(layers, "mse"), 6, 3, 40 + i)) continue;
        CHECK_MSG(grad_check(&p, name) < 2e-2, "%s", name);
        teardown(&p);
    }
}

static void test_regularisers(void)
{
    struct {
        const char *name, *layers, *loss;
    } cases[] = {
        {"l2",
         "{\"type\": \"dense\", \"units\": 5, \"activation\": \"tanh\", \"l2\": 0.05}, "
         "{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\", \"l2\": 0.01}",
         "cross_entropy"},
        {"dropout",
         "{\"type\": \"dense\", \"units\": 8, \"activation\": \"tanh\"}, {\"type\": \"dropout\", \"rate\": "
         "0.5}, "
         "{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}",
         "cross_entropy"},
        {"batchnorm",
         "{\"type\": \"dense\", \"units\": 5, \"activation\": \"linear\"}, {\"type\": \"batchnorm\"}, "
         "{\"type\": \"dense\", \"units\": 4, \"activation\": \"tanh\"}, {\"type\": \"batchnorm\"}, "
         "{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}",
         "cross_entropy"},
        {"batchnorm first",
         "{\"type\": \"batchnorm\"}, {\"type\": \"dense\", \"units\": 2, \"activation\": \"linear\"}", "mse"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        problem p;
        if (setup(&p, config_json(cases[i].layers, cases[i].loss), 7, 4, 77 + i)) continue;
        CHECK_MSG(grad_check(&p, cases[i].name) < 2e-2, "%s", cases[i].name);
        teardown(&p);
    }
}

/* Image layers: every parameter's gradient and the input's, against central differences, for every padding
 * and stride, odd sizes, both batch layouts, and pooling, batchnorm and dropout on feature maps. */
static void test_image_gradients(void)
{
    const char *ce = "cross_entropy",
               *out = "{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}";
    struct {
        const char *name, *layers;
        dnn_shape in;
    } cases[] = {
        {"conv valid",
         "{\"type\": \"conv2d\", \"filters\": 3, \"kernel_size\": 3, \"activation\": \"tanh\"}, "
         "{\"type\": \"flatten\"}",
         {2, 5, 7}},
        {"conv same stride 2",
         "{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"stride\": 2, \"padding\": \"same\", "
         "\"activation\": \"sigmoid\"}, {\"type\": \"flatten\"}",
         {2, 5, 7}},
        {"conv numeric padding, oblong kernel and stride, l2",
         "{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": [3, 2], \"stride\": [2, 1], \"padding\": "
         "[1, 2], "
         "\"activation\": \"leaky_relu\", \"l2\": 0.01}, {\"type\": \"flatten\"}",
         {1, 5, 4}},
        {"conv same even kernel",
         "{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 2, \"padding\": \"same\", \"activation\": "
         "\"gelu\"}, {\"type\": \"flatten\"}",
         {2, 3, 5}},
        {"conv, maxpool",
         "{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": "
         "\"tanh\"}, {\"type\": \"maxpool2d\", \"pool_size\": [2, 3]}, {\"type\": \"flatten\"}",
         {1, 4, 6}},
        {"conv, maxpool 2x2",
         "{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": "
         "\"relu\"}, {\"type\": \"maxpool2d\"}, {\"type\": \"flatten\"}",
         {1, 6, 4}},
        {"conv, overlapping avgpool, global_avgpool",
         "{\"type\": \"conv2d\", \"filters\": 3, \"kernel_size\": 2, \"activation\": \"tanh\"}, "
         "{\"type\": \"avgpool2d\", \"pool_size\": 3, \"stride\": 2}, {\"type\": \"global_avgpool\"}",
         {2, 6, 8}},
        {"conv, batchnorm, dropout, conv, maxpool",
         "{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"padding\": 1}, {\"type\": "
         "\"batchnorm\"}, "
         "{\"type\": \"dropout\", \"rate\": 0.3}, {\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, "
         "\"activation\": \"tanh\"}, {\"type\": \"maxpool2d\", \"pool_size\": 3, \"stride\": 1}, "
         "{\"type\": \"flatten\"}",
         {1, 7, 5}},
        {"maxpool, batchnorm on rows, conv on rows",
         "{\"type\": \"maxpool2d\", \"pool_size\": 2, \"stride\": 1}, {\"type\": \"flatten\"}, "
         "{\"type\": \"batchnorm\"}, {\"type\": \"dense\", \"units\": 4, \"activation\": \"tanh\"}",
         {2, 3, 4}},
        {"global_avgpool first", "{\"type\": \"global_avgpool\"}", {3, 2, 3}},
        {"avgpool first, conv on its maps",
         "{\"type\": \"avgpool2d\", \"pool_size\": [1, 2]}, {\"type\": \"conv2d\", \"filters\": 2, "
         "\"kernel_size\": [2, 1], \"activation\": \"tanh\"}, {\"type\": \"flatten\"}",
         {2, 3, 4}},
        {"dense first (the input gradient of a dense layer)",
         "{\"type\": \"dense\", \"units\": 4, \"activation\": \"relu\"}",
         {5, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char layers[1024];
        snprintf(layers, sizeof layers, "%s, %s", cases[i].layers, out);
        problem p;
        if (setup_shaped(&p, config_json(layers, ce), 5, cases[i].in, 90 + i)) {
            check_failures++;
            continue;
        }
        /* every other case works through its batch of 5 in blocks of 2, 2 and 1 samples */
        for (int l = 0; i % 2 && l < p.net->n_layers; l++) p.net->layers[l].block = 2;
        CHECK_MSG(grad_check(&p, cases[i].name) < 2e-2, "%s: weights", cases[i].name);
        CHECK_MSG(input_grad_check(&p, cases[i].name) < 2e-2, "%s: input", cases[i].name);
        teardown(&p);
    }
}

/* In evaluation mode (saliency maps are taken there) dropout is the identity and batchnorm the affine map of
 * its running statistics: the weights' and the input's gradients of that pass. */
static void test_eval_gradients(void)
{
    const char *cases[][2] = {
        {"{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"padding\": 1}, {\"type\": "
         "\"batchnorm\"}, "
         "{\"type\": \"dropout\", \"rate\": 0.5}, {\"type\": \"maxpool2d\", \"pool_size\": 2}, {\"type\": "
         "\"flatten\"}, {\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}",
         "eval: conv, batchnorm, dropout"},
        {"{\"type\": \"batchnorm\"}, {\"type\": \"dense\", \"units\": 4, \"activation\": \"tanh\"}, "
         "{\"type\": "
         "\"dropout\", \"rate\": 0.4}, {\"type\": \"batchnorm\"}, {\"type\": \"dense\", \"units\": 3, "
         "\"activation\": "
         "\"softmax\"}",
         "eval: batchnorm on rows, dropout"},
    };
    for (int i = 0; i < 2; i++) {
        problem p;
        if (setup_shaped(&p, config_json(cases[i][0], "cross_entropy"), 5, (dnn_shape){1, 4, 6}, 70 + i)) {
            check_failures++;
            continue;
        }
        p.eval = 1;
        /* running statistics far from the batch's, so that using the batch's would show */
        dnn_rng r;
        dnn_rng_seed(&r, 7, 1);
        for (int l = 0; l < p.net->n_layers; l++) {
            const dnn_layer *L = &p.net->layers[l];
            if (L->kind != DNN_LAYER_BATCHNORM) continue;
            size_t k = (size_t)(L->in_maps ? L->in_shape.c : L->in);
            for (size_t j = 0; j < k; j++) {
                p.net->state[L->s + j] = (float)dnn_rng_normal(&r);
                p.net->state[L->s + k + j] = 0.5f + (float)dnn_rng_uniform(&r);
            }
        }
        CHECK_MSG(grad_check(&p, cases[i][1]) < 2e-2, "%s: weights", cases[i][1]);
        CHECK_MSG(input_grad_check(&p, cases[i][1]) < 2e-2, "%s: input", cases[i][1]);
        teardown(&p);
    }
}

/* Shapes flow from layer to layer; a layer that does not fit names itself, its window and its input. */
static void test_shapes(void)
{
    struct {
        const char *layers;
        dnn_shape in;
        const char *frags[3];
    } bad[] = {
        {"{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 5}",
         {1, 3, 3},
         {"test.json: model.layers[0] (conv2d)", "5x5 kernel is larger than its input 1x3x3"}},
        {"{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"padding\": \"same\"}, "
         "{\"type\": \"maxpool2d\"}, {\"type\": \"maxpool2d\"}, {\"type\": \"maxpool2d\"}, {\"type\": "
         "\"flatten\"}",
         {1, 28, 28},
         {"model.layers[3] (maxpool2d)",
          "2x2 pool with stride 2x2 leaves the last row of its input 2x7x7 unread"}},
        {"{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"stride\": 2}",
         {1, 28, 28},
         {"model.layers[0] (conv2d)", "3x3 kernel with stride 2x2", "or padding \"same\""}},
        {"{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3, \"padding\": \"same\"}",
         {1, 6, 6},
         {"model.layers[1] (dense)", "gets 2x6x6 feature maps", "{\"type\": \"flatten\"}"}},
        {"{\"type\": \"conv2d\", \"filters\": 2, \"kernel_size\": 3}",
         {784, 1, 1},
         {"model.layers[0] (conv2d)", "larger than its input 784x1x1", "give data.shape [C, H, W]"}},
        {"{\"type\": \"avgpool2d\", \"pool_size\": [1, 4]}",
         {3, 2, 3},
         {"1x4 pool is larger than its input 3x2x3"}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char layers[1024];
        snprintf(layers, sizeof layers, "%s, {\"type\": \"dense\", \"units\": 2}", bad[i].layers);
        dnn_config c;
        dnn_error err = {0};
        if (make_config(&c, config_json(layers, "mse"))) {
            check_failures++;
            continue;
        }
        dnn_status st = dnn_net_check(&c, bad[i].in, &err);
        CHECK_ERR(st, err, DNN_ECONFIG, bad[i].frags[0]);
        for (int k = 1; k < 3 && bad[i].frags[k]; k++)
            CHECK_MSG(strstr(err.msg, bad[i].frags[k]) != NULL, "\"%s\" not in: %s", bad[i].frags[k],
                      err.msg);
        dnn_net *net = NULL;
        CHECK(dnn_net_create(&net, &c, bad[i].in, 4, &err) == DNN_ECONFIG && net == NULL);
        dnn_config_free(&c);
    }

    /* the reference CNN: its shapes, parameters and summary */
    dnn_config c;
    dnn_net *net = NULL;
    dnn_error err = {0};
    const char *cnn =
        "{\"type\": \"conv2d\", \"filters\": 32, \"kernel_size\": 3, \"padding\": \"same\", "
        "\"activation\": \"relu\"}, {\"type\": \"maxpool2d\"}, {\"type\": \"conv2d\", \"filters\": "
        "64, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}, {\"type\": "
        "\"maxpool2d\"}, {\"type\": \"flatten\"}, {\"type\": \"dense\", \"units\": 128, "
        "\"activation\": \"relu\"}, {\"type\": \"dense\", \"units\": 10, \"activation\": \"softmax\"}";
    if (make_config(&c, config_json(cnn, "cross_entropy")) ||
        dnn_net_create(&net, &c, (dnn_shape){1, 28, 28}, 4, &err)) {
        check_failures++;
        return;
    }
    /* 32*9+32 + 64*32*9+64 + 3136*128+128 + 128*10+10, as Keras and PyTorch count them */
    CHECK(net->n_params == 421642 && dnn_net_count_params(&c, (dnn_shape){1, 28, 28}) == 421642);
    const dnn_layer *L = net->layers;
    CHECK(L[0].out_shape.c == 32 && L[0].out_shape.h == 28 && L[1].out_shape.h == 14 &&
          L[3].out_shape.w == 7);
    CHECK(L[4].out == 3136 && L[4].in_maps && !L[4].out_maps && L[0].win.ph == 1 && net->n_out == 10);
    /* initialisation counts a convolution's fans as kernel area x channels: He's std is sqrt(2 / (9 * 32))
     * for the second convolution, Xavier's bound sqrt(6 / (9 * 32 + 9 * 64)) */
    dnn_rng r;
    dnn_rng_seed(&r, 4, 1);
    const dnn_layer *c2 = &L[2];
    for (int scheme = 0; scheme < 2; scheme++) {
        dnn_net_init(net, scheme ? DNN_INIT_XAVIER : DNN_INIT_HE, &r);
        double ss = 0, big = 0;
        for (size_t i = 0; i < c2->nw; i++) {
            float w = net->params[c2->w + i];
            ss += (double)w * w;
            big = fmax(big, fabs(w));
        }
        double sd = sqrt(ss / (double)c2->nw);
        if (scheme == 0)
            CHECK_MSG(fabs(sd / sqrt(2.0 / 288) - 1) < 0.03, "He init of a convolution: std %g", sd);
        else
            CHECK_MSG(big <= sqrt(6.0 / 864) && big > 0.95 * sqrt(6.0 / 864) &&
                          fabs(sd / sqrt(2.0 / 864) - 1) < 0.03,
                      "Xavier init of a convolution: std %g, largest %g", sd, big);
    }
    char *text = dnn_net_summary(net);
    CHECK(text && strstr(text, "conv2d 32 3x3 relu pad 1x1") && strstr(text, "32x28x28") &&
          strstr(text, "maxpool2d 2x2") && strstr(text, "64x7x7") && strstr(text, "18496") &&
          strstr(text, "421642"));
    free(text);
    dnn_net_free(net);
    dnn_config_free(&c);
}

/* A 2-3-2 network with hand-set weights: the forward pass and the losses against values worked out by hand.
 */
static void test_forward_by_hand(void)
{
    problem p;
    if (setup(&p,
              config_json("{\"type\": \"dense\", \"units\": 3, \"activation\": \"relu\"}, "
                          "{\"type\": \"dense\", \"units\": 2, \"activation\": \"softmax\"}",
                          "cross_entropy"),
              1, 2, 1))
        return;
    float w1[] = {1, -1, 0.5f, 2, 1, -1}, b1[] = {0, 0.5f, 0}, w2[] = {1, 0, 0, 1, 1, 1},
          b2[] = {0.25f, -0.25f};
    float *P = p.net->params;
    memcpy(P + p.net->layers[0].w, w1, sizeof w1);
    memcpy(P + p.net->layers[0].b, b1, sizeof b1);
    memcpy(P + p.net->layers[1].w, w2, sizeof w2);
    memcpy(P + p.net->layers[1].b, b2, sizeof b2);
    float x[] = {1, 2};
    /* h = relu([1+4, -1+2+0.5, 0.5-2]) = [5, 1.5, 0]; z = [5+0+0+0.25, 0+1.5+0-0.25] = [5.25, 1.25] */
    const float *a = dnn_net_forward(p.net, x, 1, 0, NULL);
    const float *z = dnn_net_logits(p.net);
    CHECK_NEAR(z[0], 5.25, 1e-6);
    CHECK_NEAR(z[1], 1.25, 1e-6);
    double e = exp(-4.0);
    CHECK_NEAR(a[0], 1 / (1 + e), 1e-6);
    CHECK_NEAR(a[1], e / (1 + e), 1e-6);
    /* the softmax layer stays finite for logits far past expf's range: z = [1005.25, 1001.25] */
    p.net->params[p.net->layers[1].b] += 1000;
    p.net->params[p.net->layers[1].b + 1] += 1000;
    const float *big = dnn_net_forward(p.net, x, 1, 0, NULL);
    CHECK_NEAR(big[0], 1 / (1 + e), 1e-6);
    CHECK_NEAR(big[1], e / (1 + e), 1e-6);
    p.net->params[p.net->layers[1].b] -= 1000;
    p.net->params[p.net->layers[1].b + 1] -= 1000;
    a = dnn_net_forward(p.net, x, 1, 0, NULL);
    int32_t y = 1;
    /* -log softmax(z)_1 = log(1 + e^4) */
    CHECK_NEAR(dnn_loss(DNN_LOSS_CROSS_ENTROPY, DNN_ACT_SOFTMAX, 0, z, a, 1, 2, &y, NULL, NULL),
               log(1 + exp(4.0)), 1e-6);
    CHECK(dnn_count_correct(a, 1, 2, &y) == 0);
    teardown(&p);

    /* softmax and cross-entropy stay finite for huge logits */
    float zz[] = {1000, -1000, 0}, aa[3];
    double m = 1000, s = 1 + exp(-2000.0) + exp(-1000.0);
    aa[0] = 1, aa[1] = 0, aa[2] = 0;
    int32_t yy = 1;
    double l = dnn_loss(DNN_LOSS_CROSS_ENTROPY, DNN_ACT_SOFTMAX, 0, zz, aa, 1, 3, &yy, NULL, NULL);
    CHECK(isfinite(l));
    CHECK_NEAR(l, m + log(s) + 1000, 1e-3);
    /* binary cross-entropy from logits: z = -30 with label 1 costs 30, not log(0) */
    float zb = -30, ab = 1.0f / (1.0f + expf(30));
    int32_t yb = 1;
    CHECK_NEAR(dnn_loss(DNN_LOSS_BINARY_CROSS_ENTROPY, DNN_ACT_SIGMOID, 0, &zb, &ab, 1, 1, &yb, NULL, NULL),
               30.0, 1e-6);
    /* mse is the mean over outputs: ((1-0)^2 + (3-1)^2) / 2 */
    float zm[] = {1, 3}, tm[] = {0, 1};
    CHECK_NEAR(dnn_loss(DNN_LOSS_MSE, DNN_ACT_LINEAR, 0, zm, zm, 1, 2, NULL, tm, NULL), 2.5, 1e-9);
}

/* Batchnorm in evaluation uses the running statistics, which training moved towards the batch's. */
static void test_batchnorm_eval(void)
{
    problem p;
    if (setup(&p,
              config_json("{\"type\": \"batchnorm\", \"momentum\": 0.5}, {\"type\": \"dense\", \"units\": 1}",
                          "mse"),
              4, 2, 5))
        return;
    dnn_net *net = p.net;
    const dnn_layer *bn = &net->layers[0];
    for (int j = 0; j < 2; j++) net->params[bn->w + j] = 1, net->params[bn->b + j] = 0;
    float x[] = {1, 10, 2, 20, 3, 30, 4, 40}; /* feature 0: mean 2.5, var 1.25; feature 1: mean 25, var 125 */
    dnn_net_forward(net, x, 4, 1, NULL);
    const float *rm = net->state + bn->s, *rv = rm + 2;
    CHECK_NEAR(rm[0], 0.5 * 0 + 0.5 * 2.5, 1e-6);
    CHECK_NEAR(rv[1], 0.5 * 1 + 0.5 * 125, 1e-4);
    /* training output is normalised by the batch: first row of feature 0 is (1 - 2.5) / sqrt(1.25 + eps) */
    CHECK_NEAR(bn->a[0], -1.5 / sqrt(1.25 + 1e-3), 1e-5);
    /* evaluation uses running mean 1.25 and variance 1.125 for feature 0 */
    dnn_net_forward(net, x, 1, 0, NULL);
    CHECK_NEAR(bn->a[0], (1 - 1.25) / sqrt(1.125 + 1e-3), 1e-5);
    teardown(&p);
}

/* Dropout keeps about 1 - rate of the units, scaled so the expectation is unchanged; evaluation is the
 * identity. */
static void test_dropout(void)
{
    problem p;
    if (setup(
            &p,
            config_json("{\"type\": \"dropout\", \"rate\": 0.3}, {\"type\": \"dense\", \"units\": 1}", "mse"),
            8, 1000, 3))
        return;
    float *x = malloc(8 * 1000 * sizeof(float));
    for (int i = 0; i < 8000; i++) x[i] = 1.0f;
    dnn_rng r;
    dnn_rng_seed(&r, 1, DNN_STREAM_DROPOUT);
    dnn_net_forward(p.net, x, 8, 1, &r);
    double sum = 0;
    int zeros = 0;
    for (int i = 0; i < 8000; i++) sum += p.net->layers[0].a[i], zeros += p.net->layers[0].a[i] == 0;
    CHECK_NEAR(sum / 8000, 1.0, 0.03);     /* expectation kept */
    CHECK_NEAR(zeros / 8000.0, 0.3, 0.02); /* the rate dropped */
    dnn_net_forward(p.net, x, 8, 0, NULL);
    int same = 1;
    for (int i = 0; i < 8000; i++) same &= p.net->layers[0].a[i] == 1.0f;
    CHECK(same);
    free(x);
    teardown(&p);
}

/* A batch split into parts, as processes split it in data-parallel training: each part's forward pass with
 * its place in the batch (the same dropout masks), its loss normalised by the whole batch, and the parts'
 * gradients summed with l2 added once, give the whole batch's gradient up to the order of the sums. */
static void test_split_batch(void)
{
    problem p;
    if (setup(&p,
              config_json("{\"type\": \"dense\", \"units\": 6, \"activation\": \"relu\", \"l2\": 0.01}, "
                          "{\"type\": \"dropout\", \"rate\": 0.4}, "
                          "{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}",
                          "cross_entropy"),
              7, 4, 21)) {
        check_failures++;
        return;
    }
    dnn_net *net = p.net;
    const dnn_layer *out = &net->layers[net->n_layers - 1];
    const uint64_t key = 0x5eed;
    const size_t np = net->n_params, width = (size_t)net->layers[0].out;
    float *whole = malloc(np * sizeof(float)), *sum = calloc(np, sizeof(float));
    float *mask = malloc(7 * width * sizeof(float));
    const float *a = dnn_net_forward_rows(net, p.x, 7, key, 0);
    double loss = dnn_loss_part(p.cfg.loss, out->act, out->slope, dnn_net_logits(net), a, 7, 7, p.k, p.y, p.t,
                                dnn_net_output_grad(net));
    dnn_net_backward_rows(net, p.x, 7);
    loss += 7 * dnn_net_add_l2(net);
    memcpy(whole, net->grads, np * sizeof(float));
    memcpy(mask, net->layers[1].mask, 7 * width * sizeof(float));
    double parts = 0;
    int same_masks = 1;
    for (int lo = 0; lo < 7; lo += 3) { /* rows 0-2, 3-5, 6 */
        int b = lo + 3 <= 7 ? 3 : 7 - lo;
        a = dnn_net_forward_rows(net, p.x + (size_t)lo * p.n_in, b, key, (size_t)lo);
        same_masks &=
            memcmp(net->layers[1].mask, mask + (size_t)lo * width, (size_t)b * width * sizeof(float)) == 0;
        parts += dnn_loss_part(p.cfg.loss, out->act, out->slope, dnn_net_logits(net), a, b, 7, p.k, p.y + lo,
                               p.t + (size_t)lo * p.k, dnn_net_output_grad(net));
        dnn_net_backward_rows(net, p.x + (size_t)lo * p.n_in, b);
        for (size_t i = 0; i < np; i++) sum[i] += net->grads[i];
    }
    memcpy(net->grads, sum, np * sizeof(float));
    parts += 7 * dnn_net_add_l2(net);
    CHECK(same_masks);
    CHECK_NEAR(parts, loss, 1e-9 * fabs(loss));
    double worst = 0;
    for (size_t i = 0; i < np; i++) worst = fmax(worst, fabs((double)net->grads[i] - whole[i]));
    CHECK_MSG(worst < 1e-6, "the parts' gradient is %g from the whole batch's", worst);
    /* another step's key draws other masks */
    dnn_net_forward_rows(net, p.x, 7, key + 1, 0);
    CHECK(memcmp(net->layers[1].mask, mask, 7 * width * sizeof(float)) != 0);
    free(whole);
    free(sum);
    free(mask);
    teardown(&p);
}

/* Each initialisation draws from its distribution: He normal has standard deviation sqrt(2 / fan_in), the
 * uniform ones are bounded by their limit with the standard deviation of a uniform (limit / sqrt(3)), and
 * biases start at 0. 400 x 300 weights pin the standard deviation to about 0.3%. */
static void test_init(void)
{
    problem p;
    if (setup(&p,
              config_json("{\"type\": \"dense\", \"units\": 300, \"activation\": \"relu\"}, "
                          "{\"type\": \"dense\", \"units\": 2, \"activation\": \"softmax\"}",
                          "cross_entropy"),
              1, 400, 2))
        return;
    const dnn_layer *L = &p.net->layers[0];
    const size_t n = (size_t)L->in * (size_t)L->out;
    const double fan_in = 400, fan_out = 300;
    struct {
        dnn_init scheme;
        const char *name;
        double std, bound; /* bound 0: a normal distribution */
    } cases[] = {
        {DNN_INIT_HE, "he", sqrt(2 / fan_in), 0},
        {DNN_INIT_HE_UNIFORM, "he_uniform", sqrt(2 / fan_in), sqrt(6 / fan_in)},
        {DNN_INIT_XAVIER, "xavier", sqrt(2 / (fan_in + fan_out)), sqrt(6 / (fan_in + fan_out))},
        {DNN_INIT_XAVIER_NORMAL, "xavier_normal", sqrt(2 / (fan_in + fan_out)), 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        dnn_rng r;
        dnn_rng_seed(&r, 3, 1);
        dnn_net_init(p.net, cases[c].scheme, &r);
        const float *w = p.net->params + L->w, *b = p.net->params + L->b;
        double sum = 0, sq = 0, worst = 0;
        for (size_t i = 0; i < n; i++)
            sum += w[i], sq += (double)w[i] * w[i], worst = fmax(worst, fabs(w[i]));
        double mean = sum / (double)n, std = sqrt(sq / (double)n - mean * mean);
        CHECK_MSG(fabs(mean) < 0.01 * cases[c].std, "%s: mean %g", cases[c].name, mean);
        CHECK_MSG(fabs(std / cases[c].std - 1) < 0.01, "%s: standard deviation %g, expected %g",
                  cases[c].name, std, cases[c].std);
        if (cases[c].bound > 0)
            CHECK_MSG(worst <= cases[c].bound && worst > 0.99 * cases[c].bound,
                      "%s: largest |w| %g, bound %g", cases[c].name, worst, cases[c].bound);
        int zero = 1;
        for (int j = 0; j < L->out; j++) zero &= b[j] == 0.0f;
        CHECK_MSG(zero, "%s: biases do not start at 0", cases[c].name);
    }
    teardown(&p);
}

/* model.init "auto": Xavier uniform for ReLU (and every activation but sigmoid), He normal for sigmoid. */
static void test_default_init(void)
{
    problem p;
    if (setup(&p,
              config_json(
                  "{\"type\": \"dense\", \"units\": 60, \"activation\": \"relu\"}, {\"type\": \"dense\", "
                  "\"units\": 50, \"activation\": \"sigmoid\"}, {\"type\": \"dense\", \"units\": 1}",
                  "mse"),
              8, 40, 3))
        return;
    dnn_rng r;
    dnn_rng_seed(&r, 9, DNN_STREAM_INIT);
    dnn_net_init(p.net, DNN_INIT_AUTO, &r);
    const dnn_layer *relu = &p.net->layers[0], *sig = &p.net->layers[1];
    double bound = sqrt(6.0 / (40 + 60)), top = 0, ss = 0;
    for (int i = 0; i < 40 * 60; i++) top = fmax(top, fabs(p.net->params[relu->w + (size_t)i]));
    CHECK_MSG(top <= bound && top > 0.97 * bound, "relu layer: max |w| %g, Xavier's bound %g", top, bound);
    for (int i = 0; i < 60 * 50; i++)
        ss += (double)p.net->params[sig->w + (size_t)i] * p.net->params[sig->w + (size_t)i];
    CHECK_NEAR(sqrt(ss / 3000), sqrt(2.0 / 60), 0.01); /* He's standard deviation */
    teardown(&p);
}

int main(void)
{
    test_init();
    test_gradients();
    test_regularisers();
    test_image_gradients();
    test_eval_gradients();
    test_shapes();
    test_forward_by_hand();
    test_batchnorm_eval();
    test_dropout();
    test_split_batch();
    test_default_init();
    return check_done("test_net");
}
