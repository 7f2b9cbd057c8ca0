/* Explanations of a trained model: permutation importance (scikit-learn's permutation_importance), saliency
 * and integrated gradients (Captum's Saliency and IntegratedGradients) with a completeness check on every
 * run, and the model-randomisation sanity check of Adebayo et al. (2018). Gradients with respect to the
 * input come from the network's batched backward pass in evaluation mode. */
#ifndef DNN_EXPLAIN_H
#define DNN_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dnn/data.h"
#include "dnn/error.h"
#include "dnn/model.h"
#include "dnn/plot.h"

typedef struct cJSON cJSON;

enum { DNN_EXPLAIN_PERMUTATION = 1, DNN_EXPLAIN_SALIENCY = 2, DNN_EXPLAIN_IG = 4 };
/* Integrated gradients' baseline: zeros in the data's units, the mean of the explained samples, or the mean
 * of the samples of another data set (one row: that row). */
typedef enum { DNN_BASELINE_ZERO, DNN_BASELINE_MEAN, DNN_BASELINE_DATA } dnn_baseline_kind;
/* What permutation importance scores: the task's own metric (accuracy, R^2) or the mean loss. */
typedef enum { DNN_SCORING_AUTO, DNN_SCORING_ACCURACY, DNN_SCORING_R2, DNN_SCORING_LOSS } dnn_scoring;
/* Integrated gradients' quadrature over the straight path from the baseline to the input. */
typedef enum { DNN_QUAD_GAUSS_LEGENDRE, DNN_QUAD_TRAPEZOID } dnn_quadrature;

/* Columns shuffled together by permutation importance: a CSV column, its one-hot group, or a named group. */
typedef struct {
    char *name;
    int n;
    int *cols; /* feature indices as the network sees them */
} dnn_feature_group;

typedef struct {
    int n;
    dnn_feature_group *g;
} dnn_feature_groups;

/* One group per input feature, named by names (NULL: "x0", "x1", ...), except that features named
 * "column=level" (one-hot levels of a categorical column) form one group per column when a column has
 * more than one. */
dnn_status dnn_groups_default(dnn_feature_groups *gs, char *const *names, int d, dnn_error *err);
/* Named groups from a JSON file {"group": ["column", ...], ...}; a member is a feature name or a
 * categorical column's name (all its one-hot levels). Columns in no group stay groups of their own. A
 * member that is unknown or in two groups is an error naming the file and the group. */
dnn_status dnn_groups_load(dnn_feature_groups *gs, const char *path, char *const *names, int d,
                           dnn_error *err);
void dnn_groups_free(dnn_feature_groups *gs);

typedef struct {
    unsigned methods;                 /* DNN_EXPLAIN_* bits */
    int repeats;                      /* permutation: shuffles per group (5) */
    dnn_scoring scoring;              /* permutation */
    const dnn_feature_groups *groups; /* permutation: NULL for one group per column */
    int steps;                        /* integrated gradients: points of the quadrature (50) */
    dnn_quadrature quadrature;
    dnn_baseline_kind baseline;
    const dnn_dataset *baseline_data; /* DNN_BASELINE_DATA, prepared for the model */
    int target;    /* output explained: a class or target index; -1: the predicted class (0 for
                    * regression) */
    int samples;   /* per-sample attributions kept for reports and plots (--explain-samples) */
    int sanity;    /* also explain a re-initialised copy of the network and correlate */
    uint64_t seed; /* shuffles and the re-initialisation */
    int max_batch; /* rows per pass (0: 1024) */
} dnn_explain_opts;

/* Defaults: repeats 5, steps 50 on Gauss-Legendre, zero baseline, predicted class, 10 samples. */
dnn_explain_opts dnn_explain_defaults(void);

/* Permutation importance: the drop of the score when a group's columns are shuffled (for the loss: its
 * rise), mean and standard deviation over the repeats. */
typedef struct {
    dnn_scoring scoring;
    double score;       /* on the data as it is */
    double *mean, *std; /* [groups] */
    double spearman;    /* --sanity: rank correlation of the importances of the trained and random model */
    double seconds;
} dnn_perm_result;

