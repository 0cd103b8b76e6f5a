#include "direct_convolution.h"

#include "channel_blocks.h"

#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Output pixels a tile takes at most: with two vectors of 16 output channels, 20
// accumulators of the 32 vector registers (10 measured a few per cent faster than 8 and
// than 12). Every tap of a tile costs two weight loads, one broadcast of an input value per
// pixel and two fused multiply-adds per pixel; nothing is unfolded.
#define MAX_RUN 10
// Framed images a thread keeps at once: about this many floats, so that they and one pair
// of output-channel blocks' weights stay in a core's cache while the pair's tiles run.
#define FRAME_FLOATS 131072
// Input channels a forward tile takes through all its taps before the next ones.
#define CHANNEL_BLOCK 32
// Limits of a call (the header's): output rows and columns, output pixels, kernel taps.
#define MAX_AXIS DIRECT_CONVOLUTION_MAX_OUT_PIXELS
#define MAX_PIXELS DIRECT_CONVOLUTION_MAX_OUT_PIXELS
#define MAX_TAPS_ALL DIRECT_CONVOLUTION_MAX_TAPS

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
        float *dst = packed + (((long)b * taps + t) * ins + i) * 16;
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

// Output positions along one axis grouped by the kernel taps that reach into the image
// there ("live" taps, [first, last)): near the border a window reads padding through its
// outer taps, and those would multiply zeros. Padded 3x3 convolutions spend 16% of their
// taps on padding at 8x8, 31% at 4x4 and 56% at 2x2.
typedef struct {
  int groups;
  int first[MAX_AXIS], last[MAX_AXIS];  // each group's live taps
  int start[MAX_AXIS + 1];              // group g's positions: members[start[g] ..< start[g + 1]]
  int members[MAX_AXIS];
} axis_groups;

static void group_axis(int outputs, int k, int size, int stride, int pad, axis_groups *a) {
  int first[MAX_AXIS], last[MAX_AXIS], group_of[MAX_AXIS];
  a->groups = 0;
  for (int o = 0; o < outputs; o++) {
    // Tap i reads position o * stride - pad + i.
    const int origin = o * stride - pad;
    first[o] = origin < 0 ? -origin : 0;
    last[o] = size - origin < k ? size - origin : k;
    int g = 0;
    while (g < a->groups && (a->first[g] != first[o] || a->last[g] != last[o])) g++;
    if (g == a->groups) {
      a->first[g] = first[o];
      a->last[g] = last[o];
      a->groups++;
    }
    group_of[o] = g;
  }
  int n = 0;
  for (int g = 0; g < a->groups; g++) {
    a->start[g] = n;
    for (int o = 0; o < outputs; o++)
      if (group_of[o] == g) a->members[n++] = o;
  }
  a->start[a->groups] = n;
}

// One group of every output position, with every tap live: where the taps that meet padding
// are left to multiply its zeros.
static void whole_axis(int outputs, int k, axis_groups *a) {
  group_axis(outputs, k, outputs + k - 1, 1, 0, a);
}

// One class of output pixels: those whose rows fall in row group `gr` and columns in column
// group `gc`, which share their live taps.
typedef struct {
  int pixels;      // how many
  int taps;        // live taps
  int pixel[MAX_PIXELS], corner[MAX_PIXELS];  // output pixel, its window's corner in the frame
  int tap[MAX_TAPS_ALL], tap_offset[MAX_TAPS_ALL];  // tap index ky * kw + kx, its frame offset
} pixel_class;

// The class's live taps only.
static void make_class_taps(const axis_groups *rows, int gr, const axis_groups *cols, int gc,
                            int framed_w, int kw, pixel_class *c) {
  c->taps = 0;
  for (int ki = rows->first[gr]; ki < rows->last[gr]; ki++)
    for (int kj = cols->first[gc]; kj < cols->last[gc]; kj++) {
      c->tap[c->taps] = ki * kw + kj;
      c->tap_offset[c->taps++] = ki * framed_w + kj;
    }
}

