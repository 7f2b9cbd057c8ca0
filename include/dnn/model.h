/* A model: the config it was built from, its network and everything needed to feed it new data in the way
 * it was trained (normalisation, class names). This is what evaluation needs from a checkpoint. */
#ifndef DNN_MODEL_H
#define DNN_MODEL_H

#include "dnn/config.h"
#include "dnn/data.h"
#include "dnn/error.h"
#include "dnn/net.h"

typedef struct {
    dnn_config cfg;
    dnn_net *net;
    dnn_norm norm;        /* input (and regression target) normalisation, fitted on the training split */
    dnn_impute impute;    /* fill values for missing cells, fitted on the training split */
    int n_classes;        /* classification: the number of classes (1 sigmoid unit: 2) */
    char **class_names;   /* n_classes names, or NULL: classes are their indices */
    char **feature_names; /* net->n_in names, or NULL */
    char **target_names;  /* regression: net->n_out names, or NULL */
    char **label_names;   /* the label columns' names in the training data (a header), or NULL */
    int n_labels;
    dnn_encoding *enc;   /* the categorical columns and the levels each keeps (NULL: none) */
    char written_by[32]; /* the dnn version that wrote the checkpoint it came from */
} dnn_model;

/* Build the model of cfg (moved in: the model owns it) for input samples of shape in. A layer that does not
 * fit its input's shape is a config error naming it. */
dnn_status dnn_model_create(dnn_model *m, dnn_config *cfg, dnn_shape in, dnn_error *err);
void dnn_model_free(dnn_model *m);

/* Take class and feature names, and the categorical vocabularies, from a data set (copies). */
dnn_status dnn_model_set_names(dnn_model *m, const dnn_dataset *ds, dnn_error *err);

/* Check that a data set fits the model: feature count, and class labels within range. */
dnn_status dnn_model_check_data(const dnn_model *m, const dnn_dataset *ds, dnn_error *err);

/* What new data must match to be fed to this model. */
dnn_schema dnn_model_schema(const dnn_model *m, int labels_optional);

/* Fit the preprocessing (imputation, then normalisation) on rows[0..n) of ds and apply the imputation to
 * ds. */
dnn_status dnn_model_fit_preprocessing(dnn_model *m, dnn_dataset *ds, const uint32_t *rows, size_t n,
                                       dnn_error *err);
/* Apply the fitted imputation to other data (validation, test, new data), and recode its categorical
 * columns to the model's levels when it chose its own (read without the model's schema). */
dnn_status dnn_model_prepare(const dnn_model *m, dnn_dataset *ds, dnn_error *err);
/* Whether the model fills a missing value (data.missing mean, median or zero) rather than refusing or
 * dropping its row. */
int dnn_model_fills_missing(const dnn_model *m);

#endif
