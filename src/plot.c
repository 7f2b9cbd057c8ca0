/* SVG charts and the HTML run report. Output is well-formed XML (the page is polyglot XHTML), numbers are
 * printed in the C locale, and every piece of user text (class names, paths, the config) is escaped. */
#include "dnn/plot.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/report.h"
#include "dnn/util.h"

/* ---- text buffer ---- */

static int reserve(dnn_text *t, size_t more)
{
    if (t->oom) return -1;
    if (t->n + more + 1 <= t->cap) return 0;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->n + more + 1) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        t->oom = 1;
        return -1;
    }
    t->p = p, t->cap = cap;
    return 0;
}

void dnn_text_printf(dnn_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = dnn_vsnprintf_c(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && reserve(t, (size_t)n) == 0) {
        va_start(ap, fmt);
        dnn_vsnprintf_c(t->p + t->n, (size_t)n + 1, fmt, ap);
        va_end(ap);
        t->n += (size_t)n;
    }
}

void dnn_text_escape(dnn_text *t, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': dnn_text_printf(t, "&amp;"); break;
        case '<': dnn_text_printf(t, "&lt;"); break;
        case '>': dnn_text_printf(t, "&gt;"); break;
        case '"': dnn_text_printf(t, "&quot;"); break;
        case '\'': dnn_text_printf(t, "&#39;"); break;
        default:
            /* control characters other than tab and newline are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
                dnn_text_printf(t, "?");
            else if (reserve(t, 1) == 0)
                t->p[t->n++] = *s, t->p[t->n] = '\0';
        }
    }
}

void dnn_text_free(dnn_text *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}

dnn_status dnn_text_write(const dnn_text *t, const char *path, dnn_error *err)
{
    if (t->oom) return dnn_fail_oom(err, path, t->n);
    return dnn_write_atomic(path, t->p ? t->p : "", t->n, err);
}

/* ---- axes ---- */

typedef struct {
    double lo, hi, step;
} axis;

/* Round bounds and a step of 1, 2 or 5 times a power of ten giving at most about 6 ticks. */
static axis nice_axis(double lo, double hi)
{
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) {
        double pad = fabs(hi) > 1e-12 ? fabs(hi) * 0.1 : 0.5;
        lo -= pad, hi += pad;
    }
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    axis a = {floor(lo / step) * step, ceil(hi / step) * step, step};
    return a;
}

/* A panel: x from 1 to n epochs, y on axis a; returns nothing, draws frame, grid, ticks, labels. */
typedef struct {
    double x0, y0, w, h; /* plot area in pixels */
    double xmin, xmax;
    axis y;
} panel;

static double px(const panel *p, double x)
{
    return p->x0 + (p->xmax > p->xmin ? (x - p->xmin) / (p->xmax - p->xmin) : 0.5) * p->w;
}

static double py(const panel *p, double y)
{
    return p->y0 + p->h - (y - p->y.lo) / (p->y.hi - p->y.lo) * p->h;
}

/* How a panel's x axis is labelled: numbers, whole epochs, category names at 0..n-1, or powers of ten
 * (x is log10 of the value). */
typedef struct {
    enum { X_NUMBERS, X_EPOCHS, X_CATEGORIES, X_LOG10 } kind;
    const char *const *names;
    int n;
} x_axis;

static void x_tick(dnn_text *t, const panel *p, double v, const char *label)
{
    double x = px(p, v);
    dnn_text_printf(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n", x,
                    p->y0 + p->h, x, p->y0 + p->h + 4);
    dnn_text_printf(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">", x,
                    p->y0 + p->h + 17);
    dnn_text_escape(t, label);
    dnn_text_printf(t, "</text>\n");
}

static void x_ticks(dnn_text *t, const panel *p, const x_axis *xa)
{
    char label[48];
    if (xa->kind == X_CATEGORIES) {
        for (int i = 0; i < xa->n; i++) {
            snprintf(label, sizeof label, "%s", xa->names[i]);
            if (strlen(xa->names[i]) >= sizeof label) strcpy(label + sizeof label - 4, "...");
            x_tick(t, p, i, label);
        }
        return;
    }
    double span = p->xmax - p->xmin;
    double xstep = xa->kind == X_EPOCHS ? fmax(1, ceil(span / 10)) : nice_axis(p->xmin, p->xmax).step;
    if (xa->kind == X_LOG10) xstep = fmax(1, round(xstep)); /* whole powers of ten */
    double start = xa->kind == X_EPOCHS ? p->xmin : ceil(p->xmin / xstep) * xstep;
    for (double v = start; v <= p->xmax + 1e-9; v += xstep) {
        dnn_snprintf_c(label, sizeof label, "%g", xa->kind == X_LOG10 ? pow(10, v) : v);
        x_tick(t, p, v, label);
    }
}

