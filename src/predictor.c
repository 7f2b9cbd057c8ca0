/* The public API of include/dnn.h: a loaded model shared read-only between threads, and predictions on raw
 * rows prepared as dnneval prepares them (fill, normalise, forward, back to the targets' units). */
#include "dnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/checkpoint.h"
#include "dnn/model.h"
#include "dnn/util.h"

/* Rows per forward pass: enough for sgemm to run near its peak, small enough that the workspace of a call
 * stays in cache-sized buffers whatever n_rows is. */
enum { CHUNK = 256 };

struct dnn_predictor {
    dnn_model m;
    int n_outputs;
    int fills; /* missing values are filled (data.missing mean, median or zero); else they are an error */
};

/* The message of the last failure, one per thread: the only state outside a predictor, and never shared. */
static _Thread_local dnn_error last_error;

const char *dnn_last_error(void)
{
    return last_error.msg;
}

/* Keep err as this thread's last error and return its code. */
static dnn_status failed(const dnn_error *err)
{
    last_error = *err;
    return err->code;
}

static dnn_status finish_load(dnn_status st, dnn_predictor *p, dnn_predictor **out, dnn_error *err)
{
    if (st) {
        free(p);
        return failed(err);
    }
    /* every prediction runs through a view with its own workspace: the model keeps its weights alone */
    dnn_net_drop_workspace(p->m.net);
    const dnn_model *m = &p->m;
    p->n_outputs = m->cfg.task == DNN_TASK_CLASSIFICATION ? m->n_classes : m->net->n_out;
    p->fills = dnn_model_fills_missing(m);
    *out = p;
    return DNN_OK;
}

dnn_status dnn_predictor_load(const char *path, dnn_predictor **out)
{
    dnn_error err = {0};
    if (!out || !path) return failed(&(dnn_error){DNN_ECONFIG, "dnn_predictor_load: a NULL argument"});
    *out = NULL;
    dnn_predictor *p = calloc(1, sizeof *p);
    if (!p) return failed(&(dnn_error){DNN_EIO, "dnn_predictor_load: out of memory"});
    return finish_load(dnn_checkpoint_load(path, 0, &p->m, NULL, &err), p, out, &err);
}

dnn_status dnn_predictor_load_buffer(const void *data, size_t size, dnn_predictor **out)
{
    dnn_error err = {0};
    if (!out || (!data && size))
        return failed(&(dnn_error){DNN_ECONFIG, "dnn_predictor_load_buffer: a NULL argument"});
    *out = NULL;
    dnn_predictor *p = calloc(1, sizeof *p);
    if (!p) return failed(&(dnn_error){DNN_EIO, "dnn_predictor_load_buffer: out of memory"});
    static const uint8_t empty[1];
    dnn_status st = dnn_checkpoint_decode("<buffer>", data ? data : empty, size, 0, &p->m, NULL, &err);
    return finish_load(st, p, out, &err);
}

void dnn_predictor_free(dnn_predictor *p)
{
    if (!p) return;
    dnn_model_free(&p->m);
    free(p);
}

int dnn_predictor_n_features(const dnn_predictor *p)
{
    return p ? p->m.net->n_in : 0;
}

int dnn_predictor_n_outputs(const dnn_predictor *p)
{
    return p ? p->n_outputs : 0;
}

int dnn_predictor_n_classes(const dnn_predictor *p)
{
    return p && p->m.cfg.task == DNN_TASK_CLASSIFICATION ? p->m.n_classes : 0;
}

const char *dnn_predictor_feature_name(const dnn_predictor *p, int i)
{
    if (!p || !p->m.feature_names || i < 0 || i >= p->m.net->n_in) return NULL;
    return p->m.feature_names[i];
}

const char *dnn_predictor_output_name(const dnn_predictor *p, int j)
{
    if (!p || j < 0 || j >= p->n_outputs) return NULL;
    char **names = p->m.cfg.task == DNN_TASK_CLASSIFICATION ? p->m.class_names : p->m.target_names;
    return names ? names[j] : NULL;
}

/* Rows x [b, d] as the network takes them, into xb: missing values filled, then normalised, as dnneval's
 * imputation and gather do. first is the index of x's first row in the caller's batch, for messages. */
