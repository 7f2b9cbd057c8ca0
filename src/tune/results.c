/* A study's result files: trials.csv (one row a trial, one column a searched key), best.json (the best
 * completed trial's config, which dnntrain runs as it is from anywhere) and report.html (leaderboard, the
 * best trial's curves, the metric against each searched key). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/plot.h"
#include "dnn/report.h"
#include "dnn/util.h"
#include "internal.h"

/* ---- trials.csv ---- */

static void csv_field(dnn_text *x, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        dnn_text_printf(x, "%s", s);
        return;
    }
    dnn_text_printf(x, "\"");
    for (; *s; s++) dnn_text_printf(x, *s == '"' ? "\"\"" : "%c", *s);
    dnn_text_printf(x, "\"");
}

/* A number as its shortest exact decimal; nothing for NaN. */
static void csv_number(dnn_text *x, double v)
{
    cJSON *n = dnn_json_number(v);
    dnn_text_printf(x, ",%s", cJSON_IsRaw(n) ? n->valuestring : "");
    cJSON_Delete(n);
}

static void csv_value(dnn_text *x, const dnn_param *p, double v)
{
    dnn_text_printf(x, ",");
    if (isnan(v)) return;
    cJSON *j = tune_value_json(p, v);
    if (cJSON_IsRaw(j) || cJSON_IsString(j)) {
        csv_field(x, j->valuestring);
    } else {
        char *s = j ? cJSON_PrintUnformatted(j) : NULL;
        csv_field(x, s ? s : "");
        free(s);
    }
    cJSON_Delete(j);
}

dnn_status tune_write_csv(const char *dir, const dnn_sweep *sw, const tune_trial *t, int n, dnn_error *err)
{
    dnn_text x = {0};
    dnn_text_printf(&x, "trial,state,value,best_epoch,epochs,seconds");
    for (int i = 0; i < sw->n_params; i++) {
        dnn_text_printf(&x, ",");
        csv_field(&x, sw->params[i].key);
    }
    dnn_text_printf(&x, "\n");
    for (int k = 0; k < n; k++) {
        int at;
        double v = tune_best_upto(&t[k], t[k].epochs, sw->maximize, &at);
        dnn_text_printf(&x, "%d,%s", t[k].number, tune_state_name(t[k].state));
        csv_number(&x, at ? (sw->maximize ? -v : v) : NAN);
        dnn_text_printf(&x, ",%d,%d,%.3f", at, t[k].epochs, t[k].seconds);
        for (int i = 0; i < sw->n_params; i++) csv_value(&x, &sw->params[i], t[k].vals[i]);
        dnn_text_printf(&x, "\n");
    }
    char *path = dnn_path_join(dir, "trials.csv");
    dnn_status st = path ? dnn_text_write(&x, path, err) : dnn_fail_oom(err, dir, 0);
    free(path);
    dnn_text_free(&x);
    return st;
}

/* ---- best.json ---- */

/* A path with "." and ".." resolved lexically (both absolute). */
static char *normalized(const char *abs)
{
    char *out = malloc(strlen(abs) + 2);
    if (!out) return NULL;
    size_t k = 0;
    for (const char *p = abs; *p;) {
        while (*p == '/') p++;
        const char *seg = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.')) continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (k > 0 && out[k - 1] != '/') k--;
            if (k > 0) k--;
            continue;
        }
        out[k++] = '/';
        memcpy(out + k, seg, len);
        k += len;
    }
    if (k == 0) out[k++] = '/';
    out[k] = '\0';
    return out;
}

