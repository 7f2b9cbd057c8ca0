/* Metrics tests against values worked out by hand, including a class never predicted, one never present
 * and one in neither; and the JSON report's keys. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "check.h"
#include "dnn/metrics.h"
#include "dnn/report.h"

static void test_classification(void)
{
    dnn_metrics mt;
    dnn_error err;
    CHECK(dnn_metrics_init(&mt, DNN_TASK_CLASSIFICATION, 5, 0, &err) == DNN_OK);
    /* rows: true class; columns: predicted. Class 2 is never predicted, class 3 never present (but predicted
     * once), class 4 neither. */
    uint64_t cm[5][5] = {{3, 1, 0, 1, 0}, {1, 2, 0, 0, 0}, {0, 2, 0, 0, 0}, {0}, {0}};
    memcpy(mt.confusion, cm, sizeof cm);
    mt.labelled = 1;
    mt.n = 10;
    dnn_metrics_finish_classification(&mt);
    CHECK_NEAR(mt.accuracy, 0.5, 1e-12);
    double p[] = {0.75, 0.4, 0, 0}, r[] = {0.6, 2.0 / 3, 0, 0}, f[] = {2 * 0.75 * 0.6 / 1.35, 0.5, 0, 0};
    for (int c = 0; c < 4; c++) {
        CHECK_NEAR(mt.per_class[c].precision, p[c], 1e-12);
        CHECK_NEAR(mt.per_class[c].recall, r[c], 1e-12);
        CHECK_NEAR(mt.per_class[c].f1, f[c], 1e-12);
    }
    CHECK(mt.per_class[0].support == 5 && mt.per_class[2].support == 2 && mt.per_class[3].support == 0);
    CHECK(mt.counted[3] && !mt.counted[4]);
    /* macro over the 4 classes seen in truth or predictions; weighted by support */
    CHECK_NEAR(mt.macro.precision, (0.75 + 0.4) / 4, 1e-12);
    CHECK_NEAR(mt.macro.recall, (0.6 + 2.0 / 3) / 4, 1e-12);
    CHECK_NEAR(mt.macro.f1, (f[0] + 0.5) / 4, 1e-12);
    CHECK_NEAR(mt.weighted.precision, (0.75 * 5 + 0.4 * 3) / 10, 1e-12);
    CHECK_NEAR(mt.weighted.recall, 0.5, 1e-12);
    CHECK_NEAR(mt.weighted.f1, (f[0] * 5 + 0.5 * 3) / 10, 1e-12);
    CHECK(mt.macro.support == 10);

    /* the JSON report has every key of SPEC.md, numbers where they exist and null where they do not */
    dnn_model m = {0};
    m.n_classes = 5;
    mt.loss = 0.5;
    cJSON *j = dnn_report_json(&mt, &m, "m.bin", "d.idx");
    const char *keys[] = {"model",    "data",      "samples",   "task",         "loss",
                          "accuracy", "per_class", "macro_avg", "weighted_avg", "confusion_matrix",
                          "seconds"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK_MSG(cJSON_GetObjectItem(j, keys[i]), "%s", keys[i]);
    const cJSON *pc = cJSON_GetObjectItem(j, "per_class");
    CHECK(cJSON_GetArraySize(pc) == 5);
    const cJSON *c1 = cJSON_GetArrayItem(pc, 1);
    CHECK(c1 && strcmp(cJSON_GetObjectItem(c1, "class")->valuestring, "1") == 0);
    CHECK_NEAR(dnn_json_value(cJSON_GetObjectItem(c1, "precision")), 0.4, 1e-12);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "confusion_matrix"), 2);
    CHECK(cJSON_GetArraySize(row) == 5 && cJSON_GetArrayItem(row, 1)->valuedouble == 2);
    CHECK_NEAR(dnn_json_value(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "macro_avg"), "f1")),
               (f[0] + 0.5) / 4, 1e-12);
    cJSON_Delete(j);
    dnn_metrics_free(&mt);
}

