/* Data sets: loading a configured source, normalisation statistics, seeded splits and batch gathering. */
#include "dnn/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnn/csv.h"
#include "dnn/idx.h"
#include "dnn/rng.h"
#include "dnn/util.h"

void dnn_dataset_free(dnn_dataset *ds)
{
    if (!ds) return;
    free(ds->source);
    free(ds->label_source);
    free(ds->x8);
    free(ds->x32);
    free(ds->y);
    free(ds->t);
    free(ds->lines);
    free(ds->index);
    free(ds->missing);
    dnn_strings_free(ds->class_names, (size_t)ds->n_classes);
    dnn_strings_free(ds->feature_names, ds->d);
    dnn_strings_free(ds->target_names, (size_t)ds->n_targets);
    dnn_strings_free(ds->label_names, (size_t)ds->n_labels);
    memset(ds, 0, sizeof *ds);
}

/* Labels of an IDX file: integers for classification (one per item), numbers for regression. */
static dnn_status idx_labels(dnn_dataset *ds, const char *path, size_t max_memory, const dnn_idx *im,
                             dnn_task task, dnn_error *err)
{
    dnn_idx lb;
    dnn_status st = dnn_idx_read(path, max_memory, &lb, err);
    if (st) return st;
    if (lb.count != im->count) {
        st = dnn_fail(err, DNN_EDATA, "%s: %zu labels for the %zu images of %s (the counts must match)", path,
                      lb.count, im->count, ds->source);
        goto done;
    }
    if (task == DNN_TASK_CLASSIFICATION) {
        if (lb.item != 1 || !(lb.type == DNN_IDX_U8 || lb.type == DNN_IDX_I8 || lb.type == DNN_IDX_I16 ||
                              lb.type == DNN_IDX_I32)) {
            st = dnn_fail(err, DNN_EDATA,
                          "%s: expected one integer class label per item, got %zu %s value(s) per item", path,
                          lb.item, dnn_idx_type_name(lb.type));
            goto done;
        }
        ds->y = malloc(lb.count * sizeof(int32_t) + 1);
        if (!ds->y) {
            st = dnn_fail_oom(err, path, lb.count * sizeof(int32_t));
            goto done;
        }
        const size_t stride = lb.type == DNN_IDX_I16 ? 2 : lb.type == DNN_IDX_I32 ? 4 : 1;
        for (size_t i = 0; i < lb.count; i++) {
            double v = lb.u8 ? lb.u8[i] : lb.f32[i];
            /* no model has 2^24 classes; refusing here also keeps the conversion to int defined */
            if (v < 0 || v >= 16777216.0) {
                st = dnn_fail(err, DNN_EDATA, "%s: byte %zu: label %.0f of item %zu is %s", path,
                              lb.header + i * stride, v, i,
                              v < 0 ? "negative (classes count from 0)" : "too large to be a class index");
                goto done;
            }
            ds->y[i] = (int32_t)v;
        }
        ds->label_offset = lb.header;
        ds->label_stride = stride;
    } else {
        size_t n;
        if (lb.item > 1u << 20 || dnn_mul_size(lb.count, lb.item, &n)) {
            st = dnn_fail(err, DNN_EDATA, "%s: %zu targets per item is too many", path, lb.item);
            goto done;
        }
        ds->t = malloc(n * sizeof(float) + 1);
        if (!ds->t) {
            st = dnn_fail_oom(err, path, n * sizeof(float));
            goto done;
        }
        for (size_t i = 0; i < n; i++) ds->t[i] = lb.u8 ? lb.u8[i] : lb.f32[i];
        ds->n_targets = (int)lb.item;
    }
    ds->label_source = dnn_strdup(path);
    if (!ds->label_source) st = dnn_fail_oom(err, path, strlen(path));
done:
    dnn_idx_free(&lb);
    return st;
}

