/* Drawings of explanations as SVG: importances as bars with error bars, attributions as heat maps on a
 * diverging scale centred on zero (blue below, white at zero, red above). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/plot.h"
#include "dnn/util.h"
#include "internal.h"

/* v / lim in [-1, 1] as a colour: white at 0, to a deep red (+) or blue (-) (ColorBrewer's RdBu ends). */
static void diverging(double v, double lim, int rgb[3])
{
    static const int red[3] = {178, 24, 43}, blue[3] = {33, 102, 172};
    double s = lim > 0 ? v / lim : 0;
    s = s > 1 ? 1 : s < -1 ? -1 : s;
    const int *end = s >= 0 ? red : blue;
    for (int c = 0; c < 3; c++) rgb[c] = (int)lround(255 + fabs(s) * (end[c] - 255));
}

static void svg_open(dnn_text *t, double W, double H, const char *title)
{
    dnn_text_printf(
        t,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f "
        "%.0f\" font-family=\"sans-serif\">\n<title>",
        W, H, W, H);
    dnn_text_escape(t, title);
    dnn_text_printf(t, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
}

static void label(dnn_text *t, double x, double y, const char *anchor, double size, const char *s)
{
    dnn_text_printf(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%.0f\">", x, y, anchor,
                    size);
    dnn_text_escape(t, s);
    dnn_text_printf(t, "</text>\n");
}

/* ---- bar charts ---- */

/* One method's bars at y0: the top (at most 20) importances with +-std error bars; returns its height. */
static double bar_panel(dnn_text *t, double y0, const char *title, const double *mean, const double *std,
                        int n, const dnn_feature_groups *gs, const dnn_model *m)
{
    int *o = ex_calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    if (!o) return 0;
    for (int i = 0; i < n; i++) o[i] = i;
    for (int i = 1; i < n; i++) /* by importance, largest first (stable) */
        for (int j = i; j > 0 && mean[o[j - 1]] < mean[o[j]]; j--) {
            int s = o[j];
            o[j] = o[j - 1];
            o[j - 1] = s;
        }
    const int rows = n < 20 ? n : 20;
    double lo = 0, hi = 0;
    for (int i = 0; i < rows; i++) {
        lo = fmin(lo, mean[o[i]] - std[o[i]]);
        hi = fmax(hi, mean[o[i]] + std[o[i]]);
    }
    if (hi - lo <= 0) hi = lo + 1;
    const double x0 = 200, w = 480, bh = 18, top = y0 + 30;
#define BX(v) (x0 + ((v)-lo) / (hi - lo) * w)
    label(t, x0 + w / 2, y0 + 16, "middle", 13, title);
    dnn_text_printf(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n", BX(0),
                    top, BX(0), top + rows * bh);
    char name[256], num[64];
    for (int i = 0; i < rows; i++) {
        const int g = o[i];
        const double y = top + i * bh, a = BX(fmin(0, mean[g])), b = BX(fmax(0, mean[g]));
        if (gs || m->feature_names)
            snprintf(name, sizeof name, "%s", gs ? gs->g[g].name : m->feature_names[g]);
        else
            snprintf(name, sizeof name, "x%d", g);
        if (strlen(name) > 30) strcpy(name + 27, "...");
        label(t, x0 - 8, y + bh * 0.7, "end", 11, name);
        dnn_text_printf(
            t,
            "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4c78a8\">"
            "<title>",
            a, y + 2, b - a, bh - 4);
        dnn_text_escape(t, name);
        dnn_text_printf(t, "</title></rect>\n");
        dnn_snprintf_c(num, sizeof num, "%.3g \xc2\xb1 %.2g", mean[g], std[g]);
        const double e1 = BX(mean[g] - std[g]), e2 = BX(mean[g] + std[g]), yc = y + bh / 2;
        dnn_text_printf(
            t, "<path class=\"err\" d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f\" stroke=\"#222\"/>\n",
            e1, yc, e2, e1, yc - 4, yc + 4, e2, yc - 4, yc + 4);
        label(t, x0 + w + 8, y + bh * 0.7, "start", 10, num);
    }
#undef BX
    free(o);
    return 30 + rows * bh + 20;
}

/* importance.svg: one panel per method of the explanation. */
static void importance_svg(dnn_text *t, const dnn_explanation *e, const dnn_model *m)
{
    const int d = m->net->n_in, rows = d < 20 ? d : 20;
    const int np = !!(e->methods & DNN_EXPLAIN_PERMUTATION) + !!(e->methods & DNN_EXPLAIN_SALIENCY) +
                   !!(e->methods & DNN_EXPLAIN_IG);
    const int gr = e->groups.n < 20 ? e->groups.n : 20;
    svg_open(t, 800, 30 + np * (50 + 18.0 * (rows > gr ? rows : gr)) + 20,
             "Feature importances, error bars +-1 standard deviation");
    double y = 10;
    char title[160];
    if (e->methods & DNN_EXPLAIN_PERMUTATION) {
        snprintf(title, sizeof title, "permutation importance: drop of %s (std over %d repeats)",
                 e->perm.scoring == DNN_SCORING_LOSS ? "-loss"
                 : e->perm.scoring == DNN_SCORING_R2 ? "R\xc2\xb2"
                                                     : "accuracy",
                 e->opts.repeats);
        y += bar_panel(t, y, title, e->perm.mean, e->perm.std, e->groups.n, &e->groups, m);
    }
    if (e->methods & DNN_EXPLAIN_SALIENCY)
        y += bar_panel(t, y, "saliency: mean |gradient| (std over samples)", e->sal.abs_mean, e->sal.abs_std,
                       d, NULL, m);
    if (e->methods & DNN_EXPLAIN_IG)
        y += bar_panel(t, y, "integrated gradients: mean |attribution| (std over samples)", e->ig.abs_mean,
                       e->ig.abs_std, d, NULL, m);
    dnn_text_printf(t, "</svg>\n");
}

/* ---- heat maps ---- */

/* A map of one value per pixel (summed over channels) at (x0, y0), cells of side px; lim sets the scale. */
static void heat_map(dnn_text *t, double x0, double y0, double px, const float *vf, const double *vd,
                     dnn_shape s, double lim)
{
    const size_t hw = (size_t)s.h * (size_t)s.w;
    dnn_text_printf(t, "<g class=\"map\" data-lim=\"%.6g\">\n", lim);
    for (size_t q = 0; q < hw; q++) {
        double v = 0;
        for (int c = 0; c < s.c; c++) v += vf ? vf[(size_t)c * hw + q] : vd[(size_t)c * hw + q];
        int rgb[3];
        diverging(v, lim, rgb);
        dnn_text_printf(
            t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" fill=\"#%02x%02x%02x\"/>\n",
            x0 + (double)(q % (size_t)s.w) * px, y0 + (double)(q / (size_t)s.w) * px, px + 0.05, px + 0.05,
            rgb[0], rgb[1], rgb[2]);
    }
    dnn_text_printf(t, "</g>\n");
}

/* Sample i's pixels in grey, scaled from its darkest to its brightest (channels averaged). */
static void image(dnn_text *t, double x0, double y0, double px, const dnn_dataset *ds, size_t i, dnn_shape s)
{
    const size_t hw = (size_t)s.h * (size_t)s.w, d = ds->d;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < d; j++) {
        double v = ds->dtype == DNN_U8 ? ds->x8[i * d + j] : ds->x32[i * d + j];
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    dnn_text_printf(t, "<g class=\"image\">\n");
    for (size_t q = 0; q < hw; q++) {
        double v = 0;
        for (int c = 0; c < s.c; c++) {
            size_t j = i * d + (size_t)c * hw + q;
            v += ds->dtype == DNN_U8 ? ds->x8[j] : ds->x32[j];
        }
        v /= s.c;
        int g = hi > lo ? (int)lround(255 * (v - lo) / (hi - lo)) : 0;
        dnn_text_printf(
            t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" fill=\"#%02x%02x%02x\"/>\n",
            x0 + (double)(q % (size_t)s.w) * px, y0 + (double)(q / (size_t)s.w) * px, px + 0.05, px + 0.05, g,
            g, g);
    }
    dnn_text_printf(t, "</g>\n");
}

/* The largest |value| of a pixel (summed over channels) in n maps. */
static double max_abs(const float *vf, const double *vd, size_t n, dnn_shape s)
{
    const size_t hw = (size_t)s.h * (size_t)s.w;
    double lim = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t q = 0; q < hw; q++) {
            double v = 0;
            for (int c = 0; c < s.c; c++) {
                size_t j = k * hw * (size_t)s.c + (size_t)c * hw + q;
                v += vf ? vf[j] : vd[j];
            }
            lim = fmax(lim, fabs(v));
        }
    return lim;
}

