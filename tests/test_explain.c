/* Explanation tests: closed forms of a linear model (integrated gradients w * (x - b), saliency |w|,
 * permutation importance 2 w_j^2 under MSE), completeness falling with the steps, quadrature rules, rank
 * correlation, one-hot groups and the groups file, and results independent of the batch size. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "check.h"
#include "dnn/explain.h"
#include "dnn/rng.h"

/* A model of the given layers on d inputs (identity normalisation, seed 7) */
static int make_model(dnn_model *m, int d, const char *layers, const char *loss)
{
    char buf[2048];
    snprintf(
        buf, sizeof buf,
        "{\"seed\": 7, \"data\": {\"train\": {\"format\": \"idx\", \"images\": \"x\"}}, \"model\": "
        "{\"layers\": [%s]}, \"loss\": \"%s\", \"optimizer\": \"sgd\", \"training\": {\"batch_size\": 16}}",
        layers, loss);
    dnn_config cfg;
    dnn_error err = {0};
    if (dnn_config_from_json(&cfg, cJSON_Parse(buf), "test.json", NULL, NULL, 0, &err) ||
        dnn_model_create(m, &cfg, (dnn_shape){d, 1, 1}, &err)) {
        fprintf(stderr, "bad test model: %s\n", err.msg);
        return -1;
    }
    m->norm.d = (size_t)d;
    m->norm.shift = calloc((size_t)d, sizeof(float));
    m->norm.mul = malloc((size_t)d * sizeof(float));
    for (int j = 0; j < d; j++) m->norm.mul[j] = 1.0f;
    m->cfg.seed = 7;
    return 0;
}

/* n samples of d standard normal features; regression targets t = x . w when w is not NULL. */
static void make_data(dnn_dataset *ds, size_t n, int d, const float *w, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    ds->source = strdup("synthetic");
    ds->n = n;
    ds->d = ds->d_num = (size_t)d;
    ds->shape = (dnn_shape){d, 1, 1};
    ds->dtype = DNN_F32;
    ds->x32 = malloc(n * (size_t)d * sizeof(float));
    dnn_rng r;
    dnn_rng_seed(&r, seed, 1);
    for (size_t i = 0; i < n * (size_t)d; i++) ds->x32[i] = (float)dnn_rng_normal(&r);
    if (!w) return;
    ds->t = malloc(n * sizeof(float));
    ds->n_targets = 1;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)w[j] * ds->x32[i * (size_t)d + (size_t)j];
        ds->t[i] = (float)s;
    }
}

static void set_linear(dnn_model *m, const float *w, int d, float bias)
{
    const dnn_layer *L = &m->net->layers[0];
    for (int j = 0; j < d; j++) m->net->params[L->w + (size_t)j] = w[j]; /* W is [in, out] with out = 1 */
    m->net->params[L->b] = bias;
}

/* One dense layer with a linear output: integrated gradients are w * (x - baseline) exactly, whatever the
 * rule, saliency is |w|, and completeness holds to rounding. */
static void test_linear_closed_forms(void)
{
    const int d = 5;
    const float w[5] = {0.5f, -2.0f, 0.0f, 1.25f, 3.0f};
    dnn_model m;
    if (make_model(&m, d, "{\"type\": \"dense\", \"units\": 1, \"activation\": \"linear\"}", "mse")) return;
    set_linear(&m, w, d, 0.3f);
    dnn_dataset ds;
    make_data(&ds, 40, d, NULL, 1);
    for (int q = 0; q < 2; q++) {
        dnn_explain_opts o = dnn_explain_defaults();
        o.methods = DNN_EXPLAIN_SALIENCY | DNN_EXPLAIN_IG;
        o.quadrature = q ? DNN_QUAD_TRAPEZOID : DNN_QUAD_GAUSS_LEGENDRE;
        o.steps = 7;
        o.baseline = DNN_BASELINE_MEAN;
        o.max_batch = 9; /* the 7 points of a sample straddle batches */
        dnn_explanation e;
        dnn_error err = {0};
        CHECK(dnn_explain(&m, &ds, &o, &e, &err) == DNN_OK);
        double worst_ig = 0, worst_sal = 0;
        for (int i = 0; i < e.ig.n_samples; i++)
            for (int j = 0; j < d; j++) {
                double want = w[j] * ((double)ds.x32[i * d + j] - e.baseline[j]);
                worst_ig = fmax(worst_ig, fabs(e.ig.sample_attr[i * d + j] - want));
                worst_sal = fmax(worst_sal, fabs(e.sal.sample_attr[i * d + j] - fabs(w[j])));
            }
        CHECK_MSG(worst_ig < 1e-5, "integrated gradients of a linear model off w * (x - b) by %g", worst_ig);
        CHECK_MSG(worst_sal < 1e-6, "saliency of a linear model off |w| by %g", worst_sal);
        CHECK_MSG(e.ig.max_abs < 1e-4, "completeness of a linear model %g", e.ig.max_abs);
        for (int j = 0; j < d; j++) CHECK_NEAR(e.sal.abs_mean[j], fabs(w[j]), 1e-6);
        dnn_explanation_free(&e);
    }
    dnn_dataset_free(&ds);
    dnn_model_free(&m);
}

