#include "direct_convolution.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Output pixels a tile takes at once, and output channels: two vectors of 16. The tile's
// 16 accumulators stay in registers; every tap costs two weight loads, eight broadcasts of
// an input value and sixteen fused multiply-adds, and nothing is unfolded.
#define RUN 8

int direct_convolution_available(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return 0;
#endif
}

long direct_convolution_scratch_floats(int channels, int height, int width, int pad_h, int pad_w) {
  return (long)channels * (height + 2 * pad_h) * (width + 2 * pad_w) + 32 * RUN;
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
__attribute__((target("avx512f"))) static void forward_avx512(
    const float *x, int images, int channels, int height, int width, int kh, int kw, int pad_h,
    int pad_w, const float *packed, int out_channels, float *y, int accumulate, float *scratch) {
  const int framed_w = width + 2 * pad_w, framed_h = height + 2 * pad_h;
  const int framed = framed_w * framed_h, in_pixels = height * width;
  const int out_h = framed_h - kh + 1, out_w = framed_w - kw + 1, out_pixels = out_h * out_w;
  const int taps = kh * kw, blocks = (out_channels + 15) / 16;
  float *frame = scratch, *tile = scratch + (long)channels * framed;
  int tap_offset[taps];
  for (int ki = 0; ki < kh; ki++)
    for (int kj = 0; kj < kw; kj++) tap_offset[ki * kw + kj] = ki * framed_w + kj;
  if (pad_h > 0 || pad_w > 0) memset(frame, 0, sizeof(float) * (size_t)channels * framed);
  for (int n = 0; n < images; n++) {
    const float *xn = x + (long)n * channels * in_pixels;
    float *yn = y + (long)n * out_channels * out_pixels;
    // The image framed by its zero padding (the border stays zero from the memset).
    for (int c = 0; c < channels; c++)
      for (int r = 0; r < height; r++)
        memcpy(frame + (long)c * framed + (r + pad_h) * framed_w + pad_w,
               xn + (long)c * in_pixels + r * width, sizeof(float) * width);
    for (int first = 0; first < out_pixels; first += RUN) {
      int count = out_pixels - first < RUN ? out_pixels - first : RUN;
      // Each pixel's window corner in the frame; a short last run repeats its last pixel.
      int corner[RUN];
      for (int i = 0; i < RUN; i++) {
        int p = first + (i < count ? i : count - 1);
        corner[i] = (p / out_w) * framed_w + p % out_w;
      }
      for (int b = 0; b < blocks; b += 2) {
        const int pair = b + 1 < blocks;
        const float *w0 = packed + (long)b * channels * taps * 16;
        const float *w1 = pair ? w0 + (long)channels * taps * 16 : w0;
        __m512 a0[RUN], a1[RUN];
        for (int i = 0; i < RUN; i++) a0[i] = a1[i] = _mm512_setzero_ps();
        for (int c = 0; c < channels; c++) {
          const float *fc = frame + (long)c * framed;
          const float *wc0 = w0 + (long)c * taps * 16, *wc1 = w1 + (long)c * taps * 16;
          for (int t = 0; t < taps; t++) {
            const float *ft = fc + tap_offset[t];
            const __m512 v0 = _mm512_loadu_ps(wc0 + t * 16), v1 = _mm512_loadu_ps(wc1 + t * 16);
            for (int i = 0; i < RUN; i++) {
              const __m512 s = _mm512_set1_ps(ft[corner[i]]);
              a0[i] = _mm512_fmadd_ps(v0, s, a0[i]);
              a1[i] = _mm512_fmadd_ps(v1, s, a1[i]);
            }
          }
        }
        // To NCHW: lane o of pixel i's vector is output channel 16 b + o at pixel first + i.
        for (int half = 0; half <= pair; half++) {
          for (int i = 0; i < RUN; i++) _mm512_storeu_ps(tile + 16 * i, half ? a1[i] : a0[i]);
          int base = (b + half) * 16;
          int lanes = out_channels - base < 16 ? out_channels - base : 16;
          for (int o = 0; o < lanes; o++) {
            float *dst = yn + (long)(base + o) * out_pixels + first;
            if (accumulate) {
              for (int i = 0; i < count; i++) dst[i] += tile[16 * i + o];
            } else {
              for (int i = 0; i < count; i++) dst[i] = tile[16 * i + o];
            }
          }
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