static void colour_bar(dnn_text *t, double x, double y, double lim)
{
    for (int i = 0; i <= 40; i++) {
        int rgb[3];
        diverging((i - 20) / 20.0 * lim, lim, rgb);
        dnn_text_printf(t,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"5.2\" height=\"10\" fill=\"#%02x%02x%02x\"/>\n",
                        x + i * 5, y, rgb[0], rgb[1], rgb[2]);
    }
    char buf[64];
    dnn_snprintf_c(buf, sizeof buf, "%.3g", -lim);
    label(t, x, y + 24, "middle", 10, buf);
    label(t, x + 102, y + 24, "middle", 10, "0");
    dnn_snprintf_c(buf, sizeof buf, "%.3g", lim);
    label(t, x + 205, y + 24, "middle", 10, buf);
}

/* <method>-classes.svg: each class's mean attribution, five to a row, on one shared scale. */
static void classes_svg(dnn_text *t, const dnn_attr_result *r, const char *method, const dnn_model *m)
{
    const dnn_shape s = m->net->in_shape;
    const double px = fmax(1, 112.0 / s.w), cw = px * s.w + 20, ch = px * s.h + 40;
    const int cols = r->n_maps < 5 ? r->n_maps : 5, nrows = (r->n_maps + 4) / 5;
    const double lim = max_abs(NULL, r->maps, (size_t)r->n_maps, s);
    char buf[300];
    snprintf(buf, sizeof buf, "%s: mean attribution per class (red raises the class's score, blue lowers it)",
             method);
    svg_open(t, fmax(cols * cw + 20, 420), 50 + nrows * ch + 40, buf);
    label(t, 10, 20, "start", 13, buf);
    for (int k = 0; k < r->n_maps; k++) {
        const double x = 10 + (k % 5) * cw, y = 40 + (k / 5) * ch;
        char name[200];
        if (m->cfg.task == DNN_TASK_CLASSIFICATION && m->class_names)
            snprintf(name, sizeof name, "%s (%zu)", m->class_names[k], r->map_count[k]);
        else
            snprintf(name, sizeof name, "%d (%zu)", k, r->map_count[k]);
        label(t, x + px * s.w / 2, y + 12, "middle", 11, name);
        heat_map(t, x, y + 18, px, NULL, r->maps + (size_t)k * r->d, s, lim);
    }
    colour_bar(t, 10, 50 + nrows * ch, lim);
    dnn_text_printf(t, "</svg>\n");
}

