/* libFuzzer target: the config parser and validator, then the network it describes. The input is the config
 * file, then optionally a last line "key=value" applied as a --set override. A config that validates has its
 * layers' shapes checked (on data.shape, else a 1x28x28 image) and, when small, its network built and run
 * forward and backward on a batch of two, so odd geometries reach the image kernels. */
#include "dnn/config.h"
#include "dnn/net.h"
#include "fuzz_util.h"

static void run_network(const dnn_config *c)
{
    dnn_shape in = c->has_shape ? c->shape : (dnn_shape){1, 28, 28};
    dnn_error err;
    dnn_net_sizes_t sz;
    if (dnn_net_check(c, in, &err) != DNN_OK || dnn_net_sizes(c, in, 2, &sz) != 0) return;
    if (sz.params + sz.work + (size_t)in.c * in.h * in.w > ((size_t)4 << 20)) return; /* 16 MB of floats */
    dnn_net *net;
    if (dnn_net_create(&net, c, in, 2, &err) != DNN_OK) return;
    dnn_rng rng;
    dnn_rng_seed(&rng, 1, 1);
    dnn_net_init(net, c->init, &rng);
    size_t n = 2 * (size_t)net->n_in;
    float *x = malloc(n * sizeof(float)), *dx = malloc(n * sizeof(float));
    for (size_t i = 0; x && i < n; i++) x[i] = (float)dnn_rng_uniform(&rng);
    if (x && dx) {
        dnn_net_forward(net, x, 2, 1, &rng);
        float *g = dnn_net_output_grad(net);
        for (size_t i = 0; i < 2 * (size_t)net->n_out; i++) g[i] = 1.0f;
        dnn_net_backward_input(net, x, 2, dx);
    }
    free(x);
    free(dx);
    dnn_net_free(net);
}

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
    if (dnn_config_load(&c, path, sets, set[0] ? 1 : 0, &err) == DNN_OK) {
        run_network(&c);
        dnn_config_free(&c);
    }
    unlink(path);
    return 0;
}
