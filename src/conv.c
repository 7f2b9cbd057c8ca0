/* Image-layer kernels: patches for the convolution product and their adjoint, pooling, and layout changes,
 * each a tight loop over one plane at a time. */
#include "dnn/conv.h"

#include <string.h>

#include "dnn/util.h"

/* Rows here are a few dozen values, copied or cleared hundreds of thousands of times a step: GCC would turn
 * such loops into calls to memcpy and memset, which cost more than the work. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_MEMCPY_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_MEMCPY_CALLS
#endif

/* The output positions [lo, hi) whose input position o*s - p + k lies inside [0, size): the others read
 * padding. */
static void inside(int k, int p, int s, int size, int out, int *lo, int *hi)
{
    long long first = (long long)p - k, last = (long long)size - 1 + p - k;
    long long l = first <= 0 ? 0 : (first + s - 1) / s;
    long long h = last < 0 ? 0 : last / s + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = (int)l;
    *hi = (int)h;
}

/* The part of a window at offset (i, j) that stays inside the image, for every output position. */
typedef struct {
    int r0, r1, c0, c1; /* output rows [r0, r1) and columns [c0, c1) read the image */
    long long first;    /* input offset read by output (r0, c0) */
} span;

static span window_span(const dnn_window *g, int i, int j)
{
    span s;
    inside(i, g->ph, g->sh, g->h, g->oh, &s.r0, &s.r1);
    inside(j, g->pw, g->sw, g->w, g->ow, &s.c0, &s.c1);
    if (s.c0 == s.c1) s.r1 = s.r0; /* no column inside: no row either, and no offset to compute */
    if (s.r0 == s.r1) {
        s.first = 0;
        return s;
    }
    s.first = ((long long)s.r0 * g->sh - g->ph + i) * g->w + ((long long)s.c0 * g->sw - g->pw + j);
    return s;
}

/* gather_plane when the output plane has the input's size, at stride 1 ("same" padding): it is the input
 * shifted by one offset, so one run of the valid rows is copied at once and the few values that wrapped round
 * from the next or previous row, at the left or right edge, are cleared after (for 14 x 14 maps, one copy
 * instead of 14). */
NO_MEMCPY_CALLS DNN_HOT static void gather_plane_shifted(const dnn_window *g, const span *s, int i, int j,
                                                         const float *restrict src, float *restrict dst)
{
    const long long w = g->w, size = w * g->h, shift = (long long)(i - g->ph) * w + (j - g->pw);
    long long lo = s->r0 * w, hi = s->r1 * w;
    for (long long t = 0; t < lo; t++) dst[t] = 0.0f;
    for (long long t = hi; t < size; t++) dst[t] = 0.0f;
    if (lo == hi) return;
    long long from = lo + shift < 0 ? -shift : lo, to = hi + shift > size ? size - shift : hi;
    for (long long t = lo; t < from; t++) dst[t] = 0.0f;
    for (long long t = from; t < to; t++) dst[t] = src[t + shift];
    for (long long t = to; t < hi; t++) dst[t] = 0.0f;
    for (long long r = s->r0; r < s->r1; r++) {
        float *d = dst + r * w;
        for (int c = 0; c < s->c0; c++) d[c] = 0.0f;
        for (long long c = s->c1; c < w; c++) d[c] = 0.0f;
    }
}

/* dst [oh][ow] = the plane's value under window offset (i, j) of every output position, 0 in padding. */
NO_MEMCPY_CALLS DNN_HOT static void gather_plane(const dnn_window *g, const span *s,
                                                 const float *restrict src, float *restrict dst)
{
    const int ow = g->ow, sw = g->sw, n = s->c1 - s->c0;
    memset(dst, 0, (size_t)s->r0 * (size_t)ow * sizeof(float));
    const size_t step = (size_t)g->sh * (size_t)g->w;
    for (int r = s->r0; r < s->r1; r++) {
        const float *in = src + s->first + (size_t)(r - s->r0) * step;
        float *d = dst + (size_t)r * ow;
        for (int c = 0; c < s->c0; c++) d[c] = 0.0f;
        if (sw == 1)
            for (int c = 0; c < n; c++) d[s->c0 + c] = in[c];
        else
            for (int c = 0; c < n; c++) d[s->c0 + c] = in[(size_t)c * sw];
        for (int c = s->c1; c < ow; c++) d[c] = 0.0f;
    }
    memset(dst + (size_t)s->r1 * ow, 0, (size_t)(g->oh - s->r1) * (size_t)ow * sizeof(float));
}

/* The adjoint of gather_plane: add each output position's value back where it was read from. */
DNN_HOT static void scatter_plane(const dnn_window *g, const span *s, const float *restrict src,
                                  float *restrict dst)
{
    const int ow = g->ow, sw = g->sw, n = s->c1 - s->c0;
    const size_t step = (size_t)g->sh * (size_t)g->w;
    for (int r = s->r0; r < s->r1; r++) {
        float *out = dst + s->first + (size_t)(r - s->r0) * step;
        const float *d = src + (size_t)r * ow + s->c0;
        if (sw == 1)
            for (int c = 0; c < n; c++) out[c] += d[c];
        else
            for (int c = 0; c < n; c++) out[(size_t)c * sw] += d[c];
    }
}