static dnn_status load_idx(dnn_dataset *ds, const dnn_source_config *src, dnn_task task, const dnn_schema *sc,
                           dnn_error *err)
{
    dnn_idx im;
    dnn_status st = dnn_idx_read(src->images, src->max_memory, &im, err);
    if (st) return st;
    ds->source = dnn_strdup(src->images);
    if (!ds->source) {
        dnn_idx_free(&im);
        return dnn_fail_oom(err, "a path", strlen(src->images));
    }
    if (im.count == 0 || im.item == 0) {
        dnn_idx_free(&im);
        return dnn_fail(err, DNN_EDATA, "%s: no data (%zu items of %zu values)", src->images, im.count,
                        im.item);
    }
    if (im.item > INT32_MAX) {
        dnn_idx_free(&im);
        return dnn_fail(err, DNN_EDATA, "%s: %zu values per item is more than a network input can take",
                        src->images, im.item);
    }
    ds->n = im.count;
    ds->d = im.item;
    if (im.u8) {
        ds->dtype = DNN_U8;
        ds->x8 = im.u8;
        ds->max_value = 255.0f;
    } else {
        ds->dtype = DNN_F32;
        ds->x32 = im.f32;
        ds->max_value = im.type == DNN_IDX_I8    ? 127.0f
                        : im.type == DNN_IDX_I16 ? 32767.0f
                        : im.type == DNN_IDX_I32 ? 2147483647.0f
                                                 : 0.0f;
    }
    char *labels = src->labels ? dnn_strdup(src->labels) : dnn_idx_labels_path(src->images);
    if (!labels && sc && sc->labels_optional) {
        snprintf(
            ds->label_note, sizeof ds->label_note,
            "%s: no labels file (the name does not pair as *-images-idx3-ubyte -> *-labels-idx1-ubyte; give "
            "--labels): scoring in predict-only mode, without metrics",
            src->images);
        return DNN_OK;
    }
    if (!labels) {
        return dnn_fail(err, DNN_ECONFIG,
                        "%s: no labels file: its name does not pair as *-images-idx3-ubyte[.gz] -> "
                        "*-labels-idx1-ubyte[.gz], so give \"labels\"",
                        src->images);
    }
    if (!src->labels && sc && sc->labels_optional && access(labels, F_OK) != 0) {
        /* images without their paired labels file: scored for prediction only, as CSV without labels */
        snprintf(ds->label_note, sizeof ds->label_note,
                 "%s: no labels file %s: scoring in predict-only mode, without metrics", src->images, labels);
        free(labels);
        return DNN_OK;
    }
    st = idx_labels(ds, labels, src->max_memory, &im, task, err);
    free(labels);
    return st;
}

dnn_status dnn_load_source(dnn_dataset *ds, const dnn_source_config *src, dnn_task task,
                           const dnn_schema *schema, dnn_error *err)
{
    memset(ds, 0, sizeof *ds);
    dnn_status st = src->format == DNN_FORMAT_IDX ? load_idx(ds, src, task, schema, err)
                                                  : dnn_csv_load(ds, src, task, schema, err);
    if (st) dnn_dataset_free(ds);
    return st;
}

dnn_status dnn_check_labels(const dnn_dataset *ds, int n_classes, dnn_error *err)
{
    if (!ds->y) return DNN_OK;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->y[i] >= 0 && ds->y[i] < n_classes) continue;
        const char *src = ds->label_source ? ds->label_source : ds->source;
        if (ds->lines)
            return dnn_fail(err, DNN_EDATA,
                            "%s:%u: label %d is out of range for a model with %d classes (0..%d)", src,
                            ds->lines[i], ds->y[i], n_classes, n_classes - 1);
        return dnn_fail(
            err, DNN_EDATA,
            "%s: byte %zu: label %d of item %zu is out of range for a model with %d classes (0..%d)", src,
            ds->label_offset + i * ds->label_stride, ds->y[i], i, n_classes, n_classes - 1);
    }
    return DNN_OK;
}

/* ---- normalisation ---- */

void dnn_norm_free(dnn_norm *nm)
{
    if (!nm) return;
    free(nm->shift);
    free(nm->mul);
    free(nm->tshift);
    free(nm->tmul);
    memset(nm, 0, sizeof *nm);
}

static double value(const dnn_dataset *ds, size_t row, size_t j)
{
    return ds->dtype == DNN_U8 ? ds->x8[row * ds->d + j] : ds->x32[row * ds->d + j];
}