/* Two regression targets, explained for the second (--target 1): its map is saliency's |W[:, 1]|, kept in a
 * map of its own (there was room for one target's map only, and the second's was written past it). */
static void test_second_target(void)
{
    const int d = 3;
    dnn_model m;
    if (make_model(&m, d, "{\"type\": \"dense\", \"units\": 2, \"activation\": \"linear\"}", "mse")) return;
    const dnn_layer *L = &m.net->layers[0];
    const float w[3][2] = {{1.0f, -4.0f}, {2.0f, 0.5f}, {-3.0f, 2.0f}}; /* W is [in, out] */
    for (int j = 0; j < d; j++)
        for (int k = 0; k < 2; k++) m.net->params[L->w + (size_t)j * 2 + (size_t)k] = w[j][k];
    dnn_dataset ds;
    make_data(&ds, 30, d, NULL, 3);
    dnn_explain_opts o = dnn_explain_defaults();
    o.methods = DNN_EXPLAIN_SALIENCY;
    o.target = 1;
    dnn_explanation e;
    dnn_error err = {0};
    CHECK(dnn_explain(&m, &ds, &o, &e, &err) == DNN_OK);
    CHECK(e.sal.n_maps == 2 && e.sal.map_count[0] == 0 && e.sal.map_count[1] == 30);
    for (int j = 0; j < d; j++) CHECK_NEAR(e.sal.maps[d + j], fabs(w[j][1]), 1e-5); /* the mean map */
    dnn_explanation_free(&e);
    dnn_dataset_free(&ds);
    dnn_model_free(&m);
}

/* Linear regression on standard normal features scored by MSE: shuffling column j adds w_j^2 (x - x')^2,
 * 2 w_j^2 on average; under R^2 it is that over the targets' variance. */
static void test_permutation_closed_form(void)
{
    const int d = 4;
    const float w[4] = {1.0f, -0.5f, 0.0f, 2.0f};
    dnn_model m;
    if (make_model(&m, d, "{\"type\": \"dense\", \"units\": 1, \"activation\": \"linear\"}", "mse")) return;
    set_linear(&m, w, d, 0.0f);
    dnn_dataset ds;
    make_data(&ds, 20000, d, w, 2);
    dnn_explain_opts o = dnn_explain_defaults();
    o.methods = DNN_EXPLAIN_PERMUTATION;
    o.scoring = DNN_SCORING_LOSS;
    dnn_explanation e;
    dnn_error err = {0};
    CHECK(dnn_explain(&m, &ds, &o, &e, &err) == DNN_OK);
    CHECK_NEAR(e.perm.score, 0.0, 1e-9);
    for (int j = 0; j < d; j++) {
        const double want = 2.0 * w[j] * w[j];
        CHECK_MSG(fabs(e.perm.mean[j] - want) <= 0.04 * want + 1e-9, "column %d: importance %g, 2 w^2 = %g",
                  j, e.perm.mean[j], want);
        CHECK(e.perm.std[j] < 0.03 * want + 1e-9);
        CHECK(!strcmp(e.groups.g[j].name, (char[]){'x', (char)('0' + j), 0}));
    }
    dnn_explanation_free(&e);
    o.scoring = DNN_SCORING_AUTO; /* R^2 */
    CHECK(dnn_explain(&m, &ds, &o, &e, &err) == DNN_OK);
    CHECK(e.perm.scoring == DNN_SCORING_R2);
    CHECK_NEAR(e.perm.score, 1.0, 1e-6);
    const double var = 1.0 + 0.25 + 4.0;
    CHECK_NEAR(e.perm.mean[3], 8.0 / var, 0.04 * 8.0 / var);
    dnn_explanation_free(&e);
    o.scoring = DNN_SCORING_ACCURACY;
    CHECK(dnn_explain(&m, &ds, &o, &e, &err) == DNN_ECONFIG && strstr(err.msg, "regression"));
    dnn_dataset_free(&ds);
    dnn_model_free(&m);
}