static void draw_frame(dnn_text *t, const panel *p, const char *title, const char *xlabel, const char *ylabel,
                       const x_axis *xa)
{
    dnn_text_printf(t, "<g class=\"panel\">\n");
    dnn_text_printf(
        t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" stroke=\"#888\"/>\n",
        p->x0, p->y0, p->w, p->h);
    for (double v = p->y.lo; v <= p->y.hi + p->y.step / 2; v += p->y.step) {
        double y = py(p, v);
        dnn_text_printf(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n",
                        p->x0, y, p->x0 + p->w, y);
        dnn_text_printf(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%g</text>\n",
                        p->x0 - 6, y + 4, fabs(v) < p->y.step * 1e-9 ? 0.0 : v);
    }
    x_ticks(t, p, xa);
    dnn_text_printf(
        t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">",
        p->x0 + p->w / 2, p->y0 - 10);
    dnn_text_escape(t, title);
    dnn_text_printf(t, "</text>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">",
                    p->x0 + p->w / 2, p->y0 + p->h + 36);
    dnn_text_escape(t, xlabel);
    dnn_text_printf(t,
                    "</text>\n<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\" "
                    "font-size=\"12\">",
                    p->x0 - 48, p->y0 + p->h / 2);
    dnn_text_escape(t, ylabel);
    dnn_text_printf(t, "</text>\n</g>\n");
}

/* One series: a line through the finite points (broken at gaps) and a marker at each. */
static void draw_series(dnn_text *t, const panel *p, const double *y, int n, const char *color, int dashed,
                        const char *name)
{
    dnn_text_printf(t, "<g class=\"series\" data-name=\"");
    dnn_text_escape(t, name);
    dnn_text_printf(t, "\">\n");
    int open = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            if (open) dnn_text_printf(t, "\"/>\n");
            open = 0;
            continue;
        }
        if (!open)
            dnn_text_printf(t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", color,
                            dashed ? " stroke-dasharray=\"6 4\"" : "");
        dnn_text_printf(t, "%s%.1f,%.1f", open ? " " : "", px(p, i + 1), py(p, y[i]));
        open = 1;
    }
    if (open) dnn_text_printf(t, "\"/>\n");
    for (int i = 0; i < n; i++)
        if (isfinite(y[i]))
            dnn_text_printf(t, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                            px(p, i + 1), py(p, y[i]), color);
    dnn_text_printf(t, "</g>\n");
}

/* A legend in one row, under a panel. */
static void legend(dnn_text *t, double x, double y, const char *const *names, const char *const *colors,
                   const int *dashed, int n)
{
    for (int i = 0; i < n; i++) {
        double xi = x + 130 * i;
        dnn_text_printf(
            t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
            xi, y, xi + 22, y, colors[i], dashed[i] ? " stroke-dasharray=\"6 4\"" : "");
        dnn_text_printf(t, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", xi + 28, y + 4);
        dnn_text_escape(t, names[i]);
        dnn_text_printf(t, "</text>\n");
    }
}

/* ---- learning curves ---- */

static void range(const double *a, const double *b, int n, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (isfinite(a[i])) *lo = fmin(*lo, a[i]), *hi = fmax(*hi, a[i]);
        if (isfinite(b[i])) *lo = fmin(*lo, b[i]), *hi = fmax(*hi, b[i]);
    }
}

/* A dashed vertical line at the best epoch, labelled. */
static void mark_best(dnn_text *t, const panel *p, int best)
{
    if (best < 1) return;
    double x = px(p, best);
    dnn_text_printf(
        t,
        "<g class=\"best\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#2ca02c\" "
        "stroke-dasharray=\"3 3\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#2ca02c\" "
        "text-anchor=\"middle\">best (%d)</text></g>\n",
        x, p->y0, x, p->y0 + p->h, x, p->y0 + 12, best);
}