dnn_status dnn_norm_fit(dnn_norm *nm, dnn_norm_kind kind, const dnn_dataset *ds, const uint32_t *rows,
                        size_t n, dnn_error *err)
{
    const size_t d = ds->d;
    memset(nm, 0, sizeof *nm);
    nm->d = d;
    nm->shift = calloc(d, sizeof(float));
    nm->mul = malloc(d * sizeof(float));
    double *acc = calloc(2 * d, sizeof(double));
    if (!nm->shift || !nm->mul || !acc) {
        free(acc);
        dnn_norm_free(nm);
        return dnn_fail_oom(err, "normalisation statistics", 2 * d * sizeof(double));
    }
    for (size_t j = 0; j < d; j++) nm->mul[j] = 1.0f;
    if (!rows) n = ds->n;
    if (kind == DNN_NORM_SCALE && ds->max_value > 0) {
        /* a format with a known maximum (u8 images: 255) divides by it, whatever the data hold */
        for (size_t j = 0; j < d; j++) nm->mul[j] = 1.0f / ds->max_value;
    } else if (kind == DNN_NORM_SCALE && n > 0) {
        /* min-max to [0, 1]; a constant column maps to 0 */
        double *lo = acc, *hi = acc + d;
        for (size_t j = 0; j < d; j++) lo[j] = INFINITY, hi[j] = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            size_t r = rows ? rows[i] : i;
            for (size_t j = 0; j < d; j++) {
                double x = value(ds, r, j);
                if (x < lo[j]) lo[j] = x;
                if (x > hi[j]) hi[j] = x;
            }
        }
        for (size_t j = 0; j < d; j++) {
            nm->shift[j] = (float)lo[j];
            nm->mul[j] = hi[j] > lo[j] ? (float)(1.0 / (hi[j] - lo[j])) : 1.0f;
        }
    } else if (kind == DNN_NORM_STANDARDIZE && n > 0) {
        /* two passes (mean, then squared deviations) are exact enough in double; a constant column maps to 0
         */
        double *mean = acc, *var = acc + d;
        for (size_t i = 0; i < n; i++) {
            size_t r = rows ? rows[i] : i;
            for (size_t j = 0; j < d; j++) mean[j] += value(ds, r, j);
        }
        for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
        for (size_t i = 0; i < n; i++) {
            size_t r = rows ? rows[i] : i;
            for (size_t j = 0; j < d; j++) {
                double e = value(ds, r, j) - mean[j];
                var[j] += e * e;
            }
        }
        for (size_t j = 0; j < d; j++) {
            double sd = sqrt(var[j] / (double)n);
            nm->shift[j] = (float)mean[j];
            nm->mul[j] = sd > 1e-12 * (fabs(mean[j]) + 1.0) ? (float)(1.0 / sd) : 1.0f;
        }
    }
    free(acc);
    if (ds->t && ds->n_targets > 0) {
        const int k = ds->n_targets;
        nm->k = k;
        nm->tshift = calloc((size_t)k, sizeof(float));
        nm->tmul = malloc((size_t)k * sizeof(float));
        if (!nm->tshift || !nm->tmul) {
            dnn_norm_free(nm);
            return dnn_fail_oom(err, "target statistics", (size_t)k * 8);
        }
        for (int j = 0; j < k; j++) {
            double mean = 0, var = 0;
            for (size_t i = 0; i < n; i++) mean += ds->t[(rows ? rows[i] : i) * (size_t)k + (size_t)j];
            mean /= (double)(n ? n : 1);
            for (size_t i = 0; i < n; i++) {
                double e = ds->t[(rows ? rows[i] : i) * (size_t)k + (size_t)j] - mean;
                var += e * e;
            }
            double sd = sqrt(var / (double)(n ? n : 1));
            nm->tshift[j] = (float)mean;
            nm->tmul[j] = sd > 1e-12 * (fabs(mean) + 1.0) ? (float)(1.0 / sd) : 1.0f;
        }
    }
    return DNN_OK;
}

/* The k-th smallest of a[0..n) (Hoare's quickselect); afterwards a[0..k) <= a[k] <= a(k..n). */
static float select_kth(float *a, size_t n, size_t k)
{
    long lo = 0, hi = (long)n - 1, kk = (long)k;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        long i = lo - 1, j = hi + 1;
        for (;;) {
            do i++;
            while (a[i] < pivot);
            do j--;
            while (a[j] > pivot);
            if (i >= j) break;
            float t = a[i];
            a[i] = a[j], a[j] = t;
        }
        if (kk <= j)
            hi = j;
        else
            lo = j + 1;
    }
    return a[k];
}