/* The same explanation from batches of 5 rows and of 256 (and twice: nothing is left over). */
static void test_batch_independence(void)
{
    dnn_model m;
    if (make_model(
            &m, 6,
            "{\"type\": \"dense\", \"units\": 8, \"activation\": \"relu\"}, {\"type\": \"dense\", \"units\": "
            "3, \"activation\": \"softmax\"}",
            "cross_entropy"))
        return;
    dnn_rng r;
    dnn_rng_seed(&r, 3, 1);
    dnn_net_init(m.net, m.cfg.init, &r);
    dnn_dataset ds;
    make_data(&ds, 50, 6, NULL, 3);
    ds.y = malloc(50 * sizeof(int32_t));
    for (int i = 0; i < 50; i++) ds.y[i] = i % 3;
    dnn_explanation e[2];
    for (int k = 0; k < 2; k++) {
        dnn_explain_opts o = dnn_explain_defaults();
        o.methods = DNN_EXPLAIN_PERMUTATION | DNN_EXPLAIN_SALIENCY | DNN_EXPLAIN_IG;
        o.sanity = 1;
        o.steps = 13;
        o.max_batch = k ? 256 : 5;
        dnn_error err = {0};
        CHECK(dnn_explain(&m, &ds, &o, &e[k], &err) == DNN_OK);
    }
    for (int j = 0; j < 6; j++) {
        CHECK(e[0].perm.mean[j] == e[1].perm.mean[j]); /* the shuffles come from the seed alone */
        CHECK_NEAR(e[0].ig.abs_mean[j], e[1].ig.abs_mean[j], 1e-5 * (1 + e[1].ig.abs_mean[j]));
        CHECK_NEAR(e[0].sal.abs_mean[j], e[1].sal.abs_mean[j], 1e-5 * (1 + e[1].sal.abs_mean[j]));
    }
    CHECK_NEAR(e[0].sal.spearman, e[1].sal.spearman, 1e-9);
    CHECK(!isnan(e[0].sal.spearman) && e[0].sal.spearman < 1.0);
    dnn_explanation_free(&e[0]);
    dnn_explanation_free(&e[1]);
    dnn_dataset_free(&ds);
    dnn_model_free(&m);
}

/* Completeness on a ReLU MLP: the error falls as the steps grow and is within 1% on average at 50; on a
 * smooth (tanh) MLP Gauss-Legendre converges fast, within 1% on every sample at 16 points. */
static void test_completeness(void)
{
    const char *act[2] = {"relu", "tanh"};
    for (int a = 0; a < 2; a++) {
        char layers[400];
        snprintf(
            layers, sizeof layers,
            "{\"type\": \"dense\", \"units\": 32, \"activation\": \"%s\"}, {\"type\": \"dense\", \"units\": "
            "32, \"activation\": \"%s\"}, {\"type\": \"dense\", \"units\": 4, \"activation\": \"softmax\"}",
            act[a], act[a]);
        dnn_model m;
        if (make_model(&m, 10, layers, "cross_entropy")) return;
        dnn_rng r;
        dnn_rng_seed(&r, 5, 1);
        dnn_net_init(m.net, m.cfg.init, &r);
        for (int l = 0; l < m.net->n_layers; l++) /* biases, or f(a x) = a f(x) makes every rule exact */
            for (int j = 0; j < m.net->layers[l].out; j++)
                m.net->params[m.net->layers[l].b + (size_t)j] = (float)(0.5 * dnn_rng_normal(&r));
        dnn_dataset ds;
        make_data(&ds, 200, 10, NULL, 4);
        const int steps[] = {4, 16, 50, 200};
        double err_at[4], rel_at[4], max_rel_at[4];
        for (int s = 0; s < 4; s++) {
            dnn_explain_opts o = dnn_explain_defaults();
            o.methods = DNN_EXPLAIN_IG;
            o.steps = steps[s];
            dnn_explanation e;
            dnn_error err = {0};
            CHECK(dnn_explain(&m, &ds, &o, &e, &err) == DNN_OK);
            err_at[s] = e.ig.max_abs;
            rel_at[s] = e.ig.mean_rel;
            max_rel_at[s] = e.ig.max_rel;
            dnn_explanation_free(&e);
        }
        if (a == 0) { /* kinks: the error falls like 1/steps */
            CHECK_MSG(
                err_at[3] < err_at[2] && err_at[2] < err_at[1] && err_at[1] < err_at[0] &&
                    rel_at[3] < rel_at[2] && rel_at[2] < rel_at[1] && rel_at[1] < rel_at[0],
                "relu: completeness error at 4, 16, 50, 200 steps: %g %g %g %g (mean ratio %g %g %g %g)",
                err_at[0], err_at[1], err_at[2], err_at[3], rel_at[0], rel_at[1], rel_at[2], rel_at[3]);
            CHECK_MSG(rel_at[3] < 0.3 * rel_at[1], "relu: mean ratio %g at 16 steps, %g at 200", rel_at[1],
                      rel_at[3]);
        } else { /* smooth: Gauss-Legendre reaches rounding by 16 points */
            CHECK_MSG(max_rel_at[1] < 1e-3 && err_at[0] > 100 * err_at[1],
                      "tanh: completeness %g at 4, %g at 16 (ratio at most %g)", err_at[0], err_at[1],
                      max_rel_at[1]);
        }
        dnn_dataset_free(&ds);
        dnn_model_free(&m);
    }
}

