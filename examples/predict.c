/* predict: score CSV rows of raw features from stdin (an empty field is a missing value) with a model that
 * dnntrain wrote; per row, print the predicted class (classifiers) and the outputs.
 * Build: cc predict.c $(pkg-config --cflags --libs dnn) -o predict     Run: ./predict model.bin < rows.csv */
#include <dnn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    dnn_predictor *p;
    if (argc != 2 || dnn_predictor_load(argv[1], &p) != DNN_OK) {
        fprintf(stderr, "usage: predict MODEL.bin < rows.csv\n%s\n", dnn_last_error());
        return 2;
    }
    int d = dnn_predictor_n_features(p), k = dnn_predictor_n_outputs(p), rc = 0;
    float *x = malloc(sizeof(float) * d), *y = malloc(sizeof(float) * k);
    char line[1 << 16];
    while (rc == 0 && x && y && fgets(line, sizeof line, stdin)) {
        char *s = line, *end;
        for (int j = 0; j < d; j++, s = end + (*end == ',')) { /* "1.5,,3" -> 1.5 NaN 3 */
            x[j] = strtof(s, &end);
            if (end == s) x[j] = NAN;
        }
        if ((rc = dnn_predict(p, x, 1, d, y)) != DNN_OK) {
            fprintf(stderr, "%s\n", dnn_last_error());
            break;
        }
        int best = 0; /* the most probable class */
        for (int j = 1; j < k; j++) best = y[j] > y[best] ? j : best;
        const char *name = dnn_predictor_output_name(p, best);
        if (dnn_predictor_n_classes(p) && name)
            printf("%s,", name);
        else if (dnn_predictor_n_classes(p))
            printf("%d,", best);
        for (int j = 0; j < k; j++) printf(j ? ",%.9g" : "%.9g", y[j]);
        printf("\n");
    }
    free(x);
    free(y);
    dnn_predictor_free(p);
    return rc;
}
