// Times Winograd's F(2x2, 3x3) and F(2x2, 5x5) (Sources/CDirectConvolution/
// winograd_convolution.c) against the direct kernel beside it, both alone on one core, for
// one shape of padded stride-1 3x3 or 5x5 convolution: forward pass and weight
// gradient of `images` images, best of `reps` runs each, in milliseconds and GFLOP/s at the
// direct count. Also prints the largest difference between the two's results, as a check
// that the timed code computes the same thing. Built and run by scripts/winograd-conv-bench.sh
// (BENCHMARKS.md, Sessions 24 and 25).
//
// Arguments: channels size out_channels [kernel] [images] [reps]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "direct_convolution.h"
#include "winograd_convolution.h"
#include "kernel-bench.h"

static double largest_difference(const float *a, const float *b, long n) {
  double most = 0;
  for (long i = 0; i < n; i++) {
    const double d = fabs((double)a[i] - b[i]);
    if (d > most) most = d;
  }
  return most;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s channels size out_channels [kernel] [images] [reps]\n", argv[0]);
    return 2;
  }
  const int c = atoi(argv[1]), h = atoi(argv[2]), o = atoi(argv[3]);
  const int k = argc > 4 ? atoi(argv[4]) : 3, pad = k / 2, taps = k * k;
  const int n = argc > 5 ? atoi(argv[5]) : 32, reps = argc > 6 ? atoi(argv[6]) : 30;
  if (!direct_convolution_available()) {
    fprintf(stderr, "this CPU has no AVX-512F: the kernels do not run here\n");
    return 1;
  }
  const long pixels = (long)h * h;
  float *x = random_floats(n * c * pixels), *w = random_floats((long)o * c * taps);
  float *y_direct = malloc(sizeof(float) * n * o * pixels);
  float *y_winograd = malloc(sizeof(float) * n * o * pixels);
  float *packed = malloc(sizeof(float) * direct_convolution_packed_floats(o, c, taps));
  float *scratch =
      malloc(sizeof(float) * direct_convolution_scratch_floats(n, c, h, h, pad, pad));
  float *wpacked = malloc(sizeof(float) * winograd_convolution_packed_floats(k, o, c));
  float *wscratch =
      malloc(sizeof(float) * winograd_convolution_scratch_floats(k, n, c, h, h, o));
  direct_convolution_pack(w, o, c, k, k, 0, packed);
  winograd_convolution_pack(k, w, o, c, 0, 0, (o + 15) / 16, wpacked);
  double direct = 1e9, winograd = 1e9;
  for (int r = 0; r < reps; r++) {
    double t = now();
    direct_convolution_forward(x, n, c, h, h, k, k, 1, 1, pad, pad, packed, o, y_direct, 0,
                               scratch);
    t = now() - t;
    if (t < direct) direct = t;
    t = now();
    winograd_convolution_forward(k, x, n, c, h, h, wpacked, o, y_winograd, 0, wscratch);
    t = now() - t;
    if (t < winograd) winograd = t;
  }
  const double forward_difference = largest_difference(y_direct, y_winograd, n * o * pixels);
  const double flops = 2.0 * n * o * c * taps * pixels;
  printf("%4d ch %3dx%-3d -> %4d ch, %dx%d, %d images: forward direct %7.3f ms (%5.1f GFLOP/s), "
         "Winograd %7.3f ms (%5.1f), %.2fx, |diff| %.1e",
         c, h, h, o, k, k, n, direct * 1e3, flops / direct / 1e9, winograd * 1e3,
         flops / winograd / 1e9, direct / winograd, forward_difference);
  // Weight gradients for the output gradient y_direct (any values serve).
  float *dz_t = malloc(sizeof(float) * direct_convolution_transposed_gradient_floats(n, o, pixels));
  float *dw_direct = calloc((size_t)o * c * taps, sizeof(float));
  float *dw_winograd = calloc((size_t)o * c * taps, sizeof(float));
  float *gscratch = malloc(
      sizeof(float) * direct_convolution_weight_gradient_scratch_floats(n, h, h, k, k, pad, pad));
  const long sums_floats = winograd_convolution_weight_gradient_sums_floats(k, c, o);
  float *sums = malloc(sizeof(float) * sums_floats);
  float *wgscratch = malloc(
      sizeof(float) * winograd_convolution_weight_gradient_scratch_floats(k, n, c, h, h, o));
  double direct_gradient = 1e9, winograd_gradient = 1e9;
  for (int r = 0; r < reps; r++) {
    for (long i = 0; i < (long)o * c * taps; i++) dw_direct[i] = dw_winograd[i] = 0;
    double t = now();
    direct_convolution_transpose_gradient(y_direct, n, o, pixels, dz_t);
    direct_convolution_weight_gradient(x, n, c, h, h, k, k, pad, pad, dz_t, o, 0, c, dw_direct,
                                       gscratch);
    t = now() - t;
    if (t < direct_gradient) direct_gradient = t;
    t = now();
    winograd_convolution_weight_gradient(k, x, y_direct, n, c, h, h, o, sums, wgscratch);
    winograd_convolution_add_weight_gradient(k, sums, 1, sums_floats, c, o, 0, o, dw_winograd);
    t = now() - t;
    if (t < winograd_gradient) winograd_gradient = t;
  }
  const double gradient_difference = largest_difference(dw_direct, dw_winograd, (long)o * c * taps);
  printf("; weight gradient direct %7.3f ms (%5.1f), Winograd %7.3f ms (%5.1f), %.2fx, "
         "|diff| %.1e\n",
         direct_gradient * 1e3, flops / direct_gradient / 1e9, winograd_gradient * 1e3,
         flops / winograd_gradient / 1e9, direct_gradient / winograd_gradient,
         gradient_difference);
  return 0;
}