void dnn_svg_curves(dnn_text *t, const dnn_epoch_log *hist, int n, int classification, int best)
{
    const int panels = classification ? 2 : 1;
    const double pw = 380, ph = 250, W = 80 + panels * (pw + 90), H = ph + 130;
    double *v = malloc(4 * (size_t)(n > 0 ? n : 1) * sizeof(double));
    if (!v) {
        t->oom = 1;
        return;
    }
    double *loss = v, *vloss = v + n, *acc = v + 2 * n, *vacc = v + 3 * n;
    for (int i = 0; i < n; i++) {
        loss[i] = hist[i].loss, vloss[i] = hist[i].val_loss;
        acc[i] = hist[i].accuracy, vacc[i] = hist[i].val_accuracy;
    }
    dnn_text_printf(
        t,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
        "font-family=\"sans-serif\">\n",
        W, H, W, H);
    dnn_text_printf(t, "<title>Learning curves: loss%s per epoch, training and validation</title>\n",
                    classification ? " and accuracy" : "");
    const char *names[] = {"training", "validation"}, *colors[] = {"#1f77b4", "#ff7f0e"};
    const int dashed[] = {0, 1};
    int validated = 0;
    for (int i = 0; i < n; i++) validated |= isfinite(vloss[i]);
    for (int k = 0; k < panels; k++) {
        double lo, hi;
        const double *a = k ? acc : loss, *b = k ? vacc : vloss;
        range(a, b, n, &lo, &hi);
        if (k && isfinite(lo)) hi = fmin(1, hi), lo = fmax(0, lo);
        panel p = {80 + k * (pw + 90), 40, pw, ph, 1, n > 1 ? n : 2, nice_axis(lo, hi)};
        const x_axis epochs = {X_EPOCHS, NULL, 0};
        draw_frame(t, &p, k ? "Accuracy" : "Loss", "epoch", k ? "accuracy" : "loss", &epochs);
        draw_series(t, &p, a, n, colors[0], 0, names[0]);
        if (validated) draw_series(t, &p, b, n, colors[1], 1, names[1]);
        mark_best(t, &p, best);
        legend(t, p.x0 + p.w / 2 - (validated ? 110 : 45), p.y0 + p.h + 58, names, colors, dashed,
               validated ? 2 : 1);
    }
    dnn_text_printf(t, "</svg>\n");
    free(v);
}

/* ---- confusion matrix ---- */

static void class_name(const dnn_model *m, int c, char *buf, size_t n)
{
    if (m && m->class_names)
        snprintf(buf, n, "%s", m->class_names[c]);
    else
        snprintf(buf, n, "%d", c);
}