/* <method>-samples.svg: the first samples, each image beside its attribution (each on its own scale). */
static void samples_svg(dnn_text *t, const dnn_attr_result *r, const char *method, const dnn_model *m,
                        const dnn_dataset *ds)
{
    const dnn_shape s = m->net->in_shape;
    const double px = fmax(1, 84.0 / s.w), cw = 2 * px * s.w + 40, ch = px * s.h + 40;
    const int per_row = 4, nrows = (r->n_samples + per_row - 1) / per_row;
    char buf[300];
    snprintf(buf, sizeof buf, "%s: the first %d samples and their attributions (each map on its own scale)",
             method, r->n_samples);
    svg_open(t, fmax(per_row * cw + 20, 420), 40 + nrows * ch + 10, buf);
    label(t, 10, 20, "start", 13, buf);
    for (int i = 0; i < r->n_samples; i++) {
        const double x = 10 + (i % per_row) * cw, y = 36 + (i / per_row) * ch;
        const float *a = r->sample_attr + (size_t)i * r->d;
        char name[200];
        if (m->cfg.task == DNN_TASK_CLASSIFICATION && m->class_names)
            snprintf(name, sizeof name, "#%d as %s", i, m->class_names[r->sample_target[i]]);
        else
            snprintf(name, sizeof name, "#%d as %d", i, r->sample_target[i]);
        label(t, x, y + 12, "start", 11, name);
        image(t, x, y + 18, px, ds, (size_t)i, s);
        heat_map(t, x + px * s.w + 6, y + 18, px, a, NULL, s, max_abs(a, NULL, 1, s));
    }
    dnn_text_printf(t, "</svg>\n");
}

