/* Data sets: normalisation statistics, imputation, seeded splits and batch gathering. */
#include "dnn/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnn/rng.h"
#include "dnn/util.h"

void dnn_dataset_free(dnn_dataset *ds)
{
    if (!ds) return;
    free(ds->source);
    free(ds->label_source);
    free(ds->x8);
    free(ds->x32);
    free(ds->cat);
    free(ds->cat_width);
    dnn_encoding_free(ds->enc);
    free(ds->y);
    free(ds->t);
    free(ds->lines);
    free(ds->index);
    free(ds->missing);
    dnn_strings_free(ds->class_names, (size_t)ds->n_classes);
    dnn_strings_free(ds->feature_names, ds->d);
    dnn_strings_free(ds->column_names, ds->d_num + (size_t)ds->n_cat);
    dnn_strings_free(ds->target_names, (size_t)ds->n_targets);
    dnn_strings_free(ds->label_names, (size_t)ds->n_labels);
    memset(ds, 0, sizeof *ds);
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
    return ds->dtype == DNN_U8 ? ds->x8[row * ds->d_num + j] : ds->x32[row * ds->d_num + j];
}

dnn_status dnn_norm_init(dnn_norm *nm, size_t d, int k, dnn_error *err)
{
    memset(nm, 0, sizeof *nm);
    nm->d = d;
    nm->k = k;
    nm->shift = calloc(d + 1, sizeof(float));
    nm->mul = malloc((d + 1) * sizeof(float));
    nm->tshift = k ? calloc((size_t)k, sizeof(float)) : NULL;
    nm->tmul = k ? malloc((size_t)k * sizeof(float)) : NULL;
    if (!nm->shift || !nm->mul || (k && (!nm->tshift || !nm->tmul))) {
        dnn_norm_free(nm);
        return dnn_fail_oom(err, "normalisation statistics", (d + (size_t)k) * 8);
    }
    for (size_t j = 0; j < d; j++) nm->mul[j] = 1.0f;
    for (int j = 0; j < k; j++) nm->tmul[j] = 1.0f;
    return DNN_OK;
}

dnn_status dnn_norm_fit(dnn_norm *nm, dnn_norm_kind kind, const dnn_dataset *ds, const uint32_t *rows,
                        size_t n, dnn_error *err)
{
    const size_t d = ds->d_num; /* one-hot features keep the identity */
    const int k = ds->t ? ds->n_targets : 0;
    dnn_status st = dnn_norm_init(nm, ds->d, k, err);
    double *acc = st ? NULL : calloc(2 * d + 1, sizeof(double));
    if (!st && !acc) {
        dnn_norm_free(nm);
        st = dnn_fail_oom(err, "normalisation statistics", 2 * d * sizeof(double));
    }
    if (st) return st;
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
    if (k > 0) {
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
    const size_t d = ds->d_num; /* categorical columns have their own "__missing__" level */
    memset(im, 0, sizeof *im);
    im->d = ds->d;
    im->fill = calloc(ds->d ? ds->d : 1, sizeof(float));
    if (!im->fill) return dnn_fail_oom(err, "imputation values", ds->d * sizeof(float));
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
    const size_t d = ds->d_num;
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

/* One-hot blocks of row r into xr (the features after the numeric ones): zeros, and a one at each code. */
static void one_hot(const dnn_dataset *ds, size_t r, float *xr)
{
    const uint32_t *codes = ds->cat + r * (size_t)ds->n_cat;
    for (int c = 0; c < ds->n_cat; c++) {
        memset(xr, 0, (size_t)ds->cat_width[c] * sizeof(float));
        xr[codes[c]] = 1.0f;
        xr += ds->cat_width[c];
    }
}

DNN_HOT void dnn_gather(const dnn_dataset *ds, const dnn_norm *nm, const uint32_t *idx, size_t b,
                        float *restrict x, int32_t *y, float *t)
{
    const size_t d = ds->d, dn = ds->d_num;
    const float *restrict shift = nm->shift, *restrict mul = nm->mul;
    for (size_t i = 0; i < b; i++) {
        size_t r = idx[i];
        float *restrict xr = x + i * d;
        if (ds->dtype == DNN_U8) {
            const uint8_t *restrict s = ds->x8 + r * dn;
            for (size_t j = 0; j < dn; j++) xr[j] = ((float)s[j] - shift[j]) * mul[j];
        } else {
            const float *restrict s = ds->x32 + r * dn;
            for (size_t j = 0; j < dn; j++) xr[j] = (s[j] - shift[j]) * mul[j];
        }
        if (ds->n_cat) one_hot(ds, r, xr + dn);
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