void dnn_svg_confusion(dnn_text *t, const dnn_metrics *mt, const dnn_model *m)
{
    const int k = mt->k;
    double cell = fmin(44, fmax(8, 520.0 / (k ? k : 1)));
    size_t longest = 1;
    char name[256];
    for (int c = 0; c < k; c++) {
        class_name(m, c, name, sizeof name);
        longest = strlen(name) > longest ? strlen(name) : longest;
    }
    double label = fmin(170, 8 + 6.5 * (double)(longest < 26 ? longest : 26));
    double side = cell * k, W = fmax(label + 70 + side, 480), x0 = fmax(label + 40, (W - side) / 2),
           y0 = label + 50, H = y0 + side + 30;
    double fs = fmin(12, cell * 0.5);
    dnn_text_printf(
        t,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
        "font-family=\"sans-serif\">\n",
        W, H, W, H);
    dnn_text_printf(t,
                    "<title>Confusion matrix: rows are the true class, columns the predicted one</title>\n");
    dnn_text_printf(
        t,
        "<text x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">Confusion "
        "matrix (%zu samples, accuracy %.4f)</text>\n",
        W / 2, mt->n, mt->accuracy);
    dnn_text_printf(
        t, "<text x=\"%.1f\" y=\"38\" text-anchor=\"middle\" font-size=\"12\">predicted class</text>\n",
        x0 + side / 2);
    dnn_text_printf(
        t,
        "<text transform=\"translate(14,%.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">true "
        "class</text>\n",
        y0 + side / 2);
    for (int r = 0; r < k; r++) {
        uint64_t row = 0;
        for (int c = 0; c < k; c++) row += mt->confusion[(size_t)r * k + c];
        for (int c = 0; c < k; c++) {
            uint64_t v = mt->confusion[(size_t)r * k + c];
            double share = row ? (double)v / (double)row : 0;
            /* white to a deep blue by the share of the true class's samples */
            int R = (int)(255 - share * (255 - 8)), G = (int)(255 - share * (255 - 48)),
                B = (int)(255 - share * (255 - 107));
            dnn_text_printf(t,
                            "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                            "fill=\"#%02x%02x%02x\" "
                            "stroke=\"#fff\"><title>",
                            x0 + c * cell, y0 + r * cell, cell, cell, R, G, B);
            class_name(m, r, name, sizeof name);
            dnn_text_escape(t, name);
            dnn_text_printf(t, " predicted as ");
            class_name(m, c, name, sizeof name);
            dnn_text_escape(t, name);
            dnn_text_printf(t, ": %llu</title></rect>\n", (unsigned long long)v);
            if (cell >= 22 && v)
                dnn_text_printf(t,
                                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%.1f\" "
                                "fill=\"%s\">%llu</text>\n",
                                x0 + (c + 0.5) * cell, y0 + (r + 0.5) * cell + fs / 3, fs,
                                share > 0.5 ? "#fff" : "#222", (unsigned long long)v);
        }
    }
    for (int c = 0; c < k; c++) {
        class_name(m, c, name, sizeof name);
        if (strlen(name) > 26) strcpy(name + 23, "...");
        dnn_text_printf(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%.1f\">", x0 - 6,
                        y0 + (c + 0.5) * cell + fs / 3, fmax(fs, 7));
        dnn_text_escape(t, name);
        dnn_text_printf(t,
                        "</text>\n<text transform=\"translate(%.1f,%.1f) rotate(-60)\" font-size=\"%.1f\">",
                        x0 + (c + 0.5) * cell + fs / 3, y0 - 6, fmax(fs, 7));
        dnn_text_escape(t, name);
        dnn_text_printf(t, "</text>\n");
    }
    dnn_text_printf(t, "</svg>\n");
}

/* ---- regression scatter ---- */

/* One target's panel at (x0, y0): predictions against targets, the diagonal, a bounded cloud of points. */
static void scatter_panel(dnn_text *t, double x0, double y0, const float *pred, const float *target, size_t n,
                          int k, int j, const char *name)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double a = pred[i * (size_t)k + j], b = target[i * (size_t)k + j];
        if (isfinite(a)) lo = fmin(lo, a), hi = fmax(hi, a);
        if (isfinite(b)) lo = fmin(lo, b), hi = fmax(hi, b);
    }
    axis a = nice_axis(lo, hi);
    panel p = {x0, y0, 360, 360, a.lo, a.hi, a};
    char title[300], ylab[300];
    snprintf(title, sizeof title, "%s: predictions against targets", name);
    snprintf(ylab, sizeof ylab, "predicted %s", name);
    const x_axis numbers = {X_NUMBERS, NULL, 0};
    draw_frame(t, &p, title, name, ylab, &numbers);
    dnn_text_printf(
        t,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n",
        px(&p, a.lo), py(&p, a.lo), px(&p, a.hi), py(&p, a.hi));
    size_t every = n > 4000 ? n / 4000 + 1 : 1; /* a readable cloud, and a file of bounded size */
    dnn_text_printf(t, "<g class=\"points\" data-target=\"");
    dnn_text_escape(t, name);
    dnn_text_printf(t, "\">\n");
    for (size_t i = 0; i < n; i += every)
        dnn_text_printf(t,
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"#1f77b4\" fill-opacity=\"0.5\"/>\n",
                        px(&p, target[i * (size_t)k + j]), py(&p, pred[i * (size_t)k + j]));
    dnn_text_printf(t, "</g>\n");
}

