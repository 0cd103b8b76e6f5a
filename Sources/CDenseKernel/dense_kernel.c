#include "dense_kernel.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Output features a tile takes: with the batch's 64 rows as four vectors, 24 accumulators.
// Per input feature a tile loads the four vectors of the transposed input (from L2, shared
// by every tile) and broadcasts one weight of each of its rows, which stream from memory in
// order: 24 fused multiply-adds for 10 loads. (5 and 7 rows ran slower.)
#define TILE_ROWS DENSE_KERNEL_TILE_ROWS
#define ROWS DENSE_KERNEL_ROWS
// Input features summed from zero before each block's sums are added to the tile's total:
// with one running sum over 512 or 1024 products, or blocks of 256, results strayed from a
// double-precision reference by more than 1e-5 where OpenBLAS's stayed within it.
#define K_BLOCK 64

void dense_kernel_transpose_input(const float *x, int rows, int in_features, int k_begin,
                                  int k_end, float *xt) {
  for (int k = k_begin; k < k_end; k++) {
    float *dst = xt + (long)k * ROWS;
    for (int r = 0; r < rows; r++) dst[r] = x[(long)r * in_features + k];
    for (int r = rows; r < ROWS; r++) dst[r] = 0;
  }
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void forward_avx512(const float *xt, int in_features,
                                                              const float *w, int out_features,
                                                              int o_begin, int o_end,
                                                              float *yt) {
  for (int o = o_begin; o < o_end; o += TILE_ROWS) {
    // A last tile of fewer rows repeats the layer's last row and stores only its own.
    const float *wr[TILE_ROWS];
    for (int i = 0; i < TILE_ROWS; i++)
      wr[i] = w + (long)(o + i < out_features ? o + i : out_features - 1) * in_features;
    __m512 sum[TILE_ROWS][4];
    for (int k0 = 0; k0 < in_features; k0 += K_BLOCK) {
      const int k_end = in_features - k0 < K_BLOCK ? in_features : k0 + K_BLOCK;
      __m512 a[TILE_ROWS][4];
      for (int i = 0; i < TILE_ROWS; i++)
        for (int v = 0; v < 4; v++) a[i][v] = _mm512_setzero_ps();
      const float *xk = xt + (long)k0 * ROWS;
      for (int k = k0; k < k_end; k++, xk += ROWS) {
        const __m512 x0 = _mm512_loadu_ps(xk), x1 = _mm512_loadu_ps(xk + 16);
        const __m512 x2 = _mm512_loadu_ps(xk + 32), x3 = _mm512_loadu_ps(xk + 48);
        for (int i = 0; i < TILE_ROWS; i++) {
          const __m512 s = _mm512_set1_ps(wr[i][k]);
          a[i][0] = _mm512_fmadd_ps(s, x0, a[i][0]);
          a[i][1] = _mm512_fmadd_ps(s, x1, a[i][1]);
          a[i][2] = _mm512_fmadd_ps(s, x2, a[i][2]);
          a[i][3] = _mm512_fmadd_ps(s, x3, a[i][3]);
        }
      }
      for (int i = 0; i < TILE_ROWS; i++)
        for (int v = 0; v < 4; v++)
          sum[i][v] = k0 == 0 ? a[i][v] : _mm512_add_ps(sum[i][v], a[i][v]);
    }
    for (int i = 0; i < TILE_ROWS && o + i < o_end; i++)
      for (int v = 0; v < 4; v++)
        _mm512_storeu_ps(yt + (long)(o + i) * ROWS + 16 * v, sum[i][v]);
  }
}
#endif

void dense_kernel_forward(const float *xt, int in_features, const float *w, int out_features,
                          int o_begin, int o_end, float *yt) {
#if defined(__x86_64__)
  forward_avx512(xt, in_features, w, out_features, o_begin, o_end, yt);
#else
  (void)xt; (void)in_features; (void)w; (void)out_features; (void)o_begin; (void)o_end;
  (void)yt;
#endif
}
