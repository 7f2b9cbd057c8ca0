/* The run configuration: JSON parsed with cJSON, overridden with --set, validated into typed fields. */
#ifndef DNN_CONFIG_H
#define DNN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "dnn/error.h"

typedef struct cJSON cJSON;

typedef enum { DNN_FORMAT_IDX, DNN_FORMAT_CSV } dnn_format;
typedef enum { DNN_NORM_NONE, DNN_NORM_SCALE, DNN_NORM_STANDARDIZE } dnn_norm_kind;
typedef enum { DNN_TASK_CLASSIFICATION, DNN_TASK_REGRESSION } dnn_task;
typedef enum {
    DNN_MISSING_ERROR,
    DNN_MISSING_MEAN,
    DNN_MISSING_MEDIAN,
    DNN_MISSING_ZERO,
    DNN_MISSING_DROP
} dnn_missing;

typedef enum {
    DNN_LAYER_DENSE,
    DNN_LAYER_DROPOUT,
    DNN_LAYER_BATCHNORM,
    DNN_LAYER_CONV2D,
    DNN_LAYER_MAXPOOL2D,
    DNN_LAYER_AVGPOOL2D,
    DNN_LAYER_FLATTEN,
    DNN_LAYER_GLOBAL_AVGPOOL
} dnn_layer_kind;
typedef enum { DNN_PAD_VALID, DNN_PAD_SAME, DNN_PAD_EXPLICIT } dnn_padding;

/* The shape of one sample: c channels of h x w values (a plain feature vector is d x 1 x 1). */
typedef struct {
    int c, h, w;
} dnn_shape;
typedef enum {
    DNN_ACT_LINEAR,
    DNN_ACT_RELU,
    DNN_ACT_LEAKY_RELU,
    DNN_ACT_SIGMOID,
    DNN_ACT_TANH,
    DNN_ACT_SOFTMAX,
    DNN_ACT_GELU
} dnn_act;
typedef enum {
    DNN_INIT_AUTO,
    DNN_INIT_HE,
    DNN_INIT_HE_UNIFORM,
    DNN_INIT_XAVIER,
    DNN_INIT_XAVIER_NORMAL
} dnn_init;
/* The products' number format: fp32, or bf16 operands accumulated in fp32 (include/dnn/gemm.h). */
typedef enum { DNN_PRECISION_FP32, DNN_PRECISION_BF16 } dnn_precision;
typedef enum { DNN_LOSS_CROSS_ENTROPY, DNN_LOSS_BINARY_CROSS_ENTROPY, DNN_LOSS_MSE } dnn_loss_kind;
typedef enum { DNN_OPT_SGD, DNN_OPT_ADAM, DNN_OPT_ADAMW, DNN_OPT_RMSPROP } dnn_optim_kind;
typedef enum { DNN_SCHED_NONE, DNN_SCHED_STEP, DNN_SCHED_COSINE, DNN_SCHED_PLATEAU } dnn_sched_kind;
typedef enum {
    DNN_MONITOR_VAL_LOSS,
    DNN_MONITOR_VAL_ACCURACY,
    DNN_MONITOR_LOSS,
    DNN_MONITOR_ACCURACY
} dnn_monitor;

/* A CSV column named by header name or by index (negative counts from the end). */
typedef struct {
    char *name; /* NULL when given by index */
    long index;
} dnn_colref;

typedef struct {
    dnn_format format;
    char *images, *labels; /* idx: paths resolved against the config's folder */
    char *path;            /* csv: the path as given (a file or a glob; the first of a list), for messages */
    char **paths;          /* csv: every file or glob of a list, n_paths of them (NULL: path alone) */
    int n_paths;
    int header;        /* csv: 1, 0, or -1 for "auto" */
    char delimiter;    /* csv: 0 for "auto" */
    dnn_colref *label; /* csv: target column(s); none given means the last column */
    int n_label;
    dnn_colref *features, *ignore;
    int n_features, n_ignore;
    dnn_missing missing;
    char **missing_values; /* NULL means the default set */
    int n_missing_values;
    int stream;  /* 1, 0, or -1 for "auto": stream when the decoded data would not fit the budget */
    char *cache; /* a binary cache of the parsed rows: NULL none, "" in the run folder, else a path */
    /* Copied from data.* so that a source's reader has them: the categorical columns (names or indices, or
     * every non-numeric one), and how many levels each keeps before pooling the rest into "__other__". */
    dnn_colref *categorical;
    int n_categorical, categorical_auto;
    int max_categories;
    size_t max_memory; /* not from JSON: the caller's memory budget for loading it (0: the default) */
} dnn_source_config;