void dnn_im2col(const dnn_window *g, const float *x, int x_maps, int b, int n0, int nb, float *col)
{
    const size_t hw = (size_t)g->h * (size_t)g->w, ohw = (size_t)g->oh * (size_t)g->ow;
    const int same = g->sh == 1 && g->sw == 1 && g->oh == g->h && g->ow == g->w;
    float *dst = col;
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                span s = window_span(g, i, j);
                for (int n = n0; n < n0 + nb; n++, dst += ohw)
                    if (same)
                        gather_plane_shifted(g, &s, i, j, x + dnn_plane(x_maps, g->c, hw, b, n, c), dst);
                    else
                        gather_plane(g, &s, x + dnn_plane(x_maps, g->c, hw, b, n, c), dst);
            }
}

void dnn_col2im(const dnn_window *g, const float *col, int b, int n0, int nb, float *dx, int dx_maps)
{
    const size_t hw = (size_t)g->h * (size_t)g->w, ohw = (size_t)g->oh * (size_t)g->ow;
    for (int c = 0; c < g->c; c++)
        for (int n = n0; n < n0 + nb; n++)
            memset(dx + dnn_plane(dx_maps, g->c, hw, b, n, c), 0, hw * sizeof(float));
    const float *src = col;
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                span s = window_span(g, i, j);
                for (int n = n0; n < n0 + nb; n++, src += ohw)
                    scatter_plane(g, &s, src, dx + dnn_plane(dx_maps, g->c, hw, b, n, c));
            }
}

/* ---- pooling ---- */

/* maxpool_plane for the usual 2x2 windows side by side, written without branches so that it vectorises
 * (random data makes branches mispredict half the time). */
DNN_HOT static void maxpool_plane_2x2(const dnn_window *g, const float *restrict x, float *restrict y,
                                      uint32_t *restrict arg)
{
    const int w = g->w, ow = g->ow;
    for (int r = 0; r < g->oh; r++) {
        const float *restrict x0 = x + 2 * (size_t)r * (size_t)w, *restrict x1 = x0 + w;
        float *restrict yr = y + (size_t)r * (size_t)ow;
        uint32_t *restrict ar = arg + (size_t)r * (size_t)ow;
        const uint32_t base = (uint32_t)(2 * (size_t)r * (size_t)w), below = (uint32_t)w;
        for (int c = 0; c < ow; c++) {
            float p = x0[2 * c], q = x0[2 * c + 1], s = x1[2 * c], t = x1[2 * c + 1];
            /* strictly greater: the first maximum in row-major order wins a tie */
            uint32_t k = q > p ? 1u : 0u;
            float m = q > p ? q : p;
            k = s > m ? below : k;
            m = s > m ? s : m;
            k = t > m ? below + 1u : k;
            m = t > m ? t : m;
            yr[c] = m;
            ar[c] = base + 2u * (uint32_t)c + k;
        }
    }
}

/* One plane: y [oh][ow] = window maxima of x [h][w], arg their offsets in x. */
DNN_HOT static void maxpool_plane(const dnn_window *g, const float *restrict x, float *restrict y,
                                  uint32_t *restrict arg)
{
    if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2) {
        maxpool_plane_2x2(g, x, y, arg);
        return;
    }
    for (int r = 0; r < g->oh; r++)
        for (int c = 0; c < g->ow; c++) {
            size_t at = (size_t)r * g->sh * g->w + (size_t)c * g->sw, best_at = at;
            float best = x[at];
            for (int i = 0; i < g->kh; i++)
                for (int j = 0; j < g->kw; j++) {
                    size_t k = at + (size_t)i * g->w + (size_t)j;
                    if (x[k] > best) best = x[k], best_at = k; /* strictly greater: the first maximum wins */
                }
            y[(size_t)r * g->ow + c] = best;
            arg[(size_t)r * g->ow + c] = (uint32_t)best_at;
        }
}

void dnn_maxpool_forward(const dnn_window *g, const float *x, int x_maps, int b, float *y, uint32_t *arg)
{
    const size_t hw = (size_t)g->h * (size_t)g->w, ohw = (size_t)g->oh * (size_t)g->ow;
    for (int c = 0; c < g->c; c++)
        for (int n = 0; n < b; n++) {
            size_t o = ((size_t)c * (size_t)b + (size_t)n) * ohw;
            maxpool_plane(g, x + dnn_plane(x_maps, g->c, hw, b, n, c), y + o, arg + o);
        }
}

/* dnn_maxpool_backward of one plane for 2x2 windows side by side. They tile the plane exactly (a layer whose
 * windows leave rows unread is refused), so each pair of rows is cleared while it is in cache and then gets
 * its gradients, instead of a clearing pass over the whole batch first. */
