#include "direct_convolution.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Output pixels a tile takes at most: with two vectors of 16 output channels, 16
// accumulators in registers (at 12 pixels the compiler spills them and the pixels' offsets). Every tap of a tile costs two weight loads, one broadcast of an
// input value per pixel and two fused multiply-adds per pixel; nothing is unfolded.
#define MAX_RUN 8
// Framed images a thread keeps at once: about this many floats, so that they and one pair
// of output-channel blocks' weights stay in a core's cache while the pair's tiles run.
#define FRAME_FLOATS 131072

int direct_convolution_available(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return 0;
#endif
}

long direct_convolution_scratch_floats(int channels, int height, int width, int pad_h, int pad_w) {
  long framed = (long)channels * (height + 2 * pad_h) * (width + 2 * pad_w);
  long images = framed >= FRAME_FLOATS ? 1 : FRAME_FLOATS / framed;
  return images * framed + 16 * MAX_RUN;
}

long direct_convolution_packed_floats(int out_channels, int in_channels, int taps) {
  return (long)((out_channels + 15) / 16) * 16 * in_channels * taps;
}

void direct_convolution_pack(const float *w, int out_channels, int in_channels, int kh, int kw,
                             int turned, float *packed) {
  int taps = kh * kw;
  // The packed kernel's output and input channels.
  int outs = turned ? in_channels : out_channels, ins = turned ? out_channels : in_channels;
  int blocks = (outs + 15) / 16;
  for (int b = 0; b < blocks; b++)
    for (int i = 0; i < ins; i++)
      for (int t = 0; t < taps; t++) {
        float *dst = packed + (((long)b * ins + i) * taps + t) * 16;
        for (int lane = 0; lane < 16; lane++) {
          int o = b * 16 + lane;
          if (o >= outs) {
            dst[lane] = 0;
          } else if (turned) {
            // turned[c][o][t] = w[o][c][taps - 1 - t], c the packed output channel.
            dst[lane] = w[((long)i * in_channels + o) * taps + (taps - 1 - t)];
          } else {
            dst[lane] = w[((long)o * in_channels + i) * taps + t];
          }
        }
      }
}

#if defined(__x86_64__)
// One tile: `run` output pixels (window corners `corner`, in the frame `frame`) by one or
// two blocks of 16 output channels (weights `w0`, `w1`), summed over channels and taps,
// then written or added to the output planes `y` at pixel `first`. Inlined with a constant
// `run`, so that its accumulators live in registers.
__attribute__((target("avx512f"), always_inline)) static inline void tile(
    const int run, const float *frame, long framed, const int *corner, const int *tap_offset,
    int channels, int taps, const float *w0, const float *w1, int pair, float *y, long out_pixels,
    int first, int count, int lanes0, int lanes1, int accumulate, float *spill) {
  __m512 a0[MAX_RUN], a1[MAX_RUN];
  for (int i = 0; i < run; i++) a0[i] = a1[i] = _mm512_setzero_ps();
  for (int c = 0; c < channels; c++) {
    const float *fc = frame + (long)c * framed;
    const float *wc0 = w0 + (long)c * taps * 16, *wc1 = w1 + (long)c * taps * 16;
    for (int t = 0; t < taps; t++) {
      const float *ft = fc + tap_offset[t];
      const __m512 v0 = _mm512_loadu_ps(wc0 + t * 16), v1 = _mm512_loadu_ps(wc1 + t * 16);
      for (int i = 0; i < run; i++) {
        const __m512 s = _mm512_set1_ps(ft[corner[i]]);
        a0[i] = _mm512_fmadd_ps(v0, s, a0[i]);
        a1[i] = _mm512_fmadd_ps(v1, s, a1[i]);
      }
    }
  }
  // To NCHW: lane o of pixel i's vector is output channel o of the block, pixel first + i.
  for (int half = 0; half <= pair; half++) {
    for (int i = 0; i < run; i++) _mm512_storeu_ps(spill + 16 * i, half ? a1[i] : a0[i]);
    int lanes = half ? lanes1 : lanes0;
    float *yb = y + (long)half * 16 * out_pixels + first;
    for (int o = 0; o < lanes; o++) {
      float *dst = yb + (long)o * out_pixels;
      if (accumulate) {
        for (int i = 0; i < count; i++) dst[i] += spill[16 * i + o];
      } else {
        for (int i = 0; i < count; i++) dst[i] = spill[16 * i + o];
      }
    }
  }
}

