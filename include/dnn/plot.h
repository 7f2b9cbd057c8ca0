/* Pictures and pages: learning curves and confusion matrices as SVG, and a self-contained HTML report of a
 * run, written with a small string builder of our own (no JavaScript, nothing fetched from a network). */
#ifndef DNN_PLOT_H
#define DNN_PLOT_H

#include <stddef.h>

#include "dnn/error.h"
#include "dnn/metrics.h"
#include "dnn/model.h"
#include "dnn/train.h"

typedef struct cJSON cJSON;

/* A growable text buffer; on allocation failure it sets oom and ignores further writes. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} dnn_text;

void dnn_text_printf(dnn_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* C locale */
void dnn_text_escape(dnn_text *t, const char *s); /* XML/HTML text and attribute escaping */
void dnn_text_free(dnn_text *t);

/* Learning curves of a run: loss (and accuracy, for classification) per epoch, training and validation (when
 * there is a validation set), with labelled axes, one marked point per epoch and the best epoch marked (0:
 * none). */
void dnn_svg_curves(dnn_text *t, const dnn_epoch_log *hist, int n, int classification, int best);
/* A confusion matrix as a heat map (cells shaded by the share of their true class), with class names. */
void dnn_svg_confusion(dnn_text *t, const dnn_metrics *mt, const dnn_model *m);
/* Predictions against targets for a regression of k targets, a panel each (pred and target [n, k]); names
 * may be NULL. */
void dnn_svg_scatter(dnn_text *t, const float *pred, const float *target, size_t n, int k,
                     char *const *names);

/* One point per trial: a value (y) against a setting (x), for a tuning study. kind[i]: 0 a completed trial
 * (filled), 1 a pruned one (hollow, grey), 2 the best (larger, red). With xcats, x holds category indices;
 * with log_x, x holds log10 of the setting and the axis is labelled in powers of ten. */
typedef struct {
    const char *title, *xlabel, *ylabel;
    const double *x, *y;
    const int *kind; /* NULL: all completed */
    int n;
    const char *const *xcats;
    int n_xcats;
    int log_x;
} dnn_svg_points_spec;
void dnn_svg_points(dnn_text *t, const dnn_svg_points_spec *s);

/* Write text to path atomically. */
dnn_status dnn_text_write(const dnn_text *t, const char *path, dnn_error *err);

/* The run's report.html: summary, history, curves, the test set's tables and confusion matrix, the config.
 * report is the run's report.json tree; test may be NULL; extra is more HTML before the config (the
 * explanation), or NULL. */
dnn_status dnn_report_html(const char *path, const cJSON *report, const dnn_epoch_log *hist, int n,
                           const dnn_metrics *test, const dnn_model *m, const char *extra, dnn_error *err);

#endif