static dnn_status prepare(const dnn_predictor *p, const float *x, int b, size_t first, float *xb,
                          dnn_error *err)
{
    const dnn_model *m = &p->m;
    const size_t d = (size_t)m->net->n_in;
    const float *shift = m->norm.shift, *mul = m->norm.mul, *fill = m->impute.fill;
    for (size_t i = 0; i < (size_t)b; i++) {
        const float *xr = x + i * d;
        float *out = xb + i * d;
        for (size_t j = 0; j < d; j++) {
            float v = xr[j];
            if (isnan(v)) {
                if (!p->fills) {
                    const char *name = m->feature_names ? m->feature_names[j] : NULL;
                    return dnn_fail(
                        err, DNN_EDATA,
                        "dnn_predict: row %zu: feature %zu%s%s%s is missing (NaN), and the model was "
                        "trained with data.missing \"%s\", so it has no value to fill in",
                        first + i, j, name ? " (\"" : "", name ? name : "", name ? "\")" : "",
                        m->cfg.train.missing == DNN_MISSING_DROP ? "drop" : "error");
                }
                v = fill[j];
            }
            out[j] = (v - shift[j]) * mul[j];
        }
    }
    return DNN_OK;
}

/* The network's output a [b, n_out] as the caller gets it: class probabilities (both of a single sigmoid
 * unit's) or regression values in the targets' units. */
static void emit(const dnn_predictor *p, const float *a, int b, float *out)
{
    const dnn_model *m = &p->m;
    const int k = m->net->n_out, c = p->n_outputs;
    for (size_t i = 0; i < (size_t)b; i++) {
        const float *ar = a + i * (size_t)k;
        float *o = out + i * (size_t)c;
        if (m->cfg.task == DNN_TASK_CLASSIFICATION && k == 1) {
            o[0] = 1.0f - ar[0];
            o[1] = ar[0];
        } else if (m->cfg.task == DNN_TASK_REGRESSION && m->norm.k) {
            for (int j = 0; j < k; j++) o[j] = ar[j] / m->norm.tmul[j] + m->norm.tshift[j];
        } else {
            memcpy(o, ar, (size_t)k * sizeof(float));
        }
    }
}

dnn_status dnn_predict(const dnn_predictor *p, const float *x, size_t n_rows, int n_features, float *out)
{
    dnn_error err = {0};
    if (!p || (n_rows && (!x || !out)))
        return failed(&(dnn_error){DNN_ECONFIG, "dnn_predict: a NULL argument"});
    if (n_features != p->m.net->n_in) {
        dnn_fail(&err, DNN_ECONFIG, "dnn_predict: rows of %d features, but the model takes %d", n_features,
                 p->m.net->n_in);
        return failed(&err);
    }
    if (n_rows == 0) return DNN_OK;
    const int B = n_rows < CHUNK ? (int)n_rows : CHUNK;
    const size_t d = (size_t)n_features, c = (size_t)p->n_outputs;
    if (n_rows > SIZE_MAX / d / sizeof(float) || n_rows > SIZE_MAX / c / sizeof(float)) {
        dnn_fail(&err, DNN_ECONFIG, "dnn_predict: %zu rows overflow this machine's address space", n_rows);
        return failed(&err);
    }
    /* a workspace of this call's own over the shared network: calls never touch each other's memory */
    dnn_net *view = NULL;
    dnn_status st = dnn_net_create_view(&view, &p->m.cfg, p->m.net, B, &err);
    float *xb = st ? NULL : dnn_alloc_hot((size_t)B * d, sizeof(float));
    if (!st && !xb) st = dnn_fail_oom(&err, "dnn_predict's input rows", (size_t)B * d * sizeof(float));
    for (size_t start = 0; !st && start < n_rows; start += (size_t)B) {
        int b = n_rows - start < (size_t)B ? (int)(n_rows - start) : B;
        st = prepare(p, x + start * d, b, start, xb, &err);
        if (!st) emit(p, dnn_net_forward(view, xb, b, 0, NULL), b, out + start * c);
    }
    free(xb);
    dnn_net_free(view);
    return st ? failed(&err) : DNN_OK;
}