/* The path of `to` seen from folder `from` (both absolute and normalized): "../../configs/data/x.csv". */
static char *relative(const char *from, const char *to)
{
    size_t common = 0, i = 0;
    for (; from[i] && to[i] && from[i] == to[i]; i++)
        if (from[i] == '/') common = i;
    if (!from[i] && (to[i] == '/' || !to[i])) common = i; /* to lies inside from */
    int ups = 0;
    for (const char *p = from + common; *p; p++) ups += *p == '/';
    const char *rest = to + common + (to[common] == '/');
    char *out = malloc(3 * (size_t)ups + strlen(rest) + 2);
    if (!out) return NULL;
    size_t k = 0;
    for (int u = 0; u < ups; u++) memcpy(out + k, "../", 3), k += 3;
    strcpy(out + k, rest);
    if (!out[0]) strcpy(out, ".");
    return out;
}

/* A relative data path of the base (relative to its folder) rewritten relative to best.json's folder. */
static int rebase(cJSON *item, const char *base_dir, const char *dir_abs)
{
    if (!cJSON_IsString(item) || item->valuestring[0] == '/') return 0;
    char *joined = dnn_path_join(base_dir, item->valuestring);
    char *abs = joined ? dnn_path_absolute(joined) : NULL, *norm = abs ? normalized(abs) : NULL;
    char *rel = norm ? relative(dir_abs, norm) : NULL;
    int ok = rel && cJSON_SetValuestring(item, rel);
    free(joined);
    free(abs);
    free(norm);
    free(rel);
    return ok ? 0 : -1;
}

static int rebase_sources(cJSON *config, const char *base_dir, const char *dir_abs)
{
    static const char *const sources[] = {"train", "test"}, *const keys[] = {"images", "labels", "path"};
    cJSON *data = cJSON_GetObjectItemCaseSensitive(config, "data");
    for (int s = 0; s < 2; s++) {
        cJSON *src = cJSON_GetObjectItemCaseSensitive(data, sources[s]);
        for (int k = 0; cJSON_IsObject(src) && k < 3; k++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(src, keys[k]);
            if (cJSON_IsArray(v)) { /* a list of files */
                for (cJSON *e = v->child; e; e = e->next)
                    if (rebase(e, base_dir, dir_abs)) return -1;
            } else if (rebase(v, base_dir, dir_abs)) {
                return -1;
            }
        }
    }
    return 0;
}

static double draw_vals(void *ctx, int i, const cJSON *config)
{
    (void)config;
    return ((const double *)ctx)[i];
}

dnn_status tune_write_best(const char *dir, const dnn_sweep *sw, const tune_trial *best, dnn_error *err)
{
    double *vals = malloc(((size_t)sw->n_params + 1) * sizeof(double));
    if (!vals) return dnn_fail_oom(err, "best.json", 0);
    cJSON *config;
    dnn_status st = tune_build(sw, draw_vals, best->vals, vals, &config, err);
    free(vals);
    if (st) return st;
    char *abs = dnn_path_absolute(dir), *dir_abs = abs ? normalized(abs) : NULL;
    char *stem = dnn_path_stem(sw->file), *out = stem ? malloc(strlen(stem) + 16) : NULL;
    if (out) sprintf(out, "runs/%s-best", stem);
    cJSON *output = cJSON_GetObjectItemCaseSensitive(config, "output");
    if (!cJSON_IsObject(output)) output = cJSON_AddObjectToObject(config, "output");
    cJSON_DeleteItemFromObjectCaseSensitive(output, "dir");
    if (!dir_abs || !out || !output || !cJSON_AddStringToObject(output, "dir", out) ||
        rebase_sources(config, sw->base_dir, dir_abs))
        st = dnn_fail_oom(err, "best.json", 0);
    char *path = dnn_path_join(dir, "best.json");
    if (!st) st = path ? dnn_json_write(path, config, err) : dnn_fail_oom(err, dir, 0);
    free(path);
    free(abs);
    free(dir_abs);
    free(stem);
    free(out);
    cJSON_Delete(config);
    return st;
}

/* ---- report.html ---- */

typedef struct {
    const tune_trial *t;
    double value; /* lower is better */
    int at, rank_class;
} row;