void dnn_svg_scatter(dnn_text *t, const float *pred, const float *target, size_t n, int k, char *const *names)
{
    const int cols = k < 3 ? k : 3, rows = (k + cols - 1) / cols;
    const double W = 40 + cols * 470.0, H = 20 + rows * 470.0;
    dnn_text_printf(
        t,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
        "font-family=\"sans-serif\">\n<title>Predictions against targets</title>\n",
        W, H, W, H);
    for (int j = 0; j < k; j++) {
        char name[64];
        if (!names) snprintf(name, sizeof name, "target %d", j);
        scatter_panel(t, 90 + (j % cols) * 470.0, 50 + (j / cols) * 470.0, pred, target, n, k, j,
                      names ? names[j] : name);
    }
    dnn_text_printf(t, "</svg>\n");
}

/* ---- a value against a setting, one point per trial ---- */

void dnn_svg_points(dnn_text *t, const dnn_svg_points_spec *s)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
        xlo = fmin(xlo, s->x[i]), xhi = fmax(xhi, s->x[i]);
        ylo = fmin(ylo, s->y[i]), yhi = fmax(yhi, s->y[i]);
    }
    x_axis xa = {s->xcats ? X_CATEGORIES : s->log_x ? X_LOG10 : X_NUMBERS, s->xcats, s->n_xcats};
    if (s->xcats) xlo = -0.5, xhi = s->n_xcats - 0.5;
    if (!isfinite(xlo)) xlo = 0, xhi = 1;
    if (xhi - xlo < 1e-12) xlo -= 0.5, xhi += 0.5;
    double pad = s->xcats ? 0 : 0.04 * (xhi - xlo);
    panel p = {80, 40, 420, 260, xlo - pad, xhi + pad, nice_axis(ylo, yhi)};
    dnn_text_printf(
        t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"540\" height=\"360\" viewBox=\"0 0 540 360\" "
           "font-family=\"sans-serif\">\n<title>");
    dnn_text_escape(t, s->title);
    dnn_text_printf(t, "</title>\n");
    draw_frame(t, &p, s->title, s->xlabel, s->ylabel, &xa);
    static const char *const fill[] = {"#1f77b4", "none", "#d62728"},
                             *stroke[] = {"#1f77b4", "#999", "#d62728"};
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
        int k = s->kind ? s->kind[i] : 0;
        dnn_text_printf(t,
                        "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" stroke=\"%s\" "
                        "stroke-width=\"1.5\"/>\n",
                        px(&p, s->x[i]), py(&p, s->y[i]), k == 2 ? 6 : 4, fill[k], stroke[k]);
    }
    dnn_text_printf(t, "</svg>\n");
}

/* ---- the HTML report ---- */

static void td_number(dnn_text *t, const cJSON *o, const char *key, const char *fmt)
{
    double v = o ? dnn_json_value(cJSON_GetObjectItemCaseSensitive(o, key)) : NAN;
    if (isfinite(v)) {
        dnn_text_printf(t, "<td>");
        dnn_text_printf(t, fmt, v);
        dnn_text_printf(t, "</td>");
    } else
        dnn_text_printf(t, "<td>&#8211;</td>");
}

