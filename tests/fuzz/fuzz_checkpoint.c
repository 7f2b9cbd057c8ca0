/* libFuzzer target: the checkpoint decoder, with and without training state. Inputs with a wrong checksum
 * stop early, so half the runs repair the CRC first to reach the section parsers. */
#include <zlib.h>

#include "dnn/checkpoint.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int fix = data[0] & 1;
    uint8_t *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    size_t n = size - 1;
    if (fix && n >= 28) {
        /* the length field and the CRC, made right */
        for (int i = 0; i < 8; i++) buf[16 + i] = (uint8_t)((uint64_t)n >> (8 * i));
        uLong crc = crc32(0L, buf, (uInt)(n - 4));
        for (int i = 0; i < 4; i++) buf[n - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    dnn_model m;
    dnn_train_state s;
    dnn_error err;
    if (dnn_checkpoint_decode("fuzz.bin", buf, n, 0, &m, &s, &err) == DNN_OK) {
        dnn_train_state_free(&s);
        dnn_model_free(&m);
    }
    if (dnn_checkpoint_decode("fuzz.bin", buf, n, 0, &m, NULL, &err) == DNN_OK) dnn_model_free(&m);
    free(buf);
    return 0;
}