/* Completed trials by value, then stopped ones by how far they got and their value, then failed ones. */
static int by_rank(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->rank_class != y->rank_class) return x->rank_class - y->rank_class;
    if (x->rank_class == 1 && x->t->epochs != y->t->epochs) return y->t->epochs - x->t->epochs;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return x->t->number - y->t->number;
}

static void td_num(dnn_text *x, double v, const char *fmt)
{
    dnn_text_printf(x, "<td>");
    if (isfinite(v))
        dnn_text_printf(x, fmt, v);
    else
        dnn_text_printf(x, "&#8211;");
    dnn_text_printf(x, "</td>");
}

static void leaderboard(dnn_text *x, const dnn_sweep *sw, row *r, int n, int best)
{
    dnn_text_printf(x, "<h2>Leaderboard</h2>\n<table>\n<tr><th>rank</th><th>trial</th><th>state</th><th>");
    dnn_text_escape(x, dnn_monitor_name(sw->metric));
    dnn_text_printf(x, "</th><th>best epoch</th><th>epochs</th><th>seconds</th>");
    for (int i = 0; i < sw->n_params; i++) {
        dnn_text_printf(x, "<th>");
        dnn_text_escape(x, sw->params[i].key);
        dnn_text_printf(x, "</th>");
    }
    dnn_text_printf(x, "</tr>\n");
    for (int k = 0; k < n; k++) {
        const tune_trial *t = r[k].t;
        dnn_text_printf(x, "<tr%s><td>%d</td><td>%d</td><td>%s</td>",
                        t->number == best ? " class=\"best\"" : "", k + 1, t->number,
                        tune_state_name(t->state));
        td_num(x, r[k].at ? (sw->maximize ? -r[k].value : r[k].value) : NAN, "%.6g");
        td_num(x, r[k].at ? r[k].at : NAN, "%.0f");
        dnn_text_printf(x, "<td>%d</td>", t->epochs);
        td_num(x, t->seconds, "%.2f");
        for (int i = 0; i < sw->n_params; i++) {
            char v[64];
            tune_value_text(&sw->params[i], t->vals[i], v, sizeof v);
            dnn_text_printf(x, "<td>");
            dnn_text_escape(x, v);
            dnn_text_printf(x, "</td>");
        }
        dnn_text_printf(x, "</tr>\n");
    }
    dnn_text_printf(x, "</table>\n");
}

/* The best trial's epochs, from its train.jsonl (the last line of an epoch wins). */
static int read_history(const char *dir, int number, int max_epochs, dnn_epoch_log *h)
{
    char *tdir = tune_trial_dir(dir, number), *path = tdir ? dnn_path_join(tdir, "train.jsonl") : NULL, *buf;
    size_t len;
    dnn_error e;
    int n = 0;
    if (path && !dnn_read_file(path, 64u << 20, &buf, &len, &e)) {
        static const char *const keys[] = {"loss", "accuracy", "val_loss",          "val_accuracy",
                                           "lr",   "seconds",  "samples_per_second"};
        for (char *line = buf, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
            *nl = '\0';
            cJSON *j = cJSON_Parse(line);
            double ep = dnn_json_value(cJSON_GetObjectItemCaseSensitive(j, "epoch"));
            if (ep >= 1 && ep <= max_epochs) {
                dnn_epoch_log *l = &h[(int)ep - 1];
                double *f[] = {&l->loss, &l->accuracy, &l->val_loss,          &l->val_accuracy,
                               &l->lr,   &l->seconds,  &l->samples_per_second};
                l->epoch = (int)ep;
                for (int k = 0; k < 7; k++)
                    *f[k] = dnn_json_value(cJSON_GetObjectItemCaseSensitive(j, keys[k]));
                if ((int)ep > n) n = (int)ep;
            }
            cJSON_Delete(j);
        }
        free(buf);
    }
    free(tdir);
    free(path);
    return n;
}

