/* libFuzzer target: the config parser and validator. The input is the config file, then optionally a last
 * line "key=value" applied as a --set override. */
#include "dnn/config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t json_len = size;
    char set[256] = "";
    for (size_t i = size; i-- > 0;)
        if (data[i] == '\n') {
            size_t n = size - i - 1;
            if (n < sizeof set && memchr(data + i + 1, '=', n) && !memchr(data + i + 1, '\0', n)) {
                memcpy(set, data + i + 1, n);
                set[n] = '\0';
                json_len = i;
            }
            break;
        }
    const char *path = fuzz_file("config", data, json_len);
    const char *sets[] = {set};
    dnn_config c;
    dnn_error err;
    if (dnn_config_load(&c, path, sets, set[0] ? 1 : 0, &err) == DNN_OK) dnn_config_free(&c);
    unlink(path);
    return 0;
}