static void make_class(const axis_groups *rows, int gr, const axis_groups *cols, int gc,
                       int out_w, int framed_w, int stride_h, int stride_w, int kw,
                       pixel_class *c) {
  c->pixels = 0;
  for (int i = rows->start[gr]; i < rows->start[gr + 1]; i++)
    for (int j = cols->start[gc]; j < cols->start[gc + 1]; j++) {
      const int r = rows->members[i], q = cols->members[j];
      c->pixel[c->pixels] = r * out_w + q;
      c->corner[c->pixels++] = r * stride_h * framed_w + q * stride_w;
    }
  make_class_taps(rows, gr, cols, gc, framed_w, kw, c);
}

#if defined(__x86_64__)
// One tile: `run` output pixels (window corners `corner`, offsets into `frames`) by one or
// two blocks of 16 output channels (weights at `w0` and `w0 + pair_offset`), summed over the
// class's live taps and the input channels, then written or added to the output at
// `out_offset` (from the block's first channel). Inlined with a constant `run`, so that its accumulators live in
// registers.
__attribute__((target("avx512f"), always_inline)) static inline void tile(
    const int run, const float *frames, long framed, const int *corner,
    const pixel_class *cls, int channels, const float *w0, long pair_offset, int pair, float *y,
    const long *out_offset, long out_pixels, int count, int lanes0, int lanes1, int accumulate,
    float *spill) {
  __m512 a0[MAX_RUN], a1[MAX_RUN];
  int at[MAX_RUN];
  for (int i = 0; i < run; i++) {
    a0[i] = a1[i] = _mm512_setzero_ps();
    at[i] = corner[i];
  }
  // Blocks of channels outside, then taps, then the block's channels: the inner loop walks
  // the weights (packed tap by tap) and the framed planes with constant strides, and the
  // block's planes (a cache line or two per entry and channel, entries often in different
  // images) stay in L1 while every tap reads them.
  for (int c0 = 0; c0 < channels; c0 += CHANNEL_BLOCK) {
    const int cn = channels - c0 < CHANNEL_BLOCK ? channels - c0 : CHANNEL_BLOCK;
    for (int k = 0; k < cls->taps; k++) {
      const float *ft = frames + (long)c0 * framed + cls->tap_offset[k];
      const float *wt = w0 + ((long)cls->tap[k] * channels + c0) * 16;
      for (int c = 0; c < cn; c++) {
        const __m512 v0 = _mm512_loadu_ps(wt), v1 = _mm512_loadu_ps(wt + pair_offset);
        // The pair's weights four channels on, from L2 (442 KiB for AlexNet's 384 -> 384
        // at 3x3): its 3x3-plane layers ran 5-12% faster.
        _mm_prefetch((const char *)(wt + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)(wt + pair_offset + 64), _MM_HINT_T0);
        for (int i = 0; i < run; i++) {
          const __m512 s = _mm512_set1_ps(ft[at[i]]);
          a0[i] = _mm512_fmadd_ps(v0, s, a0[i]);
          a1[i] = _mm512_fmadd_ps(v1, s, a1[i]);
        }
        ft += framed;
        wt += 16;
      }
    }
  }
  // To NCHW: lane o of entry i's vector is output channel o of the block at out_offset[i].
  for (int half = 0; half <= pair; half++) {
    for (int i = 0; i < run; i++) _mm512_storeu_ps(spill + 16 * i, half ? a1[i] : a0[i]);
    int lanes = half ? lanes1 : lanes0;
    float *yb = y + (long)half * 16 * out_pixels;
    for (int i = 0; i < count; i++) {
      float *dst = yb + out_offset[i];
      if (accumulate) {
        for (int o = 0; o < lanes; o++) dst[(long)o * out_pixels] += spill[16 * i + o];
      } else {
        for (int o = 0; o < lanes; o++) dst[(long)o * out_pixels] = spill[16 * i + o];
      }
    }
  }
}