static void curves(dnn_text *x, const char *dir, const tune_trial *b, int classification, int best_epoch)
{
    dnn_epoch_log *h = calloc((size_t)b->max_epochs + 1, sizeof *h);
    int n = h ? read_history(dir, b->number, b->max_epochs, h) : 0;
    dnn_text_printf(x, "<h2>The best trial's learning curves (trial %d)</h2>\n", b->number);
    if (n > 0) {
        dnn_text_printf(x, "<figure>\n");
        dnn_svg_curves(x, h, n, classification, best_epoch);
        dnn_text_printf(x,
                        "<figcaption>Solid: training; dashed: validation. Its run folder is "
                        "trials/%04d/.</figcaption>\n</figure>\n",
                        b->number);
    } else {
        dnn_text_printf(x, "<p>Its run folder has no epoch log.</p>\n");
    }
    free(h);
}

/* The metric against one searched key: completed trials filled, pruned ones hollow at their last value. */
static void scatter(dnn_text *x, const dnn_sweep *sw, const tune_trial *t, int n, int best, int i)
{
    const dnn_param *p = &sw->params[i];
    double *xs = malloc(((size_t)n + 1) * 2 * sizeof(double)), *ys = xs ? xs + n + 1 : NULL;
    int *kind = malloc(((size_t)n + 1) * sizeof(int));
    char **cats = p->kind == DNN_PARAM_CHOICE ? calloc((size_t)p->n_choices, sizeof(char *)) : NULL;
    if (xs && kind && (cats || p->kind != DNN_PARAM_CHOICE)) {
        for (int k = 0; k < n; k++) {
            int at;
            double v = tune_best_upto(&t[k], t[k].epochs, sw->maximize, &at);
            int shown = at && (t[k].state == TRIAL_COMPLETED || t[k].state == TRIAL_PRUNED ||
                               t[k].state == TRIAL_PAUSED);
            xs[k] = p->kind == DNN_PARAM_LOGUNIFORM ? log10(t[k].vals[i]) : t[k].vals[i];
            ys[k] = shown ? (sw->maximize ? -v : v) : NAN;
            kind[k] = k == best ? 2 : t[k].state == TRIAL_COMPLETED ? 0 : 1;
        }
        for (int c = 0; cats && c < p->n_choices; c++) {
            cats[c] = malloc(48);
            if (cats[c]) tune_value_text(p, c, cats[c], 48);
        }
        dnn_svg_points_spec s = {p->key,
                                 p->key,
                                 dnn_monitor_name(sw->metric),
                                 xs,
                                 ys,
                                 kind,
                                 n,
                                 (const char *const *)cats,
                                 cats ? p->n_choices : 0,
                                 p->kind == DNN_PARAM_LOGUNIFORM};
        dnn_text_printf(x, "<figure>\n");
        dnn_svg_points(x, &s);
        dnn_text_printf(x, "</figure>\n");
    } else {
        x->oom = 1;
    }
    for (int c = 0; cats && c < p->n_choices; c++) free(cats[c]);
    free(cats);
    free(xs);
    free(kind);
}

