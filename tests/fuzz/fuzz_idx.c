/* libFuzzer target: the IDX reader on plain input and, when the first byte is odd, on the same input wrapped
 * in gzip, then the data-set loader with its labels file. */
#include <zlib.h>

#include "dnn/data.h"
#include "dnn/idx.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int gz = data[0] & 1;
    data++, size--;
    const char *path;
    if (gz) {
        static char p[128];
        snprintf(p, sizeof p, "/dev/shm/dnn-fuzz-idxgz-%ld", (long)getpid());
        gzFile f = gzopen(p, "wb1");
        if (!f) abort();
        if (size) gzwrite(f, data, (unsigned)size);
        gzclose(f);
        path = p;
    } else {
        path = fuzz_file("idx", data, size);
    }
    dnn_idx idx;
    dnn_error err;
    if (dnn_idx_read(path, 0, &idx, &err) == DNN_OK) dnn_idx_free(&idx);
    /* the same bytes as images and as their own labels: exercises pairing, counts and label checks */
    dnn_source_config src = {.format = DNN_FORMAT_IDX, .images = (char *)path, .labels = (char *)path};
    dnn_dataset ds;
    if (dnn_load_source(&ds, &src, DNN_TASK_CLASSIFICATION, NULL, &err) == DNN_OK) {
        dnn_check_labels(&ds, 10, &err);
        dnn_dataset_free(&ds);
    }
    if (dnn_load_source(&ds, &src, DNN_TASK_REGRESSION, NULL, &err) == DNN_OK) dnn_dataset_free(&ds);
    unlink(path);
    return 0;
}