__attribute__((target("avx512f"))) static void forward_avx512(
    const float *x, int images, int channels, int height, int width, int kh, int kw,
    int stride_h, int stride_w, int pad_h, int pad_w, const float *packed, int out_channels,
    float *y, int accumulate, float *scratch) {
  const int framed_w = width + 2 * pad_w, framed_h = height + 2 * pad_h;
  const long framed = (long)framed_w * framed_h, in_pixels = (long)height * width;
  const int out_h = (framed_h - kh) / stride_h + 1, out_w = (framed_w - kw) / stride_w + 1;
  const long out_pixels = (long)out_h * out_w;
  const int taps = kh * kw, blocks = (out_channels + 15) / 16;
  const long image_frame = framed * channels;
  // Blocks of equal size (32 images at most 28 a block are two of 16, not 28 and 4), so
  // that the last block's classes still fill whole runs.
  const int most = (int)frame_block(image_frame, images);
  const int frame_blocks = (images + most - 1) / most;
  const int per_block = (images + frame_blocks - 1) / frame_blocks;
  float *frames = scratch, *spill = scratch + most * image_frame;
  axis_groups rows, cols;
  group_axis(out_h, kh, height, stride_h, pad_h, &rows);
  group_axis(out_w, kw, width, stride_w, pad_w, &cols);
  pixel_class cls;
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
    float *yn = y + (long)n0 * out_channels * out_pixels;
    // A pair of output-channel blocks at a time over all the block's images, so that its
    // weights are read from the cache, not from memory, for every tile.
    for (int b = 0; b < blocks; b += 2) {
      const int pair = b + 1 < blocks;
      const float *w0 = packed + (long)b * channels * taps * 16;
      const long pair_offset = pair ? (long)channels * taps * 16 : 0;
      const int lanes0 = block_lanes(out_channels, b);
      const int lanes1 = pair ? block_lanes(out_channels, b + 1) : 0;
      float *yb = yn + (long)b * 16 * out_pixels;
      for (int gr = 0; gr < rows.groups; gr++)
        for (int gc = 0; gc < cols.groups; gc++) {
          make_class(&rows, gr, &cols, gc, out_w, framed_w, stride_h, stride_w, kw, &cls);
          if (cls.taps == 0) {  // windows on padding alone: zero
            if (!accumulate)
              for (int m = 0; m < count_images; m++)
                for (int q = 0; q < cls.pixels; q++)
                  for (int o = 0; o < lanes0 + lanes1; o++)
                    yb[((long)m * out_channels + o) * out_pixels + cls.pixel[q]] = 0;
            continue;
          }
          // The class's pixels of every image in the block, image by image, in runs of equal
          // length, at most MAX_RUN: 12 are two runs of 6, 22 three of 8 (the last of 6),
          // 100 ten of 10. A short last run repeats its last entry.
          const int entries = count_images * cls.pixels;
          const int runs = (entries + MAX_RUN - 1) / MAX_RUN;
          const int run = (entries + runs - 1) / runs;
          for (int first = 0; first < entries; first += run) {
            const int count = entries - first < run ? entries - first : run;
            int corner[MAX_RUN];
            long out_offset[MAX_RUN];
            for (int i = 0; i < run; i++) {
              const int e = first + (i < count ? i : count - 1);
              const int m = e / cls.pixels, q = e % cls.pixels;
              corner[i] = (int)(m * image_frame) + cls.corner[q];
              out_offset[i] = (long)m * out_channels * out_pixels + cls.pixel[q];
            }
#define TILE(R)                                                                               \
  case R:                                                                                     \
    tile(R, frames, framed, corner, &cls, channels, w0, pair_offset, pair, yb, out_offset,     \
         out_pixels, count, lanes0, lanes1, accumulate, spill);                               \
    break;
            switch (run) {
              TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6) TILE(7) TILE(8) TILE(9)
              TILE(10)
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

long direct_convolution_weight_gradient_scratch_floats(int images, int height, int width, int kh,
                                                       int kw, int pad_h, int pad_w) {
  // The frames, the accumulators, and two int offsets per image and output pixel.
  const long out_pixels = (long)(height + 2 * pad_h - kh + 1) * (width + 2 * pad_w - kw + 1);
  return (long)images * (height + 2 * pad_h) * (width + 2 * pad_w) + 32L * kh * kw +
         2L * images * (out_pixels > 0 ? out_pixels : 0) + 4096;
}

// Kernel taps a weight-gradient tile takes at once: a whole 3x3 kernel, with two vectors of
// 16 output channels 18 accumulators. Each pixel's two vectors of the output gradient come
// from L2 (the chunk is half of it); at 8 taps, groups of 5 and 4 read them twice, and the
// tiles ran about a fifth slower at 8x8 and 16x16.
#define MAX_TAPS 9
// Floats of the transposed output gradient a thread's tiles read at a time: half the core's
// L2, so that the chunk stays there while every channel reads it (the cache's size from the
// C library; a quarter MiB where it does not say).
static long gradient_chunk_floats(void) {
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  return l2 > 0 ? l2 / 2 / (long)sizeof(float) : 65536;
}

#if defined(__x86_64__)
// One tile of the weight gradient: `group` live taps (frame offsets `tap_offset`, indices
// `tap`) of one input channel, over the `entries` (image, output pixel) pairs of one class
// (offsets `frame_offset` into `frames` and `gradient_offset` into `dz_t`), by one or two
// blocks of 16 output channels; added into `acc` ([tap][32], the channel's gradient so far).
// With `in_order` (one class of every pixel), entry e's output gradient is row e of `dz_t`.
__attribute__((target("avx512f"), always_inline)) static inline void gradient_tile(
    const int group, const int in_order, const float *frames, int entries,
    const int *frame_offset, const int *gradient_offset, int row, const int *tap_offset,
    const int *tap, const float *dz_t, const int pair, float *acc) {
  __m512 a0[MAX_TAPS], a1[MAX_TAPS];
  int at[MAX_TAPS];
  for (int j = 0; j < group; j++) {
    a0[j] = a1[j] = _mm512_setzero_ps();
    at[j] = tap_offset[j];
  }
  for (int e = 0; e < entries; e++) {
    const float *base = frames + frame_offset[e];
    const float *d = dz_t + (in_order ? (long)e * row : gradient_offset[e]);
    const __m512 d0 = _mm512_loadu_ps(d);
    const __m512 d1 = pair ? _mm512_loadu_ps(d + 16) : d0;
    for (int j = 0; j < group; j++) {
      const __m512 s = _mm512_set1_ps(base[at[j]]);
      a0[j] = _mm512_fmadd_ps(d0, s, a0[j]);
      a1[j] = _mm512_fmadd_ps(d1, s, a1[j]);
    }
  }
  for (int j = 0; j < group; j++) {
    float *sum = acc + 32 * tap[j];
    _mm512_storeu_ps(sum, _mm512_add_ps(_mm512_loadu_ps(sum), a0[j]));
    if (pair) _mm512_storeu_ps(sum + 16, _mm512_add_ps(_mm512_loadu_ps(sum + 16), a1[j]));
  }
}

// The 16x16 block `r` transposed in registers: lane j of r[i] goes to lane i of r[j].
__attribute__((target("avx512f"), always_inline)) static inline void transpose_16x16(
    __m512 r[16]) {
  __m512 t[16];
  // Pairs of rows interleaved, then pairs of pairs: each 128-bit lane of the result holds a
  // 4x4 block transposed.
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // Then the 4x4 grid of 128-bit blocks transposed, in two steps of 128-bit shuffles.
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], _MM_SHUFFLE(2, 0, 2, 0));
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], _MM_SHUFFLE(3, 1, 3, 1));
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], _MM_SHUFFLE(2, 0, 2, 0));
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], _MM_SHUFFLE(3, 1, 3, 1));
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], _MM_SHUFFLE(2, 0, 2, 0));
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], _MM_SHUFFLE(3, 1, 3, 1));
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], _MM_SHUFFLE(2, 0, 2, 0));
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// Adds one block's tap sums (`acc[32 * t + o]`: lane o of tap t) to `db[o * dw_stride + t]`
// for its `lanes` channels: 16 taps at a time transposed in registers, then each channel's
// taps added as one masked vector. Element by element, the compiler made the strided reads
// gathers, which this CPU runs slowly.
__attribute__((target("avx512f"))) static void add_transposed(const float *acc, int taps,
                                                              int lanes, float *db,
                                                              long dw_stride) {
  for (int t0 = 0; t0 < taps; t0 += 16) {
    const int count = taps - t0 < 16 ? taps - t0 : 16;
    const __mmask16 mask = (__mmask16)((1u << count) - 1);
    __m512 r[16];
    for (int i = 0; i < 16; i++)
      r[i] = i < count ? _mm512_loadu_ps(acc + 32 * (t0 + i)) : _mm512_setzero_ps();
    transpose_16x16(r);
    for (int o = 0; o < lanes; o++) {
      float *d = db + o * dw_stride + t0;
      _mm512_mask_storeu_ps(d, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, d), r[o]));
    }
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
  float *frames = scratch, *acc = scratch + images * framed;
  int *frame_offset = (int *)(acc + 32L * taps);
  int *gradient_offset = frame_offset + images * out_pixels;
  // Classes of pixels by their live taps, as the forward pass's, on planes up to 8 wide
  // with at most three kinds of column (3x3 kernels); by whole rows on other planes up to 8
  // wide (NiN's 5x5 layers at 7x7 had 25 classes, their corners a pixel an image, and a tile
  // ran a handful of steps); none on wider planes, whose dead taps are few (12% at 16x16)
  // and whose tiles then read the output gradient in order, with no table.
  axis_groups rows, cols;
  group_axis(out_w, kw, width, 1, pad_w, &cols);
  const int whole = out_w > 8;
  if (whole || cols.groups > 3) whole_axis(out_w, kw, &cols);
  if (whole) whole_axis(out_h, kh, &rows);
  else group_axis(out_h, kh, height, 1, pad_h, &rows);
  const int classes = rows.groups * cols.groups;
  pixel_class cls;
  const long dw_stride = (long)channels * taps;
  // Images whose transposed output gradient (half the L2) stays in cache while every
  // channel, pair of blocks and group of taps reads it: taken whole, ResNet-18's at 64 px
  // (4 MiB) came from memory once per tile and ran at a third of the unfolding's speed.
  const long per_image = out_pixels * row, chunk_floats = gradient_chunk_floats();
  const int most = per_image >= chunk_floats ? 1 : (int)(chunk_floats / per_image);
  const int chunks = (images + most - 1) / most, chunk = (images + chunks - 1) / chunks;
  if (pad_h > 0 || pad_w > 0) memset(frames, 0, sizeof(float) * (size_t)chunk * framed);
  for (int n0 = 0; n0 < images; n0 += chunk) {
   const int count = images - n0 < chunk ? images - n0 : chunk;
   const float *dz_chunk = dz_t + (long)n0 * per_image;
   // Each class's (image, pixel) pairs, image by image, as offsets into the frames and the
   // chunk's output gradient (which a single class of every pixel reads in order): one loop
   // over them per tile, made once per chunk.
   int class_start[MAX_AXIS + 1], e = 0;
   for (int k = 0; k < classes; k++) {
     make_class(&rows, k / cols.groups, &cols, k % cols.groups, out_w, framed_w, 1, 1, kw,
                &cls);
     class_start[k] = e;
     for (int n = 0; n < count; n++)
       for (int q = 0; q < cls.pixels; q++, e++) {
         frame_offset[e] = (int)(n * framed) + cls.corner[q];
         if (!whole) gradient_offset[e] = (int)(n * per_image + (long)cls.pixel[q] * row);
       }
   }
   class_start[classes] = e;
   for (int c = c_begin; c < c_end; c++) {
    // Channel c of the chunk's images, framed by zeros (the border stays zero).
    for (int n = 0; n < count; n++) {
      const float *xc = x + ((long)(n0 + n) * channels + c) * in_pixels;
      float *fn = frames + n * framed;
      frame_plane(xc, height, width, pad_h, pad_w, fn);
    }
    for (int b = 0; b < blocks; b += 2) {
      const int pair = b + 1 < blocks;
      const float *dzb = dz_chunk + b * 16;
      memset(acc, 0, sizeof(float) * 32 * (size_t)taps);
      // Each class's live taps in groups of equal size, at most MAX_TAPS: 9 taps are one
      // group, 25 (5x5) groups of 9, 9 and 7.
      for (int k = 0; k < classes; k++) {
        make_class_taps(&rows, k / cols.groups, &cols, k % cols.groups, framed_w, kw, &cls);
        if (cls.taps == 0) continue;
        const int entries = class_start[k + 1] - class_start[k];
        const int *fo = frame_offset + class_start[k], *go = gradient_offset + class_start[k];
        const int groups = (cls.taps + MAX_TAPS - 1) / MAX_TAPS;
        const int size = (cls.taps + groups - 1) / groups;
        for (int first = 0; first < cls.taps; first += size) {
          const int group = cls.taps - first < size ? cls.taps - first : size;
#define GRADIENT_TILE_OF(G, WHOLE, PAIR)                                                      \
  gradient_tile(G, WHOLE, frames, entries, fo, go, row, cls.tap_offset + first,               \
                cls.tap + first, dzb, PAIR, acc)
#define GRADIENT_TILE(G)                                                                      \
  case G:                                                                                     \
    if (whole) {                                                                              \
      if (pair) GRADIENT_TILE_OF(G, 1, 1); else GRADIENT_TILE_OF(G, 1, 0);                    \
    } else {                                                                                  \
      if (pair) GRADIENT_TILE_OF(G, 0, 1); else GRADIENT_TILE_OF(G, 0, 0);                    \
    }                                                                                         \
    break;
          switch (group) {
            GRADIENT_TILE(1) GRADIENT_TILE(2) GRADIENT_TILE(3) GRADIENT_TILE(4)
            GRADIENT_TILE(5) GRADIENT_TILE(6) GRADIENT_TILE(7) GRADIENT_TILE(8)
            GRADIENT_TILE(9)
          }
#undef GRADIENT_TILE
#undef GRADIENT_TILE_OF
        }
      }
      // Lane o of tap t's vectors is output channel b * 16 + o (the pair's second block in
      // lanes 16-31): added to dw[o][c][t].
      for (int half = 0; half <= pair; half++)
        add_transposed(acc + 16 * half, taps, block_lanes(out_channels, b + half),
                       dw + (long)(b + half) * 16 * dw_stride + (long)c * taps, dw_stride);
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
                                int kh, int kw, int stride_h, int stride_w, int pad_h, int pad_w,
                                const float *packed, int out_channels, float *y, int accumulate,
                                float *scratch) {
#if defined(__x86_64__)
  forward_avx512(x, images, channels, height, width, kh, kw, stride_h, stride_w, pad_h, pad_w,
                 packed, out_channels, y, accumulate, scratch);
#else
  (void)x; (void)images; (void)channels; (void)height; (void)width; (void)kh; (void)kw;
  (void)stride_h; (void)stride_w; (void)pad_h; (void)pad_w; (void)packed; (void)out_channels;
  (void)y; (void)accumulate; (void)scratch;
#endif
}