NO_MEMCPY_CALLS DNN_HOT static void maxpool_back_2x2(const dnn_window *g, const float *restrict dy,
                                                     const uint32_t *restrict arg, float *restrict dx)
{
    const size_t w = (size_t)g->w, ow = (size_t)g->ow;
    for (size_t r = 0; r < (size_t)g->oh; r++) {
        float *restrict rows = dx + 2 * r * w;
        for (size_t i = 0; i < 2 * w; i++) rows[i] = 0.0f;
        for (size_t c = 0; c < ow; c++) dx[arg[r * ow + c]] = dy[r * ow + c];
    }
}

void dnn_maxpool_backward(const dnn_window *g, const float *dy, const uint32_t *arg, int b, float *dx,
                          int dx_maps)
{
    const size_t hw = (size_t)g->h * (size_t)g->w, ohw = (size_t)g->oh * (size_t)g->ow;
    const int tiles2 =
        g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && 2 * g->oh == g->h && 2 * g->ow == g->w;
    if (!tiles2) memset(dx, 0, (size_t)b * (size_t)g->c * hw * sizeof(float));
    for (int c = 0; c < g->c; c++)
        for (int n = 0; n < b; n++) {
            size_t o = ((size_t)c * (size_t)b + (size_t)n) * ohw;
            float *d = dx + dnn_plane(dx_maps, g->c, hw, b, n, c);
            if (tiles2)
                maxpool_back_2x2(g, dy + o, arg + o, d);
            else
                for (size_t k = 0; k < ohw; k++) d[arg[o + k]] += dy[o + k];
        }
}

void dnn_avgpool_forward(const dnn_window *g, const float *x, int x_maps, int b, float *y)
{
    const size_t hw = (size_t)g->h * (size_t)g->w, ohw = (size_t)g->oh * (size_t)g->ow;
    const float inv = 1.0f / (float)((long long)g->kh * g->kw);
    for (int c = 0; c < g->c; c++)
        for (int n = 0; n < b; n++) {
            const float *src = x + dnn_plane(x_maps, g->c, hw, b, n, c);
            float *out = y + ((size_t)c * (size_t)b + (size_t)n) * ohw;
            for (int r = 0; r < g->oh; r++)
                for (int col = 0; col < g->ow; col++) {
                    const float *w0 = src + (size_t)r * g->sh * g->w + (size_t)col * g->sw;
                    float s = 0.0f;
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) s += w0[(size_t)i * g->w + (size_t)j];
                    out[(size_t)r * g->ow + col] = s * inv;
                }
        }
}

void dnn_avgpool_backward(const dnn_window *g, const float *dy, int b, float *dx, int dx_maps)
{
    const size_t hw = (size_t)g->h * (size_t)g->w, ohw = (size_t)g->oh * (size_t)g->ow;
    const float inv = 1.0f / (float)((long long)g->kh * g->kw);
    memset(dx, 0, (size_t)b * (size_t)g->c * hw * sizeof(float));
    for (int c = 0; c < g->c; c++)
        for (int n = 0; n < b; n++) {
            float *d = dx + dnn_plane(dx_maps, g->c, hw, b, n, c);
            const float *in = dy + ((size_t)c * (size_t)b + (size_t)n) * ohw;
            for (int r = 0; r < g->oh; r++)
                for (int col = 0; col < g->ow; col++) {
                    float *w0 = d + (size_t)r * g->sh * g->w + (size_t)col * g->sw;
                    float v = in[(size_t)r * g->ow + col] * inv;
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) w0[(size_t)i * g->w + (size_t)j] += v;
                }
        }
}

/* ---- whole planes ---- */

void dnn_global_avgpool_forward(int c, size_t hw, const float *x, int x_maps, int b, float *y)
{
    for (int n = 0; n < b; n++)
        for (int k = 0; k < c; k++) {
            const float *p = x + dnn_plane(x_maps, c, hw, b, n, k);
            double s = 0.0; /* a plane may be large: sum in double */
            for (size_t i = 0; i < hw; i++) s += p[i];
            y[(size_t)n * (size_t)c + (size_t)k] = (float)(s / (double)hw);
        }
}

void dnn_global_avgpool_backward(int c, size_t hw, const float *dy, int b, float *dx, int dx_maps)
{
    for (int n = 0; n < b; n++)
        for (int k = 0; k < c; k++) {
            float *p = dx + dnn_plane(dx_maps, c, hw, b, n, k);
            float v = dy[(size_t)n * (size_t)c + (size_t)k] / (float)hw;
            for (size_t i = 0; i < hw; i++) p[i] = v;
        }
}

void dnn_relayout(int c, size_t hw, const float *src, int src_maps, int b, float *dst, int dst_maps)
{
    for (int n = 0; n < b; n++)
        for (int k = 0; k < c; k++)
            memcpy(dst + dnn_plane(dst_maps, c, hw, b, n, k), src + dnn_plane(src_maps, c, hw, b, n, k),
                   hw * sizeof(float));
}