static void row_text(dnn_text *t, const char *key, const char *value)
{
    dnn_text_printf(t, "<tr><th>");
    dnn_text_escape(t, key);
    dnn_text_printf(t, "</th><td>");
    dnn_text_escape(t, value ? value : "");
    dnn_text_printf(t, "</td></tr>\n");
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *key)
{
    return dnn_json_value(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The table of epochs, with only the columns the run has (no accuracy for a regression, no validation
 * without a validation set). */
static void epoch_rows(dnn_text *t, const dnn_epoch_log *hist, int n, int best, int classification,
                       int validated)
{
    static const char *const heads[] = {"loss", "accuracy", "val_loss", "val_accuracy",
                                        "lr",   "seconds",  "samples/s"};
    const int shown[] = {1, classification, validated, classification && validated, 1, 1, 1};
    dnn_text_printf(t, "<table>\n<tr><th>epoch</th>");
    for (int k = 0; k < 7; k++)
        if (shown[k]) dnn_text_printf(t, "<th>%s</th>", heads[k]);
    dnn_text_printf(t, "</tr>\n");
    for (int i = 0; i < n; i++) {
        const dnn_epoch_log *e = &hist[i];
        dnn_text_printf(t, "<tr%s><td>%d%s</td>", e->epoch == best ? " class=\"best\"" : "", e->epoch,
                        e->epoch == best ? " (best)" : "");
        double vals[] = {e->loss, e->accuracy, e->val_loss,          e->val_accuracy,
                         e->lr,   e->seconds,  e->samples_per_second};
        const char *fmts[] = {"%.4f", "%.4f", "%.4f", "%.4f", "%.3g", "%.2f", "%.0f"};
        for (int k = 0; k < 7; k++) {
            if (!shown[k]) continue;
            if (isfinite(vals[k])) {
                dnn_text_printf(t, "<td>");
                dnn_text_printf(t, fmts[k], vals[k]);
                dnn_text_printf(t, "</td>");
            } else
                dnn_text_printf(t, "<td>&#8211;</td>");
        }
        dnn_text_printf(t, "</tr>\n");
    }
    dnn_text_printf(t, "</table>\n");
}

static void test_section(dnn_text *t, const cJSON *tj, const dnn_metrics *mt, const dnn_model *m)
{
    dnn_text_printf(t, "<h2>Test set</h2>\n<p>");
    dnn_text_escape(t, str(tj, "data") ? str(tj, "data") : "");
    dnn_text_printf(t, ": %.0f samples</p>\n<table>\n", num(tj, "samples"));
    if (mt->task == DNN_TASK_CLASSIFICATION) {
        dnn_text_printf(
            t, "<tr><th>accuracy</th><td>%.4f</td></tr>\n<tr><th>loss</th><td>%.4f</td></tr>\n</table>\n",
            mt->accuracy, mt->loss);
        dnn_text_printf(
            t,
            "<table>\n<tr><th>class</th><th>precision</th><th>recall</th><th>f1</th><th>support</th></tr>\n");
        const cJSON *pc = cJSON_GetObjectItemCaseSensitive(tj, "per_class");
        for (const cJSON *c = pc ? pc->child : NULL; c; c = c->next) {
            dnn_text_printf(t, "<tr><td>");
            dnn_text_escape(t, str(c, "class") ? str(c, "class") : "");
            dnn_text_printf(t, "</td>");
            td_number(t, c, "precision", "%.4f");
            td_number(t, c, "recall", "%.4f");
            td_number(t, c, "f1", "%.4f");
            td_number(t, c, "support", "%.0f");
            dnn_text_printf(t, "</tr>\n");
        }
        const char *avg[] = {"macro_avg", "weighted_avg"}, *label[] = {"macro avg", "weighted avg"};
        for (int i = 0; i < 2; i++) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(tj, avg[i]);
            dnn_text_printf(t, "<tr class=\"avg\"><td>%s</td>", label[i]);
            td_number(t, a, "precision", "%.4f");
            td_number(t, a, "recall", "%.4f");
            td_number(t, a, "f1", "%.4f");
            td_number(t, a, "support", "%.0f");
            dnn_text_printf(t, "</tr>\n");
        }
        dnn_text_printf(t, "</table>\n<figure>\n");
        dnn_svg_confusion(t, mt, m);
        dnn_text_printf(
            t,
            "<figcaption>Rows are the true class, columns the predicted one; a cell's shade is its share of "
            "the row.</figcaption>\n</figure>\n");
    } else {
        dnn_text_printf(t, "</table>\n<table>\n<tr><th>target</th><th>MSE</th><th>RMSE</th><th>MAE</"
                           "th><th>R&#178;</th></tr>\n");
        for (int j = 0; j < mt->n_targets; j++) {
            dnn_text_printf(t, "<tr><td>");
            if (m->target_names)
                dnn_text_escape(t, m->target_names[j]);
            else
                dnn_text_printf(t, "%d", j);
            dnn_text_printf(t, "</td><td>%.6g</td><td>%.6g</td><td>%.6g</td><td>%.4f</td></tr>\n", mt->mse[j],
                            mt->rmse[j], mt->mae[j], mt->r2[j]);
        }
        dnn_text_printf(t, "</table>\n");
    }
}

dnn_status dnn_report_html(const char *path, const cJSON *rep, const dnn_epoch_log *hist, int n,
                           const dnn_metrics *test, const dnn_model *m, const char *extra, dnn_error *err)
{
    dnn_text t = {0};
    const char *dir = str(rep, "out_dir");
    int best = (int)num(rep, "best_epoch");
    dnn_text_printf(&t, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                        "<meta charset=\"utf-8\"/>\n<title>dnn run ");
    dnn_text_escape(&t, dir ? dir : "");
    dnn_text_printf(
        &t, "</title>\n<style>\n"
            "body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }\n"
            "h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid "
            "#ddd; }\n"
            "table { border-collapse: collapse; margin: 0.6em 0; }\n"
            "th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; text-align: right; }\n"
            "th:first-child, td:first-child { text-align: left; }\n"
            "tr.best td { font-weight: bold; background: #f3f8ff; } tr.avg td { font-style: italic; }\n"
            "pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }\n"
            "figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #666; }\n"
            "</style>\n</head>\n<body>\n<h1>dnn run: ");
    dnn_text_escape(&t, dir ? dir : "");
    dnn_text_printf(&t, "</h1>\n<table>\n");
    char buf[256];
    row_text(&t, "task", str(rep, "task"));
    snprintf(buf, sizeof buf, "%.0f", num(rep, "parameters"));
    row_text(&t, "parameters", buf);
    snprintf(buf, sizeof buf, "%.0f training, %.0f validation", num(rep, "train_samples"),
             num(rep, "validation_samples"));
    row_text(&t, "samples", buf);
    const cJSON *se = cJSON_GetObjectItemCaseSensitive(rep, "stopped_early");
    snprintf(buf, sizeof buf, "%.0f of %.0f%s", num(rep, "epochs_run"), num(rep, "epochs"),
             cJSON_IsTrue(se) ? " (stopped early)" : "");
    row_text(&t, "epochs", buf);
    snprintf(buf, sizeof buf, "%d, by %s", best, str(rep, "monitor") ? str(rep, "monitor") : "?");
    row_text(&t, "best epoch", buf);
    const cJSON *tj0 = cJSON_GetObjectItemCaseSensitive(rep, "test");
    if (test && cJSON_IsObject(tj0)) {
        if (test->task == DNN_TASK_CLASSIFICATION)
            dnn_snprintf_c(buf, sizeof buf, "accuracy %.4f, loss %.4f (%zu samples)", test->accuracy,
                           test->loss, test->n);
        else
            dnn_snprintf_c(buf, sizeof buf, "R\xc2\xb2 %.4f, RMSE %.6g (%zu samples)", test->r2_all,
                           test->rmse_all, test->n);
        row_text(&t, "test set", buf);
    }
    dnn_snprintf_c(buf, sizeof buf, "%.1f s, %.0f samples/s", num(rep, "seconds"),
                   num(rep, "samples_per_second"));
    row_text(&t, "training time", buf);
    dnn_snprintf_c(buf, sizeof buf, "%.0f MiB", num(rep, "peak_rss_mib"));
    row_text(&t, "peak memory", buf);
    snprintf(buf, sizeof buf, "dnn %s; %s, %.0f threads",
             str(rep, "dnn_version") ? str(rep, "dnn_version") : "?",
             str(rep, "blas") ? str(rep, "blas") : "?", num(rep, "blas_threads"));
    row_text(&t, "software", buf);
    dnn_text_printf(&t, "</table>\n<h2>Learning curves</h2>\n<figure>\n");
    dnn_svg_curves(&t, hist, n, m->cfg.task == DNN_TASK_CLASSIFICATION, best);
    dnn_text_printf(&t,
                    "<figcaption>Solid: training (the running mean over each epoch)%s; the best epoch "
                    "is marked.</figcaption>\n</figure>\n<h2>Epochs</h2>\n",
                    num(rep, "validation_samples") > 0 ? "; dashed: validation, after each epoch" : "");
    epoch_rows(&t, hist, n, best, m->cfg.task == DNN_TASK_CLASSIFICATION, num(rep, "validation_samples") > 0);
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(rep, "test");
    if (test && tj && cJSON_IsObject(tj)) test_section(&t, tj, test, m);
    char *conf = dnn_json_print(cJSON_GetObjectItemCaseSensitive(rep, "config"));
    if (extra) dnn_text_printf(&t, "%s", extra);
    dnn_text_printf(&t, "<h2>Config</h2>\n<pre>");
    dnn_text_escape(&t, conf ? conf : "");
    dnn_text_printf(&t, "</pre>\n</body>\n</html>\n");
    free(conf);
    dnn_status st = dnn_text_write(&t, path, err);
    dnn_text_free(&t);
    return st;
}
