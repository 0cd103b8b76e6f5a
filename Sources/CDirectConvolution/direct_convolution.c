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

// Output channels of block `b` (16 but in the last block).
static inline int block_lanes(int out_channels, int b) {
  return out_channels - b * 16 < 16 ? out_channels - b * 16 : 16;
}

// Copies a height x width plane into the inside of its frame (width + 2 pad_w floats a row),
// whose border the caller has zeroed once.
static inline void frame_plane(const float *plane, int height, int width, int pad_h, int pad_w,
                               float *frame) {
  const int framed_w = width + 2 * pad_w;
  for (int r = 0; r < height; r++)
    memcpy(frame + (r + pad_h) * framed_w + pad_w, plane + r * width, sizeof(float) * width);
}

int direct_convolution_available(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return 0;
#endif
}

// Images framed at once by a call of `images` images.
static long frame_block(long image_frame, int images) {
  long block = image_frame >= FRAME_FLOATS ? 1 : FRAME_FLOATS / image_frame;
  return block < images ? block : (images > 0 ? images : 1);
}

long direct_convolution_scratch_floats(int images, int channels, int height, int width,
                                       int pad_h, int pad_w) {
  long framed = (long)channels * (height + 2 * pad_h) * (width + 2 * pad_w);
  return frame_block(framed, images) * framed + 16 * MAX_RUN;
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
  const int per_block = (int)frame_block(image_frame, images);
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
        frame_plane(xn + c * in_pixels, height, width, pad_h, pad_w, fm + c * framed);
    }
    // A pair of output-channel blocks at a time over all the block's images, so that its
    // weights are read from the cache, not from memory, for every tile.
    for (int b = 0; b < blocks; b += 2) {
      const int pair = b + 1 < blocks;
      const float *w0 = packed + (long)b * channels * taps * 16;
      const float *w1 = pair ? w0 + (long)channels * taps * 16 : w0;
      const int lanes0 = block_lanes(out_channels, b);
      const int lanes1 = pair ? block_lanes(out_channels, b + 1) : 0;
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

long direct_convolution_transposed_gradient_floats(int images, int out_channels, long out_pixels) {
  return (long)images * out_pixels * ((out_channels + 15) / 16) * 16;
}

void direct_convolution_transpose_gradient(const float *dz, int images, int out_channels,
                                           long out_pixels, float *dz_t) {
  const int row = (out_channels + 15) / 16 * 16;
  for (int n = 0; n < images; n++) {
    const float *src = dz + (long)n * out_channels * out_pixels;
    float *dst = dz_t + (long)n * out_pixels * row;
    for (long p = 0; p < out_pixels; p++) {
      float *d = dst + p * row;
      for (int o = 0; o < out_channels; o++) d[o] = src[(long)o * out_pixels + p];
      for (int o = out_channels; o < row; o++) d[o] = 0;
    }
  }
}

long direct_convolution_weight_gradient_scratch_floats(int images, int height, int width,
                                                       int pad_h, int pad_w) {
  return (long)images * (height + 2 * pad_h) * (width + 2 * pad_w) + 4096;
}

// Kernel taps a weight-gradient tile takes at once: with two vectors of 16 output channels,
// 16 accumulators.
#define MAX_TAPS 8
// Floats of the transposed output gradient a thread's tiles read at a time.
#define GRADIENT_CHUNK_FLOATS 65536

#if defined(__x86_64__)
// One tile of the weight gradient: `group` taps (frame offsets `tap_offset`) of one input
// channel, framed for every image in `frames`, by one or two blocks of 16 output channels,
// summed over the images and output pixels; added into `dw` (`dw_stride` floats between
// output channels).
__attribute__((target("avx512f"), always_inline)) static inline void gradient_tile(
    const int group, const float *frames, long framed, int images, const int *corner,
    long out_pixels, const int *tap_offset, const float *dz_t, int row, int pair, float *dw,
    long dw_stride, int lanes0, int lanes1, float *spill) {
  __m512 a0[MAX_TAPS], a1[MAX_TAPS];
  for (int j = 0; j < group; j++) a0[j] = a1[j] = _mm512_setzero_ps();
  for (int n = 0; n < images; n++) {
    const float *fn = frames + n * framed;
    const float *dn = dz_t + (long)n * out_pixels * row;
    for (long p = 0; p < out_pixels; p++) {
      const float *base = fn + corner[p];
      const __m512 d0 = _mm512_loadu_ps(dn + p * row);
      const __m512 d1 = pair ? _mm512_loadu_ps(dn + p * row + 16) : d0;
      for (int j = 0; j < group; j++) {
        const __m512 s = _mm512_set1_ps(base[tap_offset[j]]);
        a0[j] = _mm512_fmadd_ps(d0, s, a0[j]);
        a1[j] = _mm512_fmadd_ps(d1, s, a1[j]);
      }
    }
  }
  for (int half = 0; half <= pair; half++) {
    for (int j = 0; j < group; j++) _mm512_storeu_ps(spill + 16 * j, half ? a1[j] : a0[j]);
    const int lanes = half ? lanes1 : lanes0;
    float *db = dw + (long)half * 16 * dw_stride;
    for (int o = 0; o < lanes; o++)
      for (int j = 0; j < group; j++) db[o * dw_stride + j] += spill[16 * j + o];
  }
}

__attribute__((target("avx512f"))) static void weight_gradient_avx512(
    const float *x, int images, int channels, int height, int width, int kh, int kw, int pad_h,
    int pad_w, const float *dz_t, int out_channels, int c_begin, int c_end, float *dw,
    float *scratch) {
  const int framed_w = width + 2 * pad_w, framed_h = height + 2 * pad_h;
  const long framed = (long)framed_w * framed_h, in_pixels = (long)height * width;
  const int out_h = framed_h - kh + 1, out_w = framed_w - kw + 1;
  const long out_pixels = (long)out_h * out_w;
  const int taps = kh * kw, blocks = (out_channels + 15) / 16, row = blocks * 16;
  float *frames = scratch, *spill = scratch + images * framed;
  int corner[out_pixels], tap_offset[taps];
  for (long p = 0; p < out_pixels; p++) corner[p] = (int)((p / out_w) * framed_w + p % out_w);
  for (int ki = 0; ki < kh; ki++)
    for (int kj = 0; kj < kw; kj++) tap_offset[ki * kw + kj] = ki * framed_w + kj;
  // Groups of equal size, at most MAX_TAPS: 9 taps are groups of 5 and 4, 25 of 7, 7, 7, 4.
  const int groups = (taps + MAX_TAPS - 1) / MAX_TAPS, size = (taps + groups - 1) / groups;
  const long dw_stride = (long)channels * taps;
  // Images whose transposed output gradient (about 256 KiB) stays in cache while every
  // channel, pair of blocks and group of taps reads it: taken whole, ResNet-18's at 64 px
  // (4 MiB) came from memory once per tile and ran at a third of the unfolding's speed.
  const long per_image = out_pixels * row;
  const int chunk = per_image >= GRADIENT_CHUNK_FLOATS ? 1 : (int)(GRADIENT_CHUNK_FLOATS / per_image);
  if (pad_h > 0 || pad_w > 0) memset(frames, 0, sizeof(float) * (size_t)images * framed);
  for (int n0 = 0; n0 < images; n0 += chunk) {
   const int count = images - n0 < chunk ? images - n0 : chunk;
   const float *dz_chunk = dz_t + (long)n0 * per_image;
   for (int c = c_begin; c < c_end; c++) {
    // Channel c of the chunk's images, framed by zeros (the border stays zero).
    for (int n = 0; n < count; n++) {
      const float *xc = x + ((long)(n0 + n) * channels + c) * in_pixels;
      float *fn = frames + n * framed;
      frame_plane(xc, height, width, pad_h, pad_w, fn);
    }
    for (int b = 0; b < blocks; b += 2) {
      const int pair = b + 1 < blocks;
      const int lanes0 = block_lanes(out_channels, b);
      const int lanes1 = pair ? block_lanes(out_channels, b + 1) : 0;
      const float *dzb = dz_chunk + b * 16;
      for (int first = 0; first < taps; first += size) {
        const int group = taps - first < size ? taps - first : size;
        float *dwt = dw + (long)b * 16 * dw_stride + (long)c * taps + first;
#define GRADIENT_TILE(G)                                                                      \
  case G:                                                                                     \
    gradient_tile(G, frames, framed, count, corner, out_pixels, tap_offset + first, dzb, row,  \
                  pair, dwt, dw_stride, lanes0, lanes1, spill);                               \
    break;
        switch (group) {
          GRADIENT_TILE(1) GRADIENT_TILE(2) GRADIENT_TILE(3) GRADIENT_TILE(4)
          GRADIENT_TILE(5) GRADIENT_TILE(6) GRADIENT_TILE(7) GRADIENT_TILE(8)
        }
#undef GRADIENT_TILE
      }
    }
   }
  }
}
#endif

void direct_convolution_weight_gradient(const float *x, int images, int channels, int height,
                                        int width, int kh, int kw, int pad_h, int pad_w,
                                        const float *dz_t, int out_channels, int c_begin,
                                        int c_end, float *dw, float *scratch) {
#if defined(__x86_64__)
  weight_gradient_avx512(x, images, channels, height, width, kh, kw, pad_h, pad_w, dz_t,
                         out_channels, c_begin, c_end, dw, scratch);
#else
  (void)x; (void)images; (void)channels; (void)height; (void)width; (void)kh; (void)kw;
  (void)pad_h; (void)pad_w; (void)dz_t; (void)out_channels; (void)c_begin; (void)c_end;
  (void)dw; (void)scratch;
#endif
}

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