static void test_regression(void)
{
    dnn_metrics mt;
    dnn_error err;
    CHECK(dnn_metrics_init(&mt, DNN_TASK_REGRESSION, 0, 2, &err) == DNN_OK);
    /* target 0: t = 1 2 3 4, p = 1 2 3 5; target 1 constant and predicted exactly */
    float t[] = {1, 7, 2, 7, 3, 7, 4, 7}, p[] = {1, 7, 2, 7, 3, 7, 5, 7};
    dnn_metrics_regression(&mt, p, t, 4);
    CHECK_NEAR(mt.mse[0], 0.25, 1e-12);
    CHECK_NEAR(mt.rmse[0], 0.5, 1e-12);
    CHECK_NEAR(mt.mae[0], 0.25, 1e-12);
    CHECK_NEAR(mt.r2[0], 1 - 1.0 / 5, 1e-12);
    CHECK_NEAR(mt.r2[1], 1.0, 0); /* constant target, perfect fit */
    CHECK_NEAR(mt.mse_all, 0.125, 1e-12);
    CHECK_NEAR(mt.r2_all, 0.9, 1e-12);
    CHECK_NEAR(mt.rmse_all, 0.25, 1e-12); /* the mean of the targets' RMSEs */
    CHECK_NEAR(mt.mae_all, 0.125, 1e-12);
    /* errors of both signs do not cancel: -1 and +1 */
    p[0] = 0;
    dnn_metrics_regression(&mt, p, t, 4);
    CHECK_NEAR(mt.mae[0], 0.5, 1e-12);
    CHECK_NEAR(mt.mse[0], 0.5, 1e-12);
    p[0] = 1;
    p[7] = 8;
    dnn_metrics_regression(&mt, p, t, 4);
    CHECK_NEAR(mt.r2[1], 0.0, 0); /* constant target, imperfect fit: 0, never -inf */
    dnn_model m = {0};
    mt.labelled = 1;
    cJSON *j = dnn_report_json(&mt, &m, "m.bin", "d.csv");
    const char *keys[] = {"mse", "rmse", "mae", "r2", "per_target", "task", "samples"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK_MSG(cJSON_GetObjectItem(j, keys[i]), "%s", keys[i]);
    CHECK(strcmp(cJSON_GetObjectItem(j, "task")->valuestring, "regression") == 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "loss"))); /* NaN is written as null */
    cJSON_Delete(j);
    dnn_metrics_free(&mt);
}

/* A 100-class report stays readable: no line wider than a terminal, the matrix replaced by the most confused
 * pairs. */
static void test_many_classes(void)
{
    dnn_metrics mt;
    dnn_error err;
    CHECK(dnn_metrics_init(&mt, DNN_TASK_CLASSIFICATION, 100, 0, &err) == DNN_OK);
    for (int i = 0; i < 100; i++)
        for (int j = 0; j < 100; j++)
            mt.confusion[i * 100 + j] = i == j ? 50 : (uint64_t)((i * 7 + j * 3) % 11 == 0);
    mt.confusion[3 * 100 + 8] = 17; /* the most confused pair */
    mt.labelled = 1;
    mt.n = 5000;
    dnn_metrics_finish_classification(&mt);
    dnn_model m = {0};
    m.n_classes = 100;
    FILE *f = tmpfile();
    dnn_report_print(f, &mt, &m, "m.bin", "d");
    rewind(f);
    char line[4096];
    int widest = 0, lines = 0, pairs = 0, first_pair_ok = 0;
    while (fgets(line, sizeof line, f)) {
        int w = (int)strlen(line);
        if (w > widest) widest = w;
        lines++;
        if (strstr(line, "Most confused pairs")) pairs = 1;
        if (pairs == 1 && strstr(line, "17") && strstr(line, " 3 ") && strstr(line, " 8")) first_pair_ok = 1;
    }
    fclose(f);
    CHECK_MSG(widest <= 100, "a line of %d characters", widest);
    CHECK(pairs && first_pair_ok);
    CHECK(lines < 160);
    dnn_metrics_free(&mt);
}

int main(void)
{
    test_many_classes();
    test_classification();
    test_regression();
    return check_done("test_metrics");
}
