/* The numerics explanations need: quadrature rules on [0, 1] and Spearman's rank correlation. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

/* Gauss-Legendre nodes on [-1, 1] by Newton's method on the Legendre polynomial P_k (the roots are
 * symmetric, so half are found); mapped to [0, 1] in increasing order. */
static void gauss_legendre(int k, double *alpha, double *weight)
{
    for (int i = 0; i < (k + 1) / 2; i++) {
        double x = cos(M_PI * (i + 0.75) / (k + 0.5)), dp = 1;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = 0; /* P_j(x) and P_{j-1}(x) by the three-term recurrence */
            for (int j = 1; j <= k; j++) {
                double p2 = p1;
                p1 = p0;
                p0 = ((2.0 * j - 1) * x * p1 - (j - 1.0) * p2) / j;
            }
            dp = k * (x * p0 - p1) / (x * x - 1);
            double dx = p0 / dp;
            x -= dx;
            if (fabs(dx) < 1e-15) break;
        }
        double w = 2 / ((1 - x * x) * dp * dp);
        alpha[i] = (1 - x) / 2; /* x > 0 falls from near 1: these alphas rise from near 0 */
        alpha[k - 1 - i] = (1 + x) / 2;
        weight[i] = weight[k - 1 - i] = w / 2;
    }
}

dnn_status dnn_quadrature_rule(dnn_quadrature q, int k, double *alpha, double *weight, dnn_error *err)
{
    if (k < (q == DNN_QUAD_TRAPEZOID ? 2 : 1))
        return dnn_fail(err, DNN_ECONFIG, "--steps: the %s rule needs at least %d points, got %d",
                        q == DNN_QUAD_TRAPEZOID ? "trapezoid" : "Gauss-Legendre",
                        q == DNN_QUAD_TRAPEZOID ? 2 : 1, k);
    if (q == DNN_QUAD_GAUSS_LEGENDRE) {
        gauss_legendre(k, alpha, weight);
        return DNN_OK;
    }
    for (int i = 0; i < k; i++) {
        alpha[i] = (double)i / (k - 1);
        weight[i] = (i == 0 || i == k - 1 ? 0.5 : 1.0) / (k - 1);
    }
    return DNN_OK;
}

/* A value and where it was (an index, exact as a double up to 2^53). */
typedef struct {
    double v, i;
} pair;

static int by_value(const void *a, const void *b)
{
    double x = ((const pair *)a)->v, y = ((const pair *)b)->v;
    return (x > y) - (x < y);
}

/* Ranks 1..n of v, ties sharing their average rank; p is scratch [n]. */
static void ranks(const double *v, size_t n, double *rank, pair *p)
{
    for (size_t i = 0; i < n; i++) p[i] = (pair){v[i], (double)i};
    qsort(p, n, sizeof *p, by_value);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && p[j + 1].v == p[i].v) j++;
        double r = (double)(i + j) / 2.0 + 1;
        for (size_t t = i; t <= j; t++) rank[(size_t)p[t].i] = r;
        i = j + 1;
    }
}

double dnn_spearman(const double *a, const double *b, size_t n, double *work)
{
    double *ra = work, *rb = work + n;
    if (n < 2) return NAN;
    ranks(a, n, ra, (pair *)(work + 2 * n));
    ranks(b, n, rb, (pair *)(work + 2 * n));
    const double mean = (double)(n + 1) / 2.0;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        double x = ra[i] - mean, y = rb[i] - mean;
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}