/* Write t to dir/name. */
static dnn_status put(const char *dir, const char *name, dnn_text *t, dnn_error *err)
{
    char *path = dnn_path_join(dir, name);
    dnn_status st = !path    ? dnn_fail_oom(err, name, strlen(dir))
                    : t->oom ? dnn_fail_oom(err, name, t->n)
                             : dnn_text_write(t, path, err);
    free(path);
    dnn_text_free(t);
    memset(t, 0, sizeof *t);
    return st;
}

dnn_status dnn_explanation_plot(const char *dir, const dnn_explanation *e, const dnn_model *m,
                                const dnn_dataset *ds, dnn_error *err)
{
    dnn_text t = {0};
    dnn_status st = dnn_mkdirs(dir, err);
    if (st) return st;
    if (!dnn_explain_is_image(m)) {
        importance_svg(&t, e, m);
        return put(dir, "importance.svg", &t, err);
    }
    const dnn_attr_result *rs[2] = {&e->sal, &e->ig};
    for (int i = 0; i < 2 && !st; i++) {
        const unsigned bit = i ? DNN_EXPLAIN_IG : DNN_EXPLAIN_SALIENCY;
        if (!(e->methods & bit)) continue;
        const char *name = dnn_explain_method_name(bit);
        char file[64];
        classes_svg(&t, rs[i], name, m);
        snprintf(file, sizeof file, "%s-classes.svg", name);
        st = put(dir, file, &t, err);
        if (st || rs[i]->n_samples == 0) continue;
        samples_svg(&t, rs[i], name, m, ds);
        snprintf(file, sizeof file, "%s-samples.svg", name);
        st = put(dir, file, &t, err);
    }
    if (!st && (e->methods & DNN_EXPLAIN_PERMUTATION)) { /* pixels as columns: bars still say the most */
        importance_svg(&t, e, m);
        st = put(dir, "importance.svg", &t, err);
    }
    return st;
}

void dnn_explanation_html(dnn_text *t, const dnn_explanation *e, const dnn_model *m)
{
    const dnn_attr_result *rs[2] = {&e->sal, &e->ig};
    dnn_text_printf(t, "<h2>Explanation of the test set</h2>\n");
    if (!dnn_explain_is_image(m) || (e->methods & DNN_EXPLAIN_PERMUTATION)) {
        dnn_text_printf(t, "<figure>\n");
        importance_svg(t, e, m);
        dnn_text_printf(t,
                        "<figcaption>Permutation importance: the drop of the score when a column is shuffled "
                        "(correlated columns share their importance: shuffle them together with dnneval "
                        "--groups). Saliency and integrated gradients: the mean |attribution| over the "
                        "samples.</figcaption>\n</figure>\n");
    }
    for (int i = 0; i < 2; i++) {
        const unsigned bit = i ? DNN_EXPLAIN_IG : DNN_EXPLAIN_SALIENCY;
        if (!(e->methods & bit)) continue;
        if (dnn_explain_is_image(m)) {
            dnn_text_printf(t, "<figure>\n");
            classes_svg(t, rs[i], dnn_explain_method_name(bit), m);
            dnn_text_printf(t, "</figure>\n");
        }
        if (i)
            dnn_text_printf(
                t,
                "<p>Integrated gradients (%d-point %s rule, %s baseline): the attributions' sum misses "
                "f(x) &#8722; f(baseline) by %.3g%% at most, %.3g%% on average.</p>\n",
                e->opts.steps, e->opts.quadrature == DNN_QUAD_TRAPEZOID ? "trapezoid" : "Gauss-Legendre",
                e->opts.baseline == DNN_BASELINE_MEAN ? "mean" : "zero", 100 * rs[i]->max_rel,
                100 * rs[i]->mean_rel);
        if (e->opts.sanity)
            dnn_text_printf(t,
                            "<p>Sanity check (%s): rank correlation with a randomly re-initialised network "
                            "%.3f (a faithful explanation gives a low one).</p>\n",
                            dnn_explain_method_name(bit), rs[i]->spearman);
    }
}