__attribute__((target("avx512f"))) static void forward_avx512(
    const float *x, int images, int channels, int height, int width, int kh, int kw, int pad_h,
    int pad_w, const float *packed, int out_channels, float *y, int accumulate, float *scratch) {
  const int framed_w = width + 2 * pad_w, framed_h = height + 2 * pad_h;
  const long framed = (long)framed_w * framed_h, in_pixels = (long)height * width;
  const int out_h = framed_h - kh + 1, out_w = framed_w - kw + 1;
  const long out_pixels = (long)out_h * out_w;
  const int taps = kh * kw, blocks = (out_channels + 15) / 16;
  const long image_frame = framed * channels;
  const int per_block = image_frame >= FRAME_FLOATS ? 1 : (int)(FRAME_FLOATS / image_frame);
  float *frames = scratch, *spill = scratch + per_block * image_frame;
  int tap_offset[taps];
  for (int ki = 0; ki < kh; ki++)
    for (int kj = 0; kj < kw; kj++) tap_offset[ki * kw + kj] = ki * framed_w + kj;
  // Runs of equal length, at most MAX_RUN: 9 pixels are two runs of 5 (the last of 4), 49
  // seven of 7, 100 thirteen of 8 (the last of 4). A short last run repeats its last pixel.
  const int runs = (int)((out_pixels + MAX_RUN - 1) / MAX_RUN);
  const int run = (int)((out_pixels + runs - 1) / runs);
  if (pad_h > 0 || pad_w > 0) memset(frames, 0, sizeof(float) * (size_t)per_block * image_frame);
  for (int n0 = 0; n0 < images; n0 += per_block) {
    const int count_images = images - n0 < per_block ? images - n0 : per_block;
    // The block's images framed by their zero padding (the border stays zero).
    for (int m = 0; m < count_images; m++) {
      const float *xn = x + (long)(n0 + m) * channels * in_pixels;
      float *fm = frames + m * image_frame;
      for (int c = 0; c < channels; c++)
        for (int r = 0; r < height; r++)
          memcpy(fm + c * framed + (r + pad_h) * framed_w + pad_w, xn + c * in_pixels + r * width,
                 sizeof(float) * width);
    }
    // A pair of output-channel blocks at a time over all the block's images, so that its
    // weights are read from the cache, not from memory, for every tile.
    for (int b = 0; b < blocks; b += 2) {
      const int pair = b + 1 < blocks;
      const float *w0 = packed + (long)b * channels * taps * 16;
      const float *w1 = pair ? w0 + (long)channels * taps * 16 : w0;
      const int lanes0 = out_channels - b * 16 < 16 ? out_channels - b * 16 : 16;
      const int lanes1 = pair ? (out_channels - (b + 1) * 16 < 16 ? out_channels - (b + 1) * 16 : 16) : 0;
      for (int m = 0; m < count_images; m++) {
        const float *fm = frames + m * image_frame;
        float *yb = y + ((long)(n0 + m) * out_channels + b * 16) * out_pixels;
        for (int first = 0; first < out_pixels; first += run) {
          const int count = out_pixels - first < run ? (int)(out_pixels - first) : run;
          int corner[MAX_RUN];
          for (int i = 0; i < run; i++) {
            long p = first + (i < count ? i : count - 1);
            corner[i] = (int)((p / out_w) * framed_w + p % out_w);
          }
#define TILE(R)                                                                               \
  case R:                                                                                     \
    tile(R, fm, framed, corner, tap_offset, channels, taps, w0, w1, pair, yb, out_pixels,      \
         first, count, lanes0, lanes1, accumulate, spill);                                    \
    break;
          switch (run) {
            TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6) TILE(7) TILE(8)
          }
#undef TILE
        }
      }
    }
  }
}
#endif

void direct_convolution_forward(const float *x, int images, int channels, int height, int width,
                                int kh, int kw, int pad_h, int pad_w, const float *packed,
                                int out_channels, float *y, int accumulate, float *scratch) {
#if defined(__x86_64__)
  forward_avx512(x, images, channels, height, width, kh, kw, pad_h, pad_w, packed, out_channels,
                 y, accumulate, scratch);
#else
  (void)x; (void)images; (void)channels; (void)height; (void)width; (void)kh; (void)kw;
  (void)pad_h; (void)pad_w; (void)packed; (void)out_channels; (void)y; (void)accumulate;
  (void)scratch;
#endif
}