typedef struct {
    dnn_layer_kind kind;
    int units;            /* dense */
    dnn_act activation;   /* dense, conv2d */
    float negative_slope; /* dense, conv2d with leaky_relu */
    float l2;             /* dense, conv2d: adds l2 * sum(W^2) to the loss */
    float rate;           /* dropout */
    float momentum, eps;  /* batchnorm */
    int filters;          /* conv2d */
    int kernel[2];        /* conv2d kernel_size, pooling pool_size: height, width */
    int stride[2];        /* conv2d (1), pooling (pool_size) */
    dnn_padding padding;  /* conv2d */
    int pad[2];           /* conv2d with numeric padding: zero rows, columns added on each side */
} dnn_layer_config;

typedef struct {
    dnn_sched_kind kind;
    int step_size;       /* step */
    double gamma;        /* step */
    double min_lr;       /* cosine, plateau */
    int warmup_epochs;   /* cosine */
    dnn_monitor monitor; /* plateau */
    double factor;       /* plateau */
    int patience;        /* plateau */
    double min_delta;    /* plateau */
} dnn_schedule_config;

typedef struct {
    dnn_optim_kind kind;
    double learning_rate;
    double momentum;          /* sgd */
    int nesterov;             /* sgd */
    double beta1, beta2, eps; /* adam, adamw; eps also rmsprop */
    double rho;               /* rmsprop decay */
    double weight_decay;      /* adamw (decoupled) */
    double clip_norm;         /* 0: no clipping */
    dnn_schedule_config schedule;
} dnn_optim_config;

typedef struct {
    int enabled;
    dnn_monitor monitor;
    int patience;
    double min_delta;
    int restore_best;
} dnn_early_stopping_config;

typedef struct {
    char *file;  /* the config file's name, for messages ("<checkpoint>" when loaded from one) */
    cJSON *json; /* the effective config: the file with --set overrides applied, data paths resolved */

    uint64_t seed;
    dnn_source_config train;
    dnn_source_config test; /* has_test says whether it is set */
    int has_test;
    double validation_split;
    dnn_shape shape; /* data.shape: one sample's C x H x W (has_shape), else taken from the data */
    int has_shape;
    dnn_norm_kind normalize;
    dnn_task task;
    char **class_names; /* data.classes: names for classes given by index (IDX, integer CSV labels) */
    int n_class_names;
    int shuffle_buffer; /* data.shuffle_buffer: rows held to shuffle a streamed source (0: the default) */
    dnn_colref *categorical; /* data.categorical (the sources borrow it) */
    int n_categorical, categorical_auto, max_categories;

    dnn_layer_config *layers;
    int n_layers;
    dnn_init init;
    dnn_loss_kind loss;
    dnn_optim_config optim;

    int epochs, batch_size, shuffle;
    dnn_precision precision; /* of training's products (evaluation chooses its own) */
    dnn_early_stopping_config early_stopping;

    char *output_dir; /* NULL: runs/<config stem> */
    int save_best, every_epochs, keep;
    unsigned explain; /* output.explain: the methods explaining the test set in the run's report
                       * (DNN_EXPLAIN_* bits of dnn/explain.h; 0: none) */

    size_t max_memory; /* not from JSON: the caller's memory budget for the model (0: the default) */
} dnn_config;

/* Read and validate a config file. overrides[] are "dotted.path=value" strings (--set). On failure nothing
 * is left to free. */
dnn_status dnn_config_load(dnn_config *cfg, const char *path, const char *const *overrides, int n_overrides,
                           dnn_error *err);
/* Apply the overrides to an already parsed config tree and validate it (takes ownership of json, freed on
 * failure). file names it in messages; base_dir is where relative data paths resolve (NULL: leave them as
 * they are). */
dnn_status dnn_config_from_json(dnn_config *cfg, cJSON *json, const char *file, const char *base_dir,
                                const char *const *overrides, int n_overrides, dnn_error *err);
/* Apply one "dotted.path=value" override to a JSON tree. */
dnn_status dnn_config_apply_override(cJSON *json, const char *assignment, dnn_error *err);
void dnn_config_free(dnn_config *cfg);

/* Every config key the validator accepts, as a dotted path: "training.epochs", and for the elements of an
 * array "model.layers[].units". Sorted, without duplicates; free with dnn_strings_free(*keys, *n). */
dnn_status dnn_config_keys(char ***keys, size_t *n, dnn_error *err);

/* The JSON name of an enum value, for messages and reports. */
const char *dnn_act_name(dnn_act a);
const char *dnn_precision_name(dnn_precision p);
/* "fp32" or "bf16" into *p: 0, or -1 for any other name. */
int dnn_precision_parse(const char *name, dnn_precision *p);
const char *dnn_layer_name(dnn_layer_kind k);
const char *dnn_loss_name(dnn_loss_kind l);
const char *dnn_monitor_name(dnn_monitor m);
const char *dnn_task_name(dnn_task t);

#endif