dnn_status dnn_impute_fit(dnn_impute *im, dnn_missing policy, const dnn_dataset *ds, const uint32_t *rows,
                          size_t n, dnn_error *err)
{
    const size_t d = ds->d;
    memset(im, 0, sizeof *im);
    im->d = d;
    im->fill = calloc(d ? d : 1, sizeof(float));
    if (!im->fill) return dnn_fail_oom(err, "imputation values", d * sizeof(float));
    if (!ds->x32 || !ds->missing || policy == DNN_MISSING_ZERO || policy == DNN_MISSING_ERROR ||
        policy == DNN_MISSING_DROP)
        return DNN_OK;
    if (!rows) n = ds->n;
    float *col = policy == DNN_MISSING_MEDIAN ? malloc(n * sizeof(float) + 1) : NULL;
    if (policy == DNN_MISSING_MEDIAN && !col)
        return dnn_fail_oom(err, "a column for its median", n * sizeof(float));
    for (size_t j = 0; j < d; j++) {
        if (!ds->missing[j]) continue;
        /* statistics of the present cells of the training rows only */
        double sum = 0;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            float v = ds->x32[(rows ? rows[i] : i) * d + j];
            if (isnan(v)) continue;
            sum += v;
            if (col) col[m] = v;
            m++;
        }
        if (m == 0) continue; /* nothing to learn from: 0 */
        if (!col) {
            im->fill[j] = (float)(sum / (double)m);
        } else {
            /* the upper middle by quickselect; everything before it is then no larger, so the lower middle
             * (for an even count) is their maximum */
            size_t h = m / 2;
            float upper = select_kth(col, m, h);
            if (m % 2)
                im->fill[j] = upper;
            else {
                float lower = col[0];
                for (size_t i = 1; i < h; i++) lower = col[i] > lower ? col[i] : lower;
                im->fill[j] = (float)(((double)lower + upper) / 2);
            }
        }
    }
    free(col);
    return DNN_OK;
}

void dnn_impute_apply(const dnn_impute *im, dnn_dataset *ds)
{
    if (!ds->x32 || !ds->missing_cells) return;
    const size_t d = ds->d;
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < d; j++)
            if (isnan(ds->x32[i * d + j])) ds->x32[i * d + j] = im->fill[j];
}

void dnn_impute_free(dnn_impute *im)
{
    if (!im) return;
    free(im->fill);
    memset(im, 0, sizeof *im);
}

DNN_HOT void dnn_gather(const dnn_dataset *ds, const dnn_norm *nm, const uint32_t *idx, size_t b,
                        float *restrict x, int32_t *y, float *t)
{
    const size_t d = ds->d;
    const float *restrict shift = nm->shift, *restrict mul = nm->mul;
    for (size_t i = 0; i < b; i++) {
        size_t r = idx[i];
        float *restrict xr = x + i * d;
        if (ds->dtype == DNN_U8) {
            const uint8_t *restrict s = ds->x8 + r * d;
            for (size_t j = 0; j < d; j++) xr[j] = ((float)s[j] - shift[j]) * mul[j];
        } else {
            const float *restrict s = ds->x32 + r * d;
            for (size_t j = 0; j < d; j++) xr[j] = (s[j] - shift[j]) * mul[j];
        }
        if (y && ds->y) y[i] = ds->y[r];
        if (t && ds->t) {
            const int k = ds->n_targets;
            const float *s = ds->t + r * (size_t)k;
            float *tr = t + i * (size_t)k;
            for (int j = 0; j < k; j++) tr[j] = nm->k ? (s[j] - nm->tshift[j]) * nm->tmul[j] : s[j];
        }
    }
}

/* ---- splits ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

dnn_status dnn_split(const char *file, size_t n, double fraction, uint64_t seed, uint32_t **train,
                     size_t *n_train, uint32_t **val, size_t *n_val, dnn_error *err)
{
    *train = *val = NULL;
    if (n > UINT32_MAX)
        return dnn_fail(err, DNN_EDATA, "%s: %zu samples: at most %u are supported", file, n, UINT32_MAX);
    size_t nv = (size_t)floor(fraction * (double)n + 0.5);
    if (fraction > 0 && nv == 0) nv = 1;
    if (nv >= n && fraction > 0)
        return dnn_fail(err, DNN_ECONFIG,
                        "%s: data.validation_split %g leaves no training samples out of %zu", file, fraction,
                        n);
    uint32_t *perm = malloc(n * sizeof(uint32_t) + 1);
    uint32_t *v = malloc(nv * sizeof(uint32_t) + 1);
    if (!perm || !v) {
        free(perm);
        free(v);
        return dnn_fail_oom(err, "sample indices", n * sizeof(uint32_t));
    }
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    if (nv > 0) {
        dnn_rng rng;
        dnn_rng_seed(&rng, seed, DNN_STREAM_SPLIT);
        dnn_rng_shuffle(&rng, perm, n);
        memcpy(v, perm, nv * sizeof(uint32_t));
        memmove(perm, perm + nv, (n - nv) * sizeof(uint32_t));
        qsort(v, nv, sizeof(uint32_t), cmp_u32);
        qsort(perm, n - nv, sizeof(uint32_t), cmp_u32);
    }
    *train = perm;
    *n_train = n - nv;
    *val = v;
    *n_val = nv;
    return DNN_OK;
}
