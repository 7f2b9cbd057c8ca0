/* The tuning module: the samplers' distributions (Kolmogorov-Smirnov and chi-square tests at fixed seeds),
 * exact grids, conditions, ASHA's promotions with a fake objective (every promotion re-derived from the
 * journal), TPE against random search on a known function, the journal's torn and damaged lines, every kind
 * of malformed sweep file, and a study stopped and resumed against one run straight through. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/tune/internal.h"
#include "check.h"
#include "dnn/util.h"

static char base_path[256], dir[128];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void write_base(const char *name, int epochs, double split)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"seed\": 3, \"data\": {\"train\": {\"format\": \"csv\", \"path\": \"none.csv\"}, "
             "\"validation_split\": %g},\n"
             " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 16, \"activation\": \"relu\"},\n"
             "   {\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"dense\", \"units\": 3, \"activation\": "
             "\"softmax\"}]},\n"
             " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\", \"learning_rate\": 0.001},\n"
             " \"training\": {\"epochs\": %d, \"batch_size\": 8}, \"output\": {\"dir\": \"runs/x\"}}\n",
             split, epochs);
    snprintf(base_path, sizeof base_path, "%s/%s", dir, name);
    write_file(base_path, text);
}

/* A sweep over the base "base.json" in the scratch folder; body is the rest of the object. */
static dnn_status sweep_from(dnn_sweep *sw, const char *name, const char *body, dnn_error *err)
{
    char path[256], text[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(text, sizeof text, "{\"base\": \"base.json\", %s}\n", body);
    write_file(path, text);
    return dnn_sweep_load(sw, path, err);
}

/* ---- the samplers' distributions ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Kolmogorov-Smirnov statistic of sorted x against a CDF. */
static double ks(const double *x, int n, double (*cdf)(double, const dnn_param *), const dnn_param *p)
{
    double d = 0;
    for (int i = 0; i < n; i++) {
        double f = cdf(x[i], p);
        d = fmax(d, fmax(fabs(f - (double)i / n), fabs((double)(i + 1) / n - f)));
    }
    return d;
}

static double cdf_uniform(double x, const dnn_param *p)
{
    return (x - p->lo) / (p->hi - p->lo);
}

static double cdf_log(double x, const dnn_param *p)
{
    return (log(x) - log(p->lo)) / (log(p->hi) - log(p->lo));
}

static void test_continuous(void)
{
    enum { N = 20000 };
    const double crit = 1.949 / sqrt(N); /* KS at alpha = 0.001 */
    static double x[N];
    dnn_param u = {.kind = DNN_PARAM_UNIFORM, .lo = -2, .hi = 5};
    dnn_param l = {.kind = DNN_PARAM_LOGUNIFORM, .lo = 1e-5, .hi = 1e-1};
    dnn_rng r;
    dnn_rng_seed(&r, 11, TUNE_STREAM_TRIAL);
    for (int i = 0; i < N; i++) x[i] = tune_draw(&u, &r);
    qsort(x, N, sizeof *x, cmp_double);
    CHECK(x[0] >= u.lo && x[N - 1] <= u.hi);
    double d = ks(x, N, cdf_uniform, &u);
    CHECK_MSG(d < crit, "uniform: KS %g >= %g", d, crit);
    for (int i = 0; i < N; i++) x[i] = tune_draw(&l, &r);
    qsort(x, N, sizeof *x, cmp_double);
    CHECK(x[0] >= l.lo && x[N - 1] <= l.hi);
    d = ks(x, N, cdf_log, &l);
    CHECK_MSG(d < crit, "loguniform: KS %g >= %g", d, crit);
    /* the test has the power to see a mix-up: log-uniform draws are far from uniform ones */
    dnn_param as_uniform = {.kind = DNN_PARAM_UNIFORM, .lo = l.lo, .hi = l.hi};
    CHECK(ks(x, N, cdf_uniform, &as_uniform) > 10 * crit);
}

/* Chi-square of counts against equal shares. */
static double chi2(const int *count, int k, int n)
{
    double e = (double)n / k, s = 0;
    for (int i = 0; i < k; i++) s += (count[i] - e) * (count[i] - e) / e;
    return s;
}

static void test_discrete(void)
{
    enum { N = 16000 };
    dnn_param p = {.kind = DNN_PARAM_INT, .lo = 3, .hi = 18, .step = 2}; /* 3, 5, ..., 17 */
    cJSON *choices = cJSON_Parse("[\"relu\", 2, [1, 2], {\"a\": 1}, null]");
    dnn_param c = {.kind = DNN_PARAM_CHOICE, .choices = choices, .n_choices = 5};
    dnn_rng r;
    dnn_rng_seed(&r, 12, TUNE_STREAM_TRIAL);
    int count[8] = {0}, bad = 0;
    for (int i = 0; i < N; i++) {
        double v = tune_draw(&p, &r);
        int k = (int)((v - 3) / 2);
        if (v != 3 + 2 * k || k < 0 || k > 7)
            bad++;
        else
            count[k]++;
    }
    CHECK_MSG(bad == 0, "%d int draws off the grid 3, 5, ..., 17", bad);
    CHECK(count[7] > 0); /* the top value is reachable */
    double s = chi2(count, 8, N);
    CHECK_MSG(s < 24.32, "int: chi-square %g with 7 degrees of freedom (p < 0.001)", s);
    int cc[5] = {0};
    for (int i = 0; i < N; i++) cc[(int)tune_draw(&c, &r)]++;
    s = chi2(cc, 5, N);
    CHECK_MSG(s < 18.47, "choice: chi-square %g with 4 degrees of freedom (p < 0.001)", s);
    /* a choice's value is the JSON it lists, and reads back to its index */
    cJSON *j = tune_value_json(&c, 3);
    double back = -1;
    CHECK(j && cJSON_IsObject(j) && tune_value_from_json(&c, j, &back) == 0 && back == 3);
    cJSON_Delete(j);
    cJSON_Delete(choices);
}

/* ---- grids and conditions ---- */

static void test_grid(void)
{
    dnn_error err;
    dnn_sweep sw;
    write_base("base.json", 2, 0.2);
    dnn_status st =
        sweep_from(&sw, "g1.json",
                   "\"sampler\": \"grid\", \"space\": {\"model.layers[0].units\": {\"int\": [1, 3]},"
                   " \"optimizer.type\": {\"choice\": [\"adam\", \"sgd\"]}}",
                   &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    CHECK(sw.n_grid == 6 && sw.trials == 6);
    int seen[3][2] = {{0}};
    for (int t = 0; t < sw.n_grid; t++) {
        double v[2];
        cJSON *cfg;
        CHECK(tune_sample(&sw, NULL, 0, t, v, &cfg, &err) == DNN_OK);
        seen[(int)v[0] - 1][(int)v[1]]++;
        const cJSON *units = tune_json_at(cfg, "model.layers[0].units");
        CHECK(units && units->valuedouble == v[0]);
        cJSON_Delete(cfg);
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++)
            CHECK_MSG(seen[a][b] == 1, "grid point (%d, %d) seen %d times", a + 1, b, seen[a][b]);
    dnn_sweep_free(&sw);

    /* a condition leaves a key out, and the combinations it makes equal are kept once */
    st = sweep_from(
        &sw, "g2.json",
        "\"sampler\": \"grid\", \"space\": {\"optimizer.type\": {\"choice\": [\"adam\", \"sgd\"]},"
        " \"optimizer.momentum\": {\"choice\": [0.5, 0.9], \"if\": {\"optimizer.type\": \"sgd\"}}}",
        &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    CHECK_MSG(sw.n_grid == 3, "grid with a condition: %d points, expected 3", sw.n_grid);
    int adam = 0, sgd_m[2] = {0};
    for (int t = 0; t < sw.n_grid; t++) {
        const double *v = sw.grid + 2 * t;
        if (v[0] == 0)
            adam += isnan(v[1]);
        else
            sgd_m[(int)v[1]]++;
    }
    CHECK(adam == 1 && sgd_m[0] == 1 && sgd_m[1] == 1);
    dnn_sweep_free(&sw);
}

static void test_conditions(void)
{
    dnn_error err;
    dnn_sweep sw;
    write_base("base.json", 2, 0.2);
    dnn_status st = sweep_from(
        &sw, "c1.json",
        "\"space\": {\"optimizer.type\": {\"choice\": [\"adam\", \"sgd\"]},"
        " \"optimizer.momentum\": {\"uniform\": [0.5, 0.99], \"if\": {\"optimizer.type\": \"sgd\"}},"
        " \"model.layers\": {\"choice\": [[{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}],"
        "   [{\"type\": \"dense\", \"units\": 8}, {\"type\": \"dropout\", \"rate\": 0.1},"
        "    {\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}]]},"
        " \"model.layers.1.rate \": {\"uniform\": [0.3, 0.4], \"if\": {\"model.layers.1.type\": "
        "\"dropout\"}}}",
        &err);
    /* the last key has a trailing space: it names nothing in the config, and says so */
    CHECK_ERR(st, err, DNN_ECONFIG, "c1.json", "space.\"model.layers.1.rate \"");
    st = sweep_from(
        &sw, "c2.json",
        "\"space\": {\"optimizer.type\": {\"choice\": [\"adam\", \"sgd\"]},"
        " \"optimizer.momentum\": {\"uniform\": [0.5, 0.99], \"if\": {\"optimizer.type\": \"sgd\"}},"
        " \"model.layers\": {\"choice\": [[{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}],"
        "   [{\"type\": \"dense\", \"units\": 8}, {\"type\": \"dropout\", \"rate\": 0.1},"
        "    {\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}]]},"
        " \"model.layers.1.rate\": {\"uniform\": [0.3, 0.4], \"if\": {\"model.layers.1.type\": "
        "\"dropout\"}}}",
        &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    if (st) return;
    int wrong = 0, sgd = 0, deep = 0;
    for (int t = 0; t < 400; t++) {
        double v[4];
        cJSON *cfg;
        if (tune_sample(&sw, NULL, 0, t, v, &cfg, &err)) {
            CHECK_MSG(0, "%s", err.msg);
            break;
        }
        int is_sgd = v[0] == 1, has_dropout = v[2] == 1;
        const cJSON *m = tune_json_at(cfg, "optimizer.momentum"),
                    *rate = tune_json_at(cfg, "model.layers.1.rate");
        wrong += is_sgd != !isnan(v[1]) || is_sgd != (m != NULL);
        wrong += has_dropout != !isnan(v[3]) || has_dropout != (rate != NULL);
        if (has_dropout && rate) wrong += rate->valuedouble < 0.3 || rate->valuedouble > 0.4;
        sgd += is_sgd;
        deep += has_dropout;
        cJSON_Delete(cfg);
    }
    CHECK_MSG(wrong == 0, "%d trials broke a condition", wrong);
    CHECK(sgd > 150 && sgd < 250 && deep > 150 && deep < 250);
    dnn_sweep_free(&sw);
}

/* ---- a fake objective: segments of simulated time, values from a function of the trial ---- */

typedef struct {
    double (*value)(int trial, const cJSON *config, int epoch);
    int jobs;
    struct {
        int trial, from, until;
        double finish;
        cJSON *config;
    } run[16];
    int n_run;
    int done[1000]; /* epochs each trial's "checkpoint" holds */
    double clock;
    int segments, stop_after; /* stop_after > 0: ask the study to stop after so many segments */
    volatile sig_atomic_t *stop;
} fake;

static double duration(int trial)
{
    return 1.0 + (double)((trial * 7) % 5); /* trials of different speeds end out of order */
}

static dnn_status fake_start(void *ctx, const dnn_tune_job *job, dnn_error *err)
{
    fake *f = ctx;
    (void)err;
    int from = f->done[job->trial];
    f->run[f->n_run].trial = job->trial;
    f->run[f->n_run].from = from;
    f->run[f->n_run].until = job->until;
    f->run[f->n_run].config = cJSON_Duplicate(job->config, 1);
    f->run[f->n_run].finish = f->clock + (job->until - from) * duration(job->trial);
    f->n_run++;
    CHECK(f->n_run <= f->jobs);
    return DNN_OK;
}

static dnn_status fake_wait(void *ctx, dnn_tune_outcome *out, dnn_error *err)
{
    fake *f = ctx;
    (void)err;
    int k = 0;
    for (int i = 1; i < f->n_run; i++)
        if (f->run[i].finish < f->run[k].finish ||
            (f->run[i].finish == f->run[k].finish && f->run[i].trial < f->run[k].trial))
            k = i;
    memset(out, 0, sizeof *out);
    out->trial = f->run[k].trial;
    int stopped = f->stop && *f->stop;
    int e = stopped ? f->run[k].from : f->run[k].until;
    out->status = stopped ? 130 : 0;
    out->epochs = e;
    out->values = malloc(((size_t)e + 1) * sizeof(double));
    for (int i = 0; i < e; i++) out->values[i] = f->value(out->trial, f->run[k].config, i + 1);
    cJSON_Delete(f->run[k].config);
    out->seconds = f->run[k].finish - f->clock;
    if (!stopped) {
        f->clock = f->run[k].finish;
        f->done[out->trial] = e;
    }
    f->run[k] = f->run[--f->n_run];
    if (++f->segments == f->stop_after && f->stop) *f->stop = 1;
    return DNN_OK;
}

static void fake_stop(void *ctx, int force)
{
    (void)ctx;
    (void)force;
}

static dnn_status study(fake *f, const char *sweep, const char *out, int jobs, int resume,
                        volatile sig_atomic_t *stop, dnn_tune_result *res, dnn_error *err)
{
    dnn_tune_runner r = {fake_start, fake_wait, fake_stop, f};
    f->jobs = jobs;
    f->stop = stop;
    char sp[256], op[256];
    snprintf(sp, sizeof sp, "%s/%s", dir, sweep);
    snprintf(op, sizeof op, "%s/%s", dir, out);
    dnn_tune_opts o = {.sweep_path = resume ? NULL : sp,
                       .resume_dir = resume ? op : NULL,
                       .out_dir = resume ? NULL : op,
                       .overwrite = 1,
                       .jobs = jobs,
                       .runner = &r,
                       .stop = stop};
    return dnn_tune_run(&o, res, err);
}

/* ---- ASHA, checked against the journal ---- */

typedef struct {
    int epochs;
    double vals[64];
    int promoted_from; /* a rung epoch it was promoted from, as a bit set over rung indices */
    int state;         /* 0 new/paused, 1 running, 2 completed */
} seen_trial;

/* best (lowest) value up to epoch e, maximizing when max */
static double upto(const seen_trial *t, int e, int max)
{
    double b = INFINITY;
    for (int i = 0; i < e && i < t->epochs; i++) b = fmin(b, max ? -t->vals[i] : t->vals[i]);
    return b;
}

/* rank of trial k in rung e (0 best; ties by number) among trials that reached e; *n gets the count */
static int rank_in_rung(const seen_trial *t, int nt, int k, int e, int max, int *n)
{
    int r = 0;
    *n = 0;
    double v = upto(&t[k], e, max);
    for (int i = 0; i < nt; i++) {
        if (t[i].epochs < e) continue;
        (*n)++;
        double w = upto(&t[i], e, max);
        if (w < v || (w == v && i < k)) r++;
    }
    return r;
}

/* Replays the journal: every promotion took a trial in the top floor(n/eta) of its rung as it stood then (or
 * was the end-of-budget fallback, when no trial had completed and nothing ran); at the end, every rung's top
 * floor(n/eta) went on. Returns the number of promotions per rung in promoted[]. */
static void check_asha_journal(const char *study_dir, const int *rungs, int n_rungs, int eta, int max,
                               int *promoted)
{
    char path[256];
    snprintf(path, sizeof path, "%s/study.jsonl", study_dir);
    char *buf;
    size_t len;
    dnn_error err;
    if (dnn_read_file(path, 1 << 26, &buf, &len, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    static seen_trial t[200];
    memset(t, 0, sizeof t);
    int nt = 0, completed = 0, running = 0, bad = 0;
    for (int k = 0; k < n_rungs; k++) promoted[k] = 0;
    for (char *line = buf, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        const char *ev = cJSON_GetObjectItem(j, "event")->valuestring;
        const cJSON *tr = cJSON_GetObjectItem(j, "trial");
        int k = tr ? tr->valueint : -1;
        if (!strcmp(ev, "trial")) nt = k + 1;
        if (!strcmp(ev, "run")) {
            int until = cJSON_GetObjectItem(j, "until")->valueint, from = t[k].epochs;
            if (from > 0) { /* a promotion from the rung at `from` */
                int n, r = rank_in_rung(t, nt, k, from, max, &n), ri = -1;
                for (int q = 0; q < n_rungs; q++)
                    if (rungs[q] == from) ri = q;
                int fallback = completed == 0 && running == 0;
                for (int i = 0; fallback && i < nt; i++) /* the best paused trial of the highest rung */
                    if (i != k && t[i].state == 0 && t[i].epochs > 0 &&
                        (t[i].epochs > from ||
                         (t[i].epochs == from && upto(&t[i], from, max) < upto(&t[k], from, max))))
                        fallback = 0;
                if (!(ri >= 0 && r < n / eta) && !fallback) {
                    bad++;
                    fprintf(stderr, "trial %d promoted from epoch %d at rank %d of %d\n", k, from, r, n);
                }
                if (ri >= 0) promoted[ri]++, t[k].promoted_from |= 1 << ri;
            }
            t[k].state = 1;
            running++;
        }
        if (!strcmp(ev, "segment")) {
            const cJSON *v = cJSON_GetObjectItem(j, "values");
            t[k].epochs = cJSON_GetArraySize(v);
            for (int e = 0; e < t[k].epochs; e++) t[k].vals[e] = cJSON_GetArrayItem(v, e)->valuedouble;
            const char *state = cJSON_GetObjectItem(j, "state")->valuestring;
            t[k].state = !strcmp(state, "completed") ? 2 : 0;
            completed += t[k].state == 2;
            running--;
        }
        cJSON_Delete(j);
    }
    free(buf);
    CHECK_MSG(bad == 0, "%d promotions were not ASHA's", bad);
    /* nothing in the top 1/eta of a rung was left behind */
    for (int q = 0; q < n_rungs; q++)
        for (int k = 0; k < nt; k++) {
            int n, r = t[k].epochs >= rungs[q] ? rank_in_rung(t, nt, k, rungs[q], max, &n) : 1 << 30;
            if (r < 1 << 30 && r < n / eta)
                CHECK_MSG(t[k].promoted_from & (1 << q), "trial %d ranks %d of %d at epoch %d, not promoted",
                          k, r, n, rungs[q]);
        }
}

static double by_number(int trial, const cJSON *config, int epoch)
{
    (void)config;
    return (1.0 - trial / 100.0) * (1.0 - exp(-epoch / 2.0)); /* earlier trials are better, at every epoch */
}

static double scrambled(int trial, const cJSON *config, int epoch)
{
    (void)config;
    unsigned h = (unsigned)trial * 2654435761u;
    double q = (double)(h >> 8 & 0xffff) / 65536.0;
    return q * (1.0 - exp(-epoch / (1.0 + (trial % 3)))); /* some learn faster: rungs can disagree */
}

static void test_asha(void)
{
    write_base("base.json", 5, 0.2);
    const char *body =
        "\"metric\": \"val_accuracy\", \"trials\": 27, \"pruner\": {\"type\": \"asha\", \"min_epochs\": 1,"
        " \"max_epochs\": 9, \"reduction_factor\": 3},"
        " \"space\": {\"optimizer.learning_rate\": {\"loguniform\": [1e-4, 1e-1]}}";
    char path[256], text[1024];
    snprintf(path, sizeof path, "%s/asha.json", dir);
    snprintf(text, sizeof text, "{\"base\": \"base.json\", %s}\n", body);
    write_file(path, text);
    const int rungs[] = {1, 3};
    int promoted[2];
    char out[256];
    dnn_error err;
    dnn_tune_result res;

    /* earlier trials better: each rung promotes exactly its top third, nothing else */
    static fake f1;
    memset(&f1, 0, sizeof f1);
    f1.value = by_number;
    dnn_status st = study(&f1, "asha.json", "a1", 1, 0, NULL, &res, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    snprintf(out, sizeof out, "%s/a1", dir);
    check_asha_journal(out, rungs, 2, 3, 1, promoted);
    CHECK_MSG(promoted[0] == 9 && promoted[1] == 3,
              "promoted %d from epoch 1 and %d from epoch 3, expected 9 and 3", promoted[0], promoted[1]);
    CHECK(res.completed == 3 && res.pruned == 24 && res.best_trial == 0);
    CHECK(res.epochs_run == 27 * 1 + 9 * 2 + 3 * 6);
    dnn_tune_result_free(&res);

    /* a time budget spent at once: the first trial still runs, and with nothing completed the fallback
     * trains the best paused one to the end */
    write_file(path, "{\"base\": \"base.json\", \"metric\": \"val_accuracy\", \"trials\": 27, \"seconds\": 1e-9,"
                     " \"pruner\": {\"type\": \"asha\", \"min_epochs\": 1, \"max_epochs\": 9},"
                     " \"space\": {\"optimizer.learning_rate\": {\"loguniform\": [1e-4, 1e-1]}}}\n");
    static fake f0;
    memset(&f0, 0, sizeof f0);
    f0.value = by_number;
    st = study(&f0, "asha.json", "a0", 1, 0, NULL, &res, &err);
    CHECK_MSG(st == DNN_OK && res.trials == 1 && res.completed == 1 && res.epochs_run == 9,
              "a spent time budget: %d trials, %d completed, %ld epochs (%s)", res.trials, res.completed,
              res.epochs_run, st ? err.msg : "ok");
    dnn_tune_result_free(&res);
    snprintf(text, sizeof text, "{\"base\": \"base.json\", %s}\n", body);
    write_file(path, text);

    /* values in no order, one job and three: every promotion ASHA's, every rung's top third promoted */
    for (int jobs = 1; jobs <= 3; jobs += 2) {
        static fake f2;
        memset(&f2, 0, sizeof f2);
        f2.value = scrambled;
        snprintf(out, sizeof out, "a2-%d", jobs);
        st = study(&f2, "asha.json", out, jobs, 0, NULL, &res, &err);
        CHECK_MSG(st == DNN_OK, "%s", err.msg);
        snprintf(out, sizeof out, "%s/a2-%d", dir, jobs);
        check_asha_journal(out, rungs, 2, 3, 1, promoted);
        CHECK_MSG(promoted[0] >= 9 && promoted[1] >= 3, "jobs %d: promoted %d and %d", jobs, promoted[0],
                  promoted[1]);
        CHECK(res.completed >= 1 && res.trials == 27);
        dnn_tune_result_free(&res);
    }
}

/* ---- TPE against random search ---- */

/* A bowl in (log10 lr, units) plus a penalty for the wrong activation: the best is lr 10^-2.5, 40 units,
 * relu, with value 0. */
static double bowl(int trial, const cJSON *config, int epoch)
{
    (void)trial;
    (void)epoch;
    double lr = tune_json_at(config, "optimizer.learning_rate")->valuedouble;
    double units = tune_json_at(config, "model.layers.0.units")->valuedouble;
    const char *act = tune_json_at(config, "model.layers.0.activation")->valuestring;
    double a = log10(lr) + 2.5, b = (units - 40) / 50;
    return a * a + b * b + (strcmp(act, "relu") ? 0.5 : 0);
}

static double best_of(const char *sampler, uint64_t seed, double *late)
{
    char body[1024], out[64];
    snprintf(body, sizeof body,
             "\"metric\": \"val_loss\", \"seed\": %llu, \"sampler\": \"%s\", \"trials\": 60,"
             " \"space\": {\"optimizer.learning_rate\": {\"loguniform\": [1e-5, 1]},"
             " \"model.layers.0.units\": {\"int\": [1, 200]},"
             " \"model.layers.0.activation\": {\"choice\": [\"relu\", \"tanh\", \"sigmoid\", \"gelu\"]}}",
             (unsigned long long)seed, sampler);
    char path[256], text[2048];
    snprintf(path, sizeof path, "%s/bowl.json", dir);
    snprintf(text, sizeof text, "{\"base\": \"base.json\", %s}\n", body);
    write_file(path, text);
    static fake f;
    memset(&f, 0, sizeof f);
    f.value = bowl;
    dnn_error err;
    dnn_tune_result res;
    snprintf(out, sizeof out, "bowl-%s-%llu", sampler, (unsigned long long)seed);
    dnn_status st = study(&f, "bowl.json", out, 1, 0, NULL, &res, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    double best = res.best_value;
    dnn_tune_result_free(&res);
    /* the median of the last 20 trials: where the sampler spends its time once it has learnt */
    char csv[256];
    snprintf(csv, sizeof csv, "%s/%s/trials.csv", dir, out);
    FILE *fp = fopen(csv, "r");
    double v[60];
    int n = 0;
    char line[1024];
    while (fp && fgets(line, sizeof line, fp))
        if (n < 60 && line[0] >= '0' && line[0] <= '9') {
            char *c = strchr(line, ',');
            c = c ? strchr(c + 1, ',') : NULL;
            v[n++] = c ? strtod(c + 1, NULL) : NAN;
        }
    if (fp) fclose(fp);
    CHECK(n == 60);
    qsort(v + 40, 20, sizeof *v, cmp_double);
    *late = v[50];
    return best;
}

static void test_tpe(void)
{
    write_base("base.json", 1, 0.2);
    double tpe = 0, rnd = 0, tpe_late = 0, rnd_late = 0;
    int wins = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        double tl, rl, t = best_of("tpe", seed, &tl), r = best_of("random", seed, &rl);
        tpe += t / 5, rnd += r / 5, tpe_late += tl / 5, rnd_late += rl / 5;
        wins += t < r;
    }
    fprintf(stderr,
            "bowl, 60 trials, 5 seeds: best %.4f (tpe) against %.4f (random); median of the last 20 %.3f "
            "against %.3f; tpe better with %d seeds of 5\n",
            tpe, rnd, tpe_late, rnd_late, wins);
    CHECK_MSG(tpe < 0.5 * rnd, "TPE's mean best %.4f is not well below random's %.4f", tpe, rnd);
    CHECK_MSG(tpe_late < 0.5 * rnd_late, "TPE's late trials (%.3f) do not concentrate (random: %.3f)",
              tpe_late, rnd_late);
    CHECK(wins >= 4);
}

/* ---- a study stopped part way and resumed, against one run straight through ---- */

/* trials.csv without the seconds column */
static char *results_without_time(const char *study_dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s/trials.csv", dir, study_dir);
    char *buf;
    size_t len;
    dnn_error err;
    if (dnn_read_file(path, 1 << 20, &buf, &len, &err)) return NULL;
    for (char *line = buf; *line;) {
        char *c = line;
        for (int k = 0; k < 5 && c; k++) c = strchr(c + 1, ',');
        char *end = c ? strchr(c + 1, ',') : NULL;
        if (c && end) memmove(c, end, strlen(end) + 1);
        char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return buf;
}

static void test_resume(void)
{
    write_base("base.json", 5, 0.2);
    char path[256];
    snprintf(path, sizeof path, "%s/r.json", dir);
    write_file(
        path,
        "{\"base\": \"base.json\", \"metric\": \"val_accuracy\", \"trials\": 14,"
        " \"sampler\": {\"type\": \"tpe\", \"startup_trials\": 4},"
        " \"pruner\": {\"type\": \"asha\", \"min_epochs\": 1, \"max_epochs\": 4, \"reduction_factor\": 2},"
        " \"space\": {\"optimizer.learning_rate\": {\"loguniform\": [1e-4, 1e-1]}}}\n");
    dnn_error err;
    dnn_tune_result res;
    static fake whole, parts;
    memset(&whole, 0, sizeof whole);
    whole.value = scrambled;
    dnn_status st = study(&whole, "r.json", "whole", 1, 0, NULL, &res, &err);
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    dnn_tune_result_free(&res);
    memset(&parts, 0, sizeof parts);
    parts.value = scrambled;
    int stops = 0;
    for (int k = 0; k < 40; k++) {
        volatile sig_atomic_t stop = 0;
        parts.stop_after = parts.segments + 3;
        st = study(&parts, "r.json", "parts", 1, k > 0, &stop, &res, &err);
        dnn_tune_result_free(&res);
        if (st != DNN_EINTERRUPTED) break;
        stops++;
    }
    CHECK_MSG(st == DNN_OK, "%s", err.msg);
    CHECK(stops >= 3);
    char *a = results_without_time("whole"), *b = results_without_time("parts");
    CHECK_MSG(a && b && strcmp(a, b) == 0,
              "a study stopped %d times differs from one run straight through:\n%s\n%s", stops, a ? a : "",
              b ? b : "");
    free(a);
    free(b);
    /* a finished study resumed has nothing left to do and says the same */
    st = study(&parts, "r.json", "parts", 1, 1, NULL, &res, &err);
    CHECK(st == DNN_OK && res.trials == 14);
    dnn_tune_result_free(&res);
}

/* ---- the journal ---- */

static void test_journal(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/j.jsonl", dir);
    tune_journal j;
    cJSON **lines;
    int n;
    dnn_error err;
    CHECK(tune_journal_open(&j, path, &lines, &n, &err) == DNN_OK && n == 0);
    free(lines);
    for (int i = 0; i < 3; i++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "event", "x");
        cJSON_AddNumberToObject(l, "i", i);
        CHECK(tune_journal_append(&j, l, &err) == DNN_OK);
    }
    /* a second study on the same journal is refused while the first holds it */
    tune_journal j2;
    CHECK_ERR(tune_journal_open(&j2, path, &lines, &n, &err), err, DNN_EIO, "j.jsonl", "another dnntune");
    tune_journal_close(&j2);
    tune_journal_close(&j);
    /* a line torn by a crash is cut off; the three before it stay */
    FILE *f = fopen(path, "a");
    fputs("{\"event\": \"x\", \"i\": 3, \"t\"", f);
    fclose(f);
    CHECK(tune_journal_open(&j, path, &lines, &n, &err) == DNN_OK && n == 3);
    for (int i = 0; i < n; i++) cJSON_Delete(lines[i]);
    free(lines);
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "event", "y");
    CHECK(tune_journal_append(&j, l, &err) == DNN_OK);
    tune_journal_close(&j);
    CHECK(tune_journal_open(&j, path, &lines, &n, &err) == DNN_OK && n == 4);
    CHECK(n == 4 && strcmp(cJSON_GetObjectItem(lines[3], "event")->valuestring, "y") == 0);
    for (int i = 0; i < n; i++) cJSON_Delete(lines[i]);
    free(lines);
    tune_journal_close(&j);
    /* a damaged line inside the file is an error naming the line, never skipped */
    write_file(path, "{\"event\": \"x\"}\n{\"event\": \"x\"\n{\"event\": \"x\"}\n");
    CHECK_ERR(tune_journal_open(&j, path, &lines, &n, &err), err, DNN_EIO, "j.jsonl:2:");
    tune_journal_close(&j);
}

/* ---- malformed sweep files ---- */

static void test_malformed(void)
{
    write_base("base.json", 3, 0.2);
    char nosplit[256];
    snprintf(nosplit, sizeof nosplit, "%s/nosplit.json", dir);
    write_file(nosplit,
               "{\"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\"}}, \"model\": {\"layers\": "
               "[{\"type\": \"dense\", \"units\": 2, \"activation\": \"softmax\"}]}, \"loss\": "
               "\"cross_entropy\", \"optimizer\": \"adam\"}");
    const char *lr = "\"space\": {\"optimizer.learning_rate\": {\"loguniform\": [1e-4, 1e-2]}}";
    static const struct {
        const char *body, *frag1, *frag2;
    } cases[] = {
        {"\"space\": {}}, {", "bad.json:1:", "invalid JSON"},
        {"\"trails\": 10, SPACE", "trails", "did you mean \"trials\""},
        {"\"metric\": \"val_acuracy\", SPACE", "metric", "did you mean \"val_accuracy\""},
        {"\"mode\": \"maximum\", SPACE", "mode", "\"max\" or \"min\""},
        {"\"seed\": -1, SPACE", "seed", "integer"},
        {"\"sampler\": \"bayes\", SPACE", "sampler", "\"random\", \"grid\" or \"tpe\""},
        {"\"sampler\": {\"type\": \"tpe\", \"candidate\": 5}, SPACE", "sampler.candidate", "did you mean"},
        {"\"trials\": 0, SPACE", "trials", "integer from 1"},
        {"\"seconds\": -5, SPACE", "seconds", "positive number"},
        {"\"pruner\": \"hyperband\", SPACE", "pruner", "\"asha\" or \"none\""},
        {"\"pruner\": {\"type\": \"asha\", \"min_epochs\": 5, \"max_epochs\": 3}, SPACE", "pruner.min_epochs",
         "more than max_epochs"},
        {"\"pruner\": {\"type\": \"asha\", \"reduction_factor\": 1}, SPACE", "pruner.reduction_factor",
         "from 2"},
        {"\"trials\": 3", "space", "missing required key"},
        {"\"space\": {}", "space", "1 to 64 searched keys"},
        {"\"space\": {\"optimizer.learning_rate\": 0.01}", "space.\"optimizer.learning_rate\"",
         "distribution"},
        {"\"space\": {\"optimizer.learning_rate\": {\"loguniform\": [0, 1]}}",
         "space.\"optimizer.learning_rate\": loguniform", "0 < low < high"},
        {"\"space\": {\"model.layers.1.rate\": {\"uniform\": [0.5, 0.5]}}",
         "space.\"model.layers.1.rate\": uniform", "low < high"},
        {"\"space\": {\"model.layers.0.units\": {\"int\": [1.5, 3]}}", "space.\"model.layers.0.units\": int",
         "integers"},
        {"\"space\": {\"model.layers.1.rate\": {\"uniform\": [0, 0.5], \"step\": 0.1}}",
         "space.\"model.layers.1.rate\": step", "only an \"int\""},
        {"\"space\": {\"model.layers.0.units\": {\"int\": [1, 9], \"step\": 0}}",
         "space.\"model.layers.0.units\": step", "positive integer"},
        {"\"space\": {\"model.layers.0.activation\": {\"choice\": []}}",
         "space.\"model.layers.0.activation\": choice", "list of 1 to"},
        {"\"space\": {\"model.layers.0.units\": {\"int\": [1, 9], \"choice\": [3]}}",
         "space.\"model.layers.0.units\"", "both"},
        {"\"space\": {\"model.layers.0.units\": {\"int\": [1, 9], \"steps\": 2}}",
         "space.\"model.layers.0.units\".steps", "did you mean \"step\""},
        {"\"space\": {\"optimizer.learnig_rate\": {\"loguniform\": [1e-4, 1e-2]}}",
         "space.\"optimizer.learnig_rate\"", "learnig_rate"},
        {"\"space\": {\"model.layers.5.units\": {\"int\": [1, 9]}}", "space.\"model.layers.5.units\"",
         "not an index"},
        {"\"space\": {\"model.layers.0.activation\": {\"choice\": [\"relu\", \"relux\"]}}",
         "space.\"model.layers.0.activation\"", "\"relux\""},
        {"\"space\": {\"model.layers.1.rate\": {\"uniform\": [0, 0.5], \"if\": 3}}",
         "space.\"model.layers.1.rate\": if", "object of conditions"},
        {"\"space\": {\"optimizer.momentum\": {\"uniform\": [0, 0.9], \"if\": {\"optimizer.type\": \"sgd\"}},"
         " \"optimizer.type\": {\"choice\": [\"adam\", \"sgd\"]}}",
         "space.\"optimizer.momentum\": if", "searched after"},
        {"\"space\": {\"optimizer.learning_rate\": {\"loguniform\": [1e-4, 1e-2]}, "
         "\"optimizer.learning_rate\": "
         "{\"loguniform\": [1e-4, 1e-2]}}",
         "space", "given twice"},
        {"\"pruner\": \"asha\", \"space\": {\"training.epochs\": {\"int\": [1, 9]}}",
         "space.\"training.epochs\"", "pruner decides"},
        {"\"sampler\": \"grid\", SPACE", "space.\"optimizer.learning_rate\"", "a grid needs a list"},
        {"\"sampler\": \"grid\", \"space\": {\"model.layers.0.units\": {\"int\": [1, 1000]}, "
         "\"model.layers.1.rate\":"
         " {\"choice\": [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]},"
         " \"training.batch_size\": {\"int\": [1, 10]}}",
         "training.batch_size", "more than 100000 points"},
        {"\"base\": 3, SPACE", "base", "path of a config"},
        {"\"base\": \"nope.json\", SPACE", "base", "nope.json"},
        {"\"base\": \"nosplit.json\", \"metric\": \"val_loss\", SPACE", "metric", "validation"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[2048];
        const char *sp = strstr(cases[i].body, "SPACE");
        if (sp)
            snprintf(body, sizeof body, "%.*s%s", (int)(sp - cases[i].body), cases[i].body, lr);
        else
            snprintf(body, sizeof body, "%s", cases[i].body);
        char path[256], text[3000];
        snprintf(path, sizeof path, "%s/bad.json", dir);
        if (strncmp(body, "\"base\"", 6) == 0)
            snprintf(text, sizeof text, "{%s}\n", body);
        else
            snprintf(text, sizeof text, "{\"base\": \"base.json\", %s}\n", body);
        write_file(path, text);
        dnn_sweep sw;
        dnn_error err;
        dnn_status st = dnn_sweep_load(&sw, path, &err);
        if (st == DNN_OK) dnn_sweep_free(&sw);
        CHECK_ERR(st, err, DNN_ECONFIG, "bad.json", cases[i].frag1, cases[i].frag2);
    }
}

int main(void)
{
    /* These tests check decisions, not durability (cli_tune.sh kills real studies on the real disk): on
     * tmpfs, the journal's thousands of fsyncs cost nothing. */
    snprintf(dir, sizeof dir, "/dev/shm/dnn_tune_XXXXXX");
    if (access("/dev/shm", W_OK) != 0 || !mkdtemp(dir))
        snprintf(dir, sizeof dir, "%s", check_tmpdir("tune"));
    else
        snprintf(check_dir, sizeof check_dir, "%s", dir);
    test_continuous();
    test_discrete();
    test_grid();
    test_conditions();
    test_journal();
    test_malformed();
    test_asha();
    test_tpe();
    test_resume();
    check_rmdir();
    return check_done("test_tune");
}
