/* libFuzzer target: the sweep file's parser and checker against a fixed base config, then the first trials
 * drawn from each sweep it accepts (conditions, grids, and the application of values to the config). */
#include <cjson/cJSON.h>

#include "../../src/tune/internal.h"
#include "fuzz_util.h"

static const char BASE[] =
    "{\"seed\": 1, \"data\": {\"train\": {\"format\": \"csv\", \"path\": \"x.csv\"}, \"validation_split\": "
    "0.2},"
    " \"model\": {\"layers\": [{\"type\": \"dense\", \"units\": 8, \"activation\": \"relu\"},"
    " {\"type\": \"dropout\", \"rate\": 0.1}, {\"type\": \"dense\", \"units\": 3, \"activation\": "
    "\"softmax\"}]},"
    " \"loss\": \"cross_entropy\", \"optimizer\": {\"type\": \"adam\", \"learning_rate\": 0.001},"
    " \"training\": {\"epochs\": 4, \"batch_size\": 8}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *json = cJSON_ParseWithLength((const char *)data, size);
    if (!json) return 0;
    dnn_sweep sw;
    dnn_error err;
    if (dnn_sweep_from_json(&sw, json, "sweep.json", cJSON_Parse(BASE), "/dev/shm/base.json", &err)) return 0;
    double vals[64];
    for (int t = 0; t < 3 && (sw.sampler != DNN_SAMPLER_GRID || t < sw.n_grid); t++) {
        cJSON *config;
        if (tune_sample(&sw, NULL, 0, t, vals, &config, &err) == DNN_OK) cJSON_Delete(config);
    }
    dnn_sweep_free(&sw);
    return 0;
}
