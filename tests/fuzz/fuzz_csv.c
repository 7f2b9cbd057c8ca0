/* libFuzzer target: the CSV reader. The first byte picks the options (header, delimiter, task, missing-value
 * policy, a schema as for evaluation); the rest is the file. */
#include "dnn/csv.h"
#include "dnn/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t o = data[0];
    data++, size--;
    const char *path = fuzz_file("csv", data, size);
    static const char delims[] = {0, ',', ';', '\t'};
    dnn_source_config src = {.format = DNN_FORMAT_CSV, .path = (char *)path};
    src.header = (o & 3) == 3 ? -1 : (o & 3) == 2 ? 1 : (o & 1) ? 0 : -1;
    src.delimiter = delims[(o >> 2) & 3];
    src.missing = (dnn_missing)((o >> 4) % 5);
    dnn_colref label = {"y", 0};
    if (o & 0x40) src.label = &label, src.n_label = 1;
    dnn_task task = (o & 0x80) ? DNN_TASK_REGRESSION : DNN_TASK_CLASSIFICATION;
    dnn_dataset ds;
    dnn_error err;
    if (dnn_load_source(&ds, &src, task, NULL, &err) == DNN_OK) {
        dnn_impute im;
        if (dnn_impute_fit(&im, DNN_MISSING_MEDIAN, &ds, NULL, 0, &err) == DNN_OK) {
            dnn_impute_apply(&im, &ds);
            dnn_impute_free(&im);
        }
        dnn_norm nm;
        if (dnn_norm_fit(&nm, DNN_NORM_STANDARDIZE, &ds, NULL, 0, &err) == DNN_OK) dnn_norm_free(&nm);
        dnn_dataset_free(&ds);
    }
    /* as data for a model with named features and classes */
    char *feats[] = {"a", "b"}, *classes[] = {"x", "z"};
    dnn_schema sc = {.n_features = 2,
                     .feature_names = feats,
                     .n_classes = 2,
                     .class_names = classes,
                     .labels_optional = 1};
    if (dnn_load_source(&ds, &src, DNN_TASK_CLASSIFICATION, &sc, &err) == DNN_OK) dnn_dataset_free(&ds);
    unlink(path);
    return 0;
}
