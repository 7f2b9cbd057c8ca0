/* Kernels of the image layers over a whole batch: im2col and col2im, which turn a convolution and its
 * input gradient into one matrix product each (the products themselves are the network's), max and average
 * pooling, global average pooling, and the change between the two batch layouts below. */
#ifndef DNN_CONV_H
#define DNN_CONV_H

#include <stddef.h>
#include <stdint.h>

/* A batch of b samples of c planes of h x w is stored either as rows, [b][c][h][w] (each sample's values
 * together, in the flatten order of ONNX and PyTorch: as data and dense layers hold them), or as maps,
 * [c][b][h][w] (each channel's planes together: what the batched convolution product writes and reads, so
 * convolutions need no transposes). Where plane (n, c) starts: */
static inline size_t dnn_plane(int maps, int c_count, size_t hw, int b, int n, int c)
{
    return maps ? ((size_t)c * (size_t)b + (size_t)n) * hw : ((size_t)n * (size_t)c_count + (size_t)c) * hw;
}

/* A window (a convolution kernel or a pooling window) sliding over c planes of h x w. */
typedef struct {
    int c, h, w;        /* the input: planes and their size */
    int kh, kw, sh, sw; /* window size and stride */
    int ph, pw;         /* zero rows above and zero columns left of the input (conv2d padding; those below
                         * and right follow from the output size) */
    int oh, ow;         /* the output size */
} dnn_window;

/* The patches of samples n0 .. n0+nb-1 of a batch x of b samples (rows or maps): col [c*kh*kw][nb*oh*ow], row
 * (ci, i, j) holding input value (ci, oh*sh - ph + i, ow*sw - pw + j) for every sample and output position
 * (n, oh, ow), 0 where that falls in the padding. */
void dnn_im2col(const dnn_window *g, const float *x, int x_maps, int b, int n0, int nb, float *col);
/* The adjoint of dnn_im2col: the planes of samples n0 .. n0+nb-1 of dx (b samples, rows or maps) are
 * overwritten with the sum of the col entries that each of their values was copied to. */
void dnn_col2im(const dnn_window *g, const float *col, int b, int n0, int nb, float *dx, int dx_maps);

/* y [c][b][oh][ow] (maps) = the maximum of each window of x; arg [c][b][oh][ow] = its offset in its input
 * plane. A tie goes to the first maximum in row-major order, so the gradient has one deterministic home. */
void dnn_maxpool_forward(const dnn_window *g, const float *x, int x_maps, int b, float *y, uint32_t *arg);
/* dx (overwritten) gets each dy at its window's maximum; overlapping windows add up. */
void dnn_maxpool_backward(const dnn_window *g, const float *dy, const uint32_t *arg, int b, float *dx,
                          int dx_maps);
/* y [c][b][oh][ow] (maps) = the mean of each window of x. */
void dnn_avgpool_forward(const dnn_window *g, const float *x, int x_maps, int b, float *y);
void dnn_avgpool_backward(const dnn_window *g, const float *dy, int b, float *dx, int dx_maps);

/* y [b][c] (rows) = the mean of each plane of x (b samples of c planes of hw values). */
void dnn_global_avgpool_forward(int c, size_t hw, const float *x, int x_maps, int b, float *y);
/* dx (overwritten) = dy [b][c] spread evenly over each plane. */
void dnn_global_avgpool_backward(int c, size_t hw, const float *dy, int b, float *dx, int dx_maps);

/* Copy b samples of c planes of hw values from one layout to another (flatten: maps to rows). */
void dnn_relayout(int c, size_t hw, const float *src, int src_maps, int b, float *dst, int dst_maps);

#endif