static void summary_rows(dnn_text *x, const dnn_sweep *sw, const tune_trial *t, int n, double seconds)
{
    static const char *const samplers[] = {"random", "grid", "tpe"};
    int count[6] = {0};
    double own = 0;
    long epochs = 0;
    for (int k = 0; k < n; k++) count[t[k].state]++, own += t[k].seconds, epochs += t[k].epochs;
    dnn_text_printf(x, "<table>\n<tr><th>sweep</th><td>");
    dnn_text_escape(x, sw->file);
    dnn_text_printf(x, "</td></tr>\n<tr><th>base config</th><td>");
    dnn_text_escape(x, sw->base_file);
    dnn_text_printf(x, "</td></tr>\n<tr><th>objective</th><td>%s %s</td></tr>\n",
                    sw->maximize ? "maximize" : "minimize", dnn_monitor_name(sw->metric));
    dnn_text_printf(x, "<tr><th>sampler</th><td>%s, seed %llu</td></tr>\n", samplers[sw->sampler],
                    (unsigned long long)sw->seed);
    if (sw->asha)
        dnn_text_printf(x, "<tr><th>pruner</th><td>ASHA: epochs %d to %d, reduction factor %d</td></tr>\n",
                        sw->min_epochs, sw->max_epochs, sw->eta);
    else
        dnn_text_printf(x, "<tr><th>pruner</th><td>none</td></tr>\n");
    dnn_text_printf(
        x, "<tr><th>trials</th><td>%d: %d completed, %d pruned, %d failed, %d unfinished</td></tr>\n", n,
        count[TRIAL_COMPLETED], count[TRIAL_PRUNED], count[TRIAL_FAILED],
        count[TRIAL_NEW] + count[TRIAL_RUNNING] + count[TRIAL_PAUSED]);
    dnn_text_printf(
        x, "<tr><th>time</th><td>%.1f s; the trials' own %.1f s over %ld epochs</td></tr>\n</table>\n",
        seconds, own, epochs);
}

dnn_status tune_write_report(const char *dir, const dnn_sweep *sw, const tune_trial *t, int n, int best,
                             double seconds, dnn_error *err)
{
    row *r = malloc(((size_t)n + 1) * sizeof *r);
    if (!r) return dnn_fail_oom(err, "the report", 0);
    for (int k = 0; k < n; k++) {
        r[k].t = &t[k];
        r[k].value = tune_best_upto(&t[k], t[k].epochs, sw->maximize, &r[k].at);
        r[k].rank_class = t[k].state == TRIAL_COMPLETED ? 0 : t[k].state == TRIAL_FAILED || !r[k].at ? 2 : 1;
    }
    qsort(r, (size_t)n, sizeof *r, by_rank);
    dnn_text x = {0};
    dnn_text_printf(&x, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                        "<meta charset=\"utf-8\"/>\n<title>dnn tuning study ");
    dnn_text_escape(&x, dir);
    dnn_text_printf(&x,
                    "</title>\n<style>\n"
                    "body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }\n"
                    "h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px "
                    "solid #ddd; }\n"
                    "table { border-collapse: collapse; margin: 0.6em 0; }\n"
                    "th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #eee; text-align: right; }\n"
                    "th:first-child, td:first-child { text-align: left; }\n"
                    "tr.best td { font-weight: bold; background: #f3f8ff; }\n"
                    "figure { display: inline-block; margin: 0.5em; } figcaption { font-size: 0.85em; color: "
                    "#666; }\n</style>\n</head>\n<body>\n<h1>dnn tuning study: ");
    dnn_text_escape(&x, dir);
    dnn_text_printf(&x, "</h1>\n");
    summary_rows(&x, sw, t, n, seconds);
    leaderboard(&x, sw, r, n, best);
    if (best >= 0) {
        const cJSON *loss = tune_json_at(t[best].config, "loss");
        int at;
        tune_best_upto(&t[best], t[best].epochs, sw->maximize, &at);
        curves(&x, dir, &t[best], !(cJSON_IsString(loss) && strcmp(loss->valuestring, "mse") == 0), at);
    }
    dnn_text_printf(&x,
                    "<h2>%s against each searched key</h2>\n<p>Filled: completed trials; hollow: trials "
                    "stopped early, at their last value; red: the best.</p>\n",
                    dnn_monitor_name(sw->metric));
    for (int i = 0; i < sw->n_params; i++) scatter(&x, sw, t, n, best, i);
    dnn_text_printf(&x, "</body>\n</html>\n");
    char *path = dnn_path_join(dir, "report.html");
    dnn_status st = path ? dnn_text_write(&x, path, err) : dnn_fail_oom(err, dir, 0);
    free(path);
    free(r);
    dnn_text_free(&x);
    return st;
}
