/* dnn's public C API: load a model trained by dnntrain and predict with it from your own program.
 *
 *     dnn_predictor *p;
 *     if (dnn_predictor_load("model.bin", &p) != DNN_OK) fprintf(stderr, "%s\n", dnn_last_error());
 *     float out[2 * 3];                          // 2 rows x dnn_predictor_n_outputs(p) (3 here)
 *     dnn_predict(p, x, 2, dnn_predictor_n_features(p), out);
 *     dnn_predictor_free(p);
 *
 * Rows are raw features as the training data had them (NaN where a value is missing): the model fills
 * missing values, normalises, runs the network and, for a regression, returns values in the targets' own
 * units, exactly as `dnneval --predict` does.
 *
 * Threads: a loaded predictor is never written after loading, so any number of threads may call
 * dnn_predict on one predictor at once; each call works in memory of its own. Nothing in the library is
 * global: no locale, no shared buffers. Errors are return codes; the message of the last failed call is
 * kept per thread (dnn_last_error). The library never prints and never exits.
 *
 * Link with `pkg-config --cflags --libs dnn`, or find_package(dnn) and target dnn::dnn in CMake. */
#ifndef DNN_H
#define DNN_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define DNN_API __attribute__((visibility("default")))
#else
#define DNN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define DNN_VERSION_MAJOR 0
#define DNN_VERSION_MINOR 1
#define DNN_VERSION_PATCH 0

/* Status codes. They are also the exit codes of the dnntrain and dnneval commands. */
typedef enum {
    DNN_OK = 0,
    DNN_EINTERNAL = 1,     /* a bug */
    DNN_ECONFIG = 2,       /* a bad argument, invocation or config */
    DNN_EDATA = 3,         /* bad data: a row the model cannot take */
    DNN_EIO = 4,           /* a file or buffer that cannot be read, or is not a valid checkpoint */
    DNN_EDIVERGED = 5,     /* NaN or Inf in the loss or the weights (training) */
    DNN_EGATE = 6,         /* a quality gate failed (dnneval) */
    DNN_EINTERRUPTED = 130 /* stopped by SIGINT/SIGTERM after a checkpoint (dnntrain) */
} dnn_status;

/* The library's version, "MAJOR.MINOR.PATCH". */
DNN_API const char *dnn_version(void);

/* The message of the last call that failed in this thread (naming the file, byte, row or feature at
 * fault), or "" when none has. It stays valid until the next failing call in the same thread. */
DNN_API const char *dnn_last_error(void);

/* A trained model, ready to predict. Opaque; read-only once loaded. */
typedef struct dnn_predictor dnn_predictor;

/* Load a checkpoint written by dnntrain (ckpt.bin, best.bin). On failure *out is NULL. */
DNN_API dnn_status dnn_predictor_load(const char *path, dnn_predictor **out);
/* The same from a checkpoint's bytes in memory (an embedded resource, a blob from a database). The buffer
 * is only read during the call. */
DNN_API dnn_status dnn_predictor_load_buffer(const void *data, size_t size, dnn_predictor **out);
/* Free a predictor; NULL is fine. No call on it may be running. */
DNN_API void dnn_predictor_free(dnn_predictor *p);

/* Features per input row. */
DNN_API int dnn_predictor_n_features(const dnn_predictor *p);
/* Values per output row: class probabilities (2 for a model with one sigmoid unit) or regression targets. */
DNN_API int dnn_predictor_n_outputs(const dnn_predictor *p);
/* Classes of a classifier; 0 for a regression. */
DNN_API int dnn_predictor_n_classes(const dnn_predictor *p);
/* The name of feature i (a CSV header's column), or NULL when the data had no names (IDX images) or i is out
 * of range. */
DNN_API const char *dnn_predictor_feature_name(const dnn_predictor *p, int i);
/* What output column j holds: the class name of a classifier, the target name of a regression; NULL when the
 * data gave no names (classes are then their indices) or j is out of range. */
DNN_API const char *dnn_predictor_output_name(const dnn_predictor *p, int j);

/* Predict n_rows rows of x [n_rows, n_features] (row-major, raw features, NaN where missing) into out
 * [n_rows, n_outputs]. n_features must be dnn_predictor_n_features(p): a mismatch is DNN_ECONFIG. A missing
 * value in a model trained with data.missing "error" or "drop" is DNN_EDATA, naming the row and feature, as
 * dnneval would refuse or drop it. Safe to call from many threads at once on one predictor. */
DNN_API dnn_status dnn_predict(const dnn_predictor *p, const float *x, size_t n_rows, int n_features,
                               float *out);

#ifdef __cplusplus
}
#endif

#endif