/* Saliency |d score / d input| or integrated gradients, where score is the explained output's
 * pre-activation (the logit for classification) on the network's (normalised) inputs. */
typedef struct {
    size_t n;                   /* samples explained */
    int d;                      /* features */
    double *abs_mean, *abs_std; /* [d] over samples: the mean and spread of |attribution| */
    int n_maps;                 /* classes (1 for regression) */
    double *maps;               /* [n_maps, d] mean attribution of the samples explained as each class */
    size_t *map_count;          /* [n_maps] */
    int n_samples;              /* kept: the first ones */
    float *sample_attr;         /* [n_samples, d] */
    int *sample_target;         /* [n_samples] */
    double *sample_delta;       /* IG: [n_samples] f(x) - f(baseline) */
    double *sample_error;       /* IG: [n_samples] |sum of attributions - (f(x) - f(baseline))| */
    /* IG completeness: at most over samples of |sum attr - delta| and of its ratio to |delta| (samples
     * whose |delta| is below 1e-6 of the largest are left out of the ratio: there it means nothing) */
    double max_abs, max_rel, mean_rel;
    size_t worst;         /* the sample of max_rel */
    double spearman;      /* --sanity: mean over samples of the rank correlation of |attribution|, trained vs
                           * random (NaN: no sample with two distinct values) */
    double spearman_maps; /* --sanity: the same for the class maps */
    double seconds;       /* spent computing them (and the random network's) */
} dnn_attr_result;

typedef struct {
    unsigned methods;
    dnn_explain_opts opts;
    dnn_feature_groups groups; /* the groups permutation importance used (copied) */
    dnn_perm_result perm;
    dnn_attr_result sal, ig;
    float *baseline; /* [d] normalised */
} dnn_explanation;

/* Explain model m on ds (already prepared for it: dnn_model_prepare). ds needs labels for permutation
 * importance. */
dnn_status dnn_explain(const dnn_model *m, const dnn_dataset *ds, const dnn_explain_opts *o,
                       dnn_explanation *e, dnn_error *err);
void dnn_explanation_free(dnn_explanation *e);

/* Parsing of flag values into options (errors are DNN_ECONFIG naming the flag and what was expected). */
dnn_status dnn_explain_parse_methods(const char *s, unsigned *methods, dnn_error *err);
dnn_status dnn_explain_parse_scoring(const char *s, dnn_scoring *sc, dnn_error *err);
dnn_status dnn_explain_parse_quadrature(const char *s, dnn_quadrature *q, dnn_error *err);
/* --target: a class name or index of m (classification), or a target name or index (regression). */
dnn_status dnn_explain_parse_target(const char *s, const dnn_model *m, int *target, dnn_error *err);
/* The method's name in reports: "permutation", "saliency", "integrated_gradients". */
const char *dnn_explain_method_name(unsigned method);

/* Nodes and weights of a K-point rule on [0, 1] (Gauss-Legendre: exact for polynomials of degree 2K-1). */
dnn_status dnn_quadrature_rule(dnn_quadrature q, int k, double *alpha, double *weight, dnn_error *err);
/* Spearman's rank correlation of a and b (average ranks for ties); NaN when either is constant. work is
 * scratch space [4n]. */
double dnn_spearman(const double *a, const double *b, size_t n, double *work);

/* The "explanation" object of the JSON report, and its text for people. */
cJSON *dnn_explanation_json(const dnn_explanation *e, const dnn_model *m);
void dnn_explanation_print(FILE *f, const dnn_explanation *e, const dnn_model *m);
/* --plot DIR: importance.svg for tables; for images <method>-classes.svg (a heat map per class) and
 * <method>-samples.svg (the first samples beside their attributions). */
dnn_status dnn_explanation_plot(const char *dir, const dnn_explanation *e, const dnn_model *m,
                                const dnn_dataset *ds, dnn_error *err);
/* The explanation section of a run's report.html: the bar chart or the class heat maps, completeness and
 * the sanity check. */
void dnn_explanation_html(dnn_text *t, const dnn_explanation *e, const dnn_model *m);
/* Whether the model's inputs are images (heat maps) rather than table columns (bar charts). */
int dnn_explain_is_image(const dnn_model *m);

#endif
