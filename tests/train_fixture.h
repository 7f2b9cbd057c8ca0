/* A small classification job for training tests: 3 noisy blobs in 5 features (203 rows, the last 23 for
 * validation) and a network of the given hidden layers with a softmax of 3 on top, trained by Adam. */
#ifndef DNN_TEST_TRAIN_FIXTURE_H
#define DNN_TEST_TRAIN_FIXTURE_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/train.h"

typedef struct {
    dnn_model m;
    dnn_train_state s;
    dnn_dataset ds;
    uint32_t *rows;
} fixture;

static inline void fixture_blobs(dnn_dataset *ds, size_t n)
{
    memset(ds, 0, sizeof *ds);
    ds->source = strdup("blobs");
    ds->n = n, ds->d = ds->d_num = 5, ds->dtype = DNN_F32;
    ds->x32 = malloc(n * 5 * sizeof(float));
    ds->y = malloc(n * sizeof(int32_t));
    dnn_rng r;
    dnn_rng_seed(&r, 11, 1);
    for (size_t i = 0; i < n; i++) {
        ds->y[i] = (int32_t)(i % 3);
        for (int j = 0; j < 5; j++)
            ds->x32[i * 5 + j] = (float)(ds->y[i] == j % 3) + 0.7f * (float)dnn_rng_normal(&r);
    }
}

/* layers: the hidden layers' JSON; optimizer: the optimizer's (NULL: Adam at 0.01); the weights initialised
 * from init_seed. 0, or -1 after printing why. */
static inline int fixture_setup(fixture *f, const char *layers, const char *optimizer, int batch, int epochs,
                                uint64_t init_seed)
{
    char json[2048];
    snprintf(
        json, sizeof json,
        "{\"seed\": 3, \"data\": {\"train\": {\"format\": \"idx\", \"images\": \"/x-images-idx3-ubyte\"},"
        " \"normalize\": \"standardize\"}, \"model\": {\"layers\": [%s, {\"type\": \"dense\", \"units\": 3,"
        " \"activation\": \"softmax\"}]}, \"loss\": \"cross_entropy\", \"optimizer\": %s,"
        " \"training\": {\"epochs\": %d, \"batch_size\": %d}}",
        layers, optimizer ? optimizer : "{\"type\": \"adam\", \"learning_rate\": 0.01}", epochs, batch);
    dnn_error err;
    dnn_config c;
    fixture_blobs(&f->ds, 203);
    f->rows = malloc(f->ds.n * sizeof(uint32_t));
    for (size_t i = 0; i < f->ds.n; i++) f->rows[i] = (uint32_t)i;
    if (dnn_config_from_json(&c, cJSON_Parse(json), "t.json", NULL, NULL, 0, &err) ||
        dnn_model_create(&f->m, &c, (dnn_shape){5, 1, 1}, &err) ||
        dnn_model_fit_preprocessing(&f->m, &f->ds, f->rows, f->ds.n, &err) ||
        dnn_train_state_init(&f->s, &f->m, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    dnn_rng init;
    dnn_rng_seed(&init, init_seed, DNN_STREAM_INIT);
    dnn_net_init(f->m.net, f->m.cfg.init, &init);
    return 0;
}

static inline void fixture_teardown(fixture *f)
{
    dnn_train_state_free(&f->s);
    dnn_model_free(&f->m);
    dnn_dataset_free(&f->ds);
    free(f->rows);
}

#endif
