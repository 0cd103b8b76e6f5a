// Times the direct convolution kernel (Sources/CDirectConvolution) alone, on one core, for
// the shapes given: forward pass and (at stride 1) weight gradient of `images` images. Used for the
// before/after measurements of BENCHMARKS.md's Session 23, where the host's noise hid the
// kernels' changes in whole training steps. Built and run by scripts/direct-conv-bench.sh.
//
// Arguments: channels size out_channels kernel stride pad (one shape); prints the best of
// `reps` runs of each, in milliseconds, and GFLOP/s at the direct count.
#include <stdio.h>
#include <stdlib.h>

#include "direct_convolution.h"
#include "kernel-bench.h"

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s channels size out_channels kernel stride pad [images] [reps]\n",
            argv[0]);
    return 2;
  }
  const int c = atoi(argv[1]), h = atoi(argv[2]), o = atoi(argv[3]), k = atoi(argv[4]);
  const int s = atoi(argv[5]), p = atoi(argv[6]);
  const int n = argc > 7 ? atoi(argv[7]) : 32, reps = argc > 8 ? atoi(argv[8]) : 30;
  const int oh = (h + 2 * p - k) / s + 1;
  if (!direct_convolution_available()) {
    fprintf(stderr, "this CPU has no AVX-512F: the kernel does not run here\n");
    return 1;
  }
  float *x = random_floats((long)n * c * h * h), *w = random_floats((long)o * c * k * k);
  float *y = malloc(sizeof(float) * (size_t)n * o * oh * oh);
  float *packed = malloc(sizeof(float) * direct_convolution_packed_floats(o, c, k * k));
  float *scratch = malloc(sizeof(float) * direct_convolution_scratch_floats(n, c, h, h, p, p));
  direct_convolution_pack(w, o, c, k, k, 0, packed);
  double forward = 1e9, gradient = 1e9;
  for (int r = 0; r < reps; r++) {
    double t = now();
    direct_convolution_forward(x, n, c, h, h, k, k, s, s, p, p, packed, o, y, 0, scratch);
    t = now() - t;
    if (t < forward) forward = t;
  }
  float *dz_t =
      malloc(sizeof(float) * direct_convolution_transposed_gradient_floats(n, o, oh * oh));
  direct_convolution_transpose_gradient(y, n, o, oh * oh, dz_t);
  float *dw = calloc((size_t)o * c * k * k, sizeof(float));
  float *wscratch = malloc(
      sizeof(float) * direct_convolution_weight_gradient_scratch_floats(n, h, h, k, k, p, p));
  // The kernel's weight gradient is stride 1 only (the engine's strided ones are GEMMs).
  for (int r = 0; s == 1 && r < reps; r++) {
    double t = now();
    direct_convolution_weight_gradient(x, n, c, h, h, k, k, p, p, dz_t, o, 0, c, dw, wscratch);
    t = now() - t;
    if (t < gradient) gradient = t;
  }
  const double flops = 2.0 * n * o * c * k * k * oh * oh;
  printf("%4d ch %3dx%-3d -> %4d ch, %dx%d stride %d pad %d, %d images: forward %8.3f ms "
         "(%5.1f GFLOP/s)",
         c, h, h, o, k, k, s, p, n, forward * 1e3, flops / forward / 1e9);
  if (s == 1)
    printf("  weight gradient %8.3f ms (%5.1f GFLOP/s)", gradient * 1e3, flops / gradient / 1e9);
  printf("\n");
  return 0;
}
