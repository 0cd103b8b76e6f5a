#ifndef DENSE_KERNEL_H
#define DENSE_KERNEL_H

/// The kernels need AVX-512F, the same test as `direct_convolution_available`; elsewhere the
/// engine keeps its GEMM.

/// The rows of a batch the kernel takes: its input and output columns are this many lanes.
#define DENSE_KERNEL_ROWS 64
/// Output features a tile computes: work is split between threads in whole tiles.
#define DENSE_KERNEL_TILE_ROWS 6

/// Columns `k_begin ..< k_end` of `x` ([rows][in_features], rows <= DENSE_KERNEL_ROWS)
/// written transposed into `xt` ([in_features][DENSE_KERNEL_ROWS]), the lanes past `rows`
/// zero.
void dense_kernel_transpose_input(const float *x, int rows, int in_features, int k_begin,
                                  int k_end, float *xt);

/// `yt[o][r] = sum over k of w[o][k] * xt[k][r]` for the output features
/// `o_begin ..< o_end`: the product `x w^T` transposed ([out][DENSE_KERNEL_ROWS]), from
/// `w` ([out_features][in_features], read once, row by row) and the transposed input.
void dense_kernel_forward(const float *xt, int in_features, const float *w, int out_features,
                          int o_begin, int o_end, float *yt);

#endif