static void test_quadrature(void)
{
    double al[20], w[20];
    dnn_error err = {0};
    /* Gauss-Legendre with k points integrates x^(2k-1) exactly */
    for (int k = 1; k <= 20; k += 3) {
        CHECK(dnn_quadrature_rule(DNN_QUAD_GAUSS_LEGENDRE, k, al, w, &err) == DNN_OK);
        double s = 0, sw = 0;
        for (int i = 0; i < k; i++) {
            s += w[i] * pow(al[i], 2 * k - 1);
            sw += w[i];
            if (i) CHECK(al[i] > al[i - 1]);
        }
        CHECK_NEAR(s, 1.0 / (2 * k), 1e-12);
        CHECK_NEAR(sw, 1.0, 1e-12);
    }
    CHECK(dnn_quadrature_rule(DNN_QUAD_TRAPEZOID, 3, al, w, &err) == DNN_OK);
    CHECK(al[0] == 0 && al[1] == 0.5 && al[2] == 1 && w[0] == 0.25 && w[1] == 0.5 && w[2] == 0.25);
    CHECK(dnn_quadrature_rule(DNN_QUAD_TRAPEZOID, 1, al, w, &err) == DNN_ECONFIG &&
          strstr(err.msg, "--steps"));
}

static void test_spearman(void)
{
    double work[40];
    const double a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50}, c[5] = {5, 4, 3, 2, 1},
                 t[5] = {1, 1, 2, 2, 3}, k[5] = {7, 7, 7, 7, 7};
    CHECK_NEAR(dnn_spearman(a, b, 5, work), 1.0, 1e-12);
    CHECK_NEAR(dnn_spearman(a, c, 5, work), -1.0, 1e-12);
    /* ties share average ranks 1.5 1.5 3.5 3.5 5: Pearson of the ranks is 0.9486833 (as scipy.stats) */
    CHECK_NEAR(dnn_spearman(a, t, 5, work), 0.9486832980505138, 1e-12);
    CHECK(isnan(dnn_spearman(a, k, 5, work)));
}

static void test_groups(void)
{
    char *names[6] = {"age", "color=blue", "income", "color=red", "x=1", "color=__other__"};
    dnn_feature_groups gs;
    dnn_error err = {0};
    CHECK(dnn_groups_default(&gs, names, 6, &err) == DNN_OK);
    CHECK(gs.n == 4);
    CHECK(!strcmp(gs.g[1].name, "color") && gs.g[1].n == 3 && gs.g[1].cols[0] == 1 && gs.g[1].cols[1] == 3 &&
          gs.g[1].cols[2] == 5);
    CHECK(!strcmp(gs.g[3].name, "x=1") && gs.g[3].n == 1); /* a lone "a=b" is a column of that name */
    dnn_groups_free(&gs);
    const char *path = "test_explain_groups.json";
    struct {
        const char *json;
        dnn_status st;
        const char *msg;
    } cases[] = {
        {"{\"wealth\": [\"income\", \"age\"]}", DNN_OK, NULL},
        {"{\"wealth\": [\"income\", \"agee\"]}", DNN_ECONFIG, "no column \"agee\" (did you mean \"age\"?)"},
        {"{\"a\": [\"income\"], \"b\": [\"income\"]}", DNN_ECONFIG, "already in another group"},
        {"{\"a\": []}", DNN_ECONFIG, "non-empty array"},
        {"[\"income\"]", DNN_ECONFIG, "JSON object"},
        {"{\"a\": [1]}", DNN_ECONFIG, "strings"},
        {"{\"a\": [\"income\"", DNN_ECONFIG, "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(cases[i].json, f);
        fclose(f);
        dnn_status st = dnn_groups_load(&gs, path, names, 6, &err);
        CHECK_MSG(st == cases[i].st && (!cases[i].msg || strstr(err.msg, cases[i].msg)), "%s: %s",
                  cases[i].json, err.msg);
        if (!st) {
            CHECK(gs.n == 3 && !strcmp(gs.g[0].name, "wealth") && gs.g[0].n == 2 &&
                  !strcmp(gs.g[1].name, "color"));
            dnn_groups_free(&gs);
        }
    }
    CHECK(dnn_groups_load(&gs, "no/such/groups.json", names, 6, &err) == DNN_EIO);
    remove(path);
}

int main(void)
{
    test_linear_closed_forms();
    test_second_target();
    test_permutation_closed_form();
    test_batch_independence();
    test_completeness();
    test_quadrature();
    test_spearman();
    test_groups();
    return check_done("test_explain");
}
