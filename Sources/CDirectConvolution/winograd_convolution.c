#include "winograd_convolution.h"

#include "channel_blocks.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Tiles a product step takes at most: with two vectors of 16 output channels, 20
// accumulators of the 32 vector registers, as the direct kernel's runs of pixels.
#define MAX_RUN 10
// Floats of transformed input a thread keeps at once (16 per tile and channel), so that it
// and one pair of output-channel blocks' transformed weights stay in a core's L2 while
// every pair reads it.
#define TRANSFORMED_FLOATS 131072

// Transformed positions of a tile: its (kernel + 1) x (kernel + 1) window.
static inline int positions_of(int kernel) { return (kernel + 1) * (kernel + 1); }

long winograd_convolution_packed_floats(int kernel, int out_channels, int in_channels) {
  return (long)((out_channels + 15) / 16) * 16 * positions_of(kernel) * in_channels;
}

// The kernel transforms' G: F(2x2, 3x3)'s (4x3) and F(2x2, 5x5)'s (6x5, the points 0, 1,
// -1, 2, -2 and infinity).
static const float G3[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
static const float G5[6][5] = {{1.0f / 4, 0, 0, 0, 0},
                               {-1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6},
                               {-1.0f / 6, 1.0f / 6, -1.0f / 6, 1.0f / 6, -1.0f / 6},
                               {1.0f / 24, 1.0f / 12, 1.0f / 6, 1.0f / 3, 2.0f / 3},
                               {1.0f / 24, -1.0f / 12, 1.0f / 6, -1.0f / 3, 2.0f / 3},
                               {0, 0, 0, 0, 1}};

// `winograd_convolution_pack` for one kernel size, inlined at each call with `kernel` and
// G ([kernel + 1][kernel]) constant, so that the loops unroll and G's zeros drop out.
__attribute__((always_inline)) static inline void pack_blocks(
    const int kernel, const float *G, const float *w, int out_channels, int in_channels,
    int turned, int block_begin, int block_end, float *packed) {
  const int outs = turned ? in_channels : out_channels, ins = turned ? out_channels : in_channels;
  const int side = kernel + 1, positions = side * side, taps = kernel * kernel;
  for (int b = block_begin; b < block_end; b++)
    for (int i = 0; i < ins; i++) {
      // The block's 16 output channels' transforms of input channel i, lane by lane, then
      // written a position (16 lanes, one cache line) at a time.
      float u[36][16];
      for (int lane = 0; lane < 16; lane++) {
        const int o = b * 16 + lane;
        if (o >= outs) {
          for (int xi = 0; xi < positions; xi++) u[xi][lane] = 0;
          continue;
        }
        float g[5][5];
        for (int r = 0; r < kernel; r++)
          for (int s = 0; s < kernel; s++)
            // turned[o][i][r][s] = w[i][o][kernel - 1 - r][kernel - 1 - s].
            g[r][s] = turned ? w[((long)i * in_channels + o) * taps + (kernel - 1 - r) * kernel +
                                 (kernel - 1 - s)]
                             : w[((long)o * in_channels + i) * taps + r * kernel + s];
        // G g, then (G g) G^T, each sum over G's nonzero coefficients in order (for 3x3 the
        // halves make these exact scalings of g's sums). The sums start at -0, which adding
        // leaves every value as it is, so that the compiler drops the first addition.
        float t[6][5];
        for (int r = 0; r < side; r++)
          for (int s = 0; s < kernel; s++) {
            float sum = -0.0f;
            for (int j = 0; j < kernel; j++)
              if (G[r * kernel + j] != 0) sum += G[r * kernel + j] * g[j][s];
            t[r][s] = sum;
          }
        for (int r = 0; r < side; r++)
          for (int c = 0; c < side; c++) {
            float sum = -0.0f;
            for (int j = 0; j < kernel; j++)
              if (G[c * kernel + j] != 0) sum += t[r][j] * G[c * kernel + j];
            u[r * side + c][lane] = sum;
          }
      }
      for (int xi = 0; xi < positions; xi++)
        memcpy(packed + (((long)b * positions + xi) * ins + i) * 16, u[xi], sizeof(u[xi]));
    }
}

void winograd_convolution_pack(int kernel, const float *w, int out_channels, int in_channels,
                               int turned, int block_begin, int block_end, float *packed) {
  if (kernel == 5)
    pack_blocks(5, &G5[0][0], w, out_channels, in_channels, turned, block_begin, block_end,
                packed);
  else
    pack_blocks(3, &G3[0][0], w, out_channels, in_channels, turned, block_begin, block_end,
                packed);
}

// Tiles along an axis of `size` pixels, and the framed size (`pad` pixels of padding before,
// and after enough for whole windows of 2 + 2 * pad pixels).
static inline int tiles_along(int size) { return (size + 1) / 2; }
static inline int framed_along(int size, int pad) { return 2 * tiles_along(size) + 2 * pad; }

// Images a block takes: their transformed input about TRANSFORMED_FLOATS.
static int image_block(int kernel, int channels, int height, int width, int images) {
  const long per_image = (long)positions_of(kernel) * tiles_along(height) * tiles_along(width) *
                         padded_channels(channels);
  long block = per_image >= TRANSFORMED_FLOATS ? 1 : TRANSFORMED_FLOATS / per_image;
  return block < images ? (int)block : (images > 0 ? images : 1);
}

long winograd_convolution_scratch_floats(int kernel, int images, int channels, int height,
                                         int width, int out_channels) {
  const int block = image_block(kernel, channels, height, width, images), pad = kernel / 2;
  const long cp = padded_channels(channels), kp = padded_channels(out_channels);
  const long tiles = (long)block * tiles_along(height) * tiles_along(width);
  const long frames = (long)block * framed_along(height, pad) * framed_along(width, pad) * cp;
  const long positions = positions_of(kernel);
  // Channel-last frames, transformed input (with a run's worth of spare tiles), products,
  // channel-last output.
  return frames + positions * (tiles + MAX_RUN) * cp + positions * MAX_RUN * 32 +
         (long)block * height * width * kp;
}

#if defined(__x86_64__)
// Transposes a 16x16 block held in 16 vectors: afterwards r[i] holds lane i of each.
__attribute__((target("avx512f"), always_inline)) static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; i++) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0x88);
      t[h + 4 + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0xDD);
    }
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
  }
}

// Frames `images` images of `x` ([images][channels][height][width]) channel-last: pixel
// (r, q) of image m is the cp floats at ((m * framed_h + r + pad) * framed_w + q + pad) * cp
// (framed_along), filled by 16x16 transposes of 16 channels by 16 pixels, the planes' rows
// taken one after another; lanes past `channels` are written zero. The border is left as it
// is (zero, once the caller has cleared the frames).
__attribute__((target("avx512f"))) static void frame_channel_last(
    const float *x, int images, int channels, int height, int width, int pad, int cp,
    float *frames) {
  const int framed_w = framed_along(width, pad);
  const long framed = (long)framed_along(height, pad) * framed_w, in_pixels = (long)height * width;
  for (int mi = 0; mi < images; mi++) {
    const float *xn = x + (long)mi * channels * in_pixels;
    float *fm = frames + mi * framed * cp;
    for (int c0 = 0; c0 < channels; c0 += 16)
      for (long p0 = 0; p0 < in_pixels; p0 += 16) {
        const int tail = in_pixels - p0 < 16 ? (int)(in_pixels - p0) : 16;
        const __mmask16 mask = (__mmask16)((1u << tail) - 1);
        __m512 r[16];
        for (int k = 0; k < 16; k++)
          r[k] = c0 + k < channels
                     ? _mm512_maskz_loadu_ps(mask, xn + (long)(c0 + k) * in_pixels + p0)
                     : _mm512_setzero_ps();
        transpose16(r);
        for (int j = 0; j < tail; j++) {
          const long p = p0 + j;
          const long row = p / width, col = p % width;
          _mm512_storeu_ps(fm + ((row + pad) * framed_w + col + pad) * cp + c0, r[j]);
        }
      }
  }
}

// F(2x2, 3x3)'s input transform B^T d B of one 4x4 window, 16 channels: the window's
// pixel (i, j) at corner + (i * framed_w + j) * cp, position xi written at
// out + xi * v_position.
__attribute__((target("avx512f"), always_inline)) static inline void transform_window_4x4(
    const float *corner, int framed_w, int cp, float *out, long v_position) {
  __m512 d[4][4], r[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) d[i][j] = _mm512_loadu_ps(corner + ((long)i * framed_w + j) * cp);
  for (int j = 0; j < 4; j++) {
    r[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
    r[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
    r[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
    r[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
  }
  for (int i = 0; i < 4; i++) {
    float *vi = out + (long)(i * 4) * v_position;
    _mm512_storeu_ps(vi, _mm512_sub_ps(r[i][0], r[i][2]));
    _mm512_storeu_ps(vi + v_position, _mm512_add_ps(r[i][1], r[i][2]));
    _mm512_storeu_ps(vi + 2 * v_position, _mm512_sub_ps(r[i][2], r[i][1]));
    _mm512_storeu_ps(vi + 3 * v_position, _mm512_sub_ps(r[i][1], r[i][3]));
  }
}

// F(2x2, 5x5)'s B^T applied to six vectors. B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0;
// 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
__attribute__((target("avx512f"), always_inline)) static inline void transform6(
    const __m512 d[6], __m512 r[6]) {
  const __m512 four = _mm512_set1_ps(4), five = _mm512_set1_ps(5), two = _mm512_set1_ps(2);
  const __m512 d34 = _mm512_add_ps(d[3], d[4]), d12 = _mm512_add_ps(d[1], d[2]);
  const __m512 e43 = _mm512_sub_ps(d[4], d[3]), e12 = _mm512_sub_ps(d[1], d[2]);
  const __m512 e42 = _mm512_sub_ps(d[4], d[2]), e31 = _mm512_sub_ps(d[3], d[1]);
  r[0] = _mm512_add_ps(_mm512_fnmadd_ps(five, d[2], _mm512_mul_ps(four, d[0])), d[4]);
  r[1] = _mm512_fnmadd_ps(four, d12, d34);
  r[2] = _mm512_fmadd_ps(four, e12, e43);
  r[3] = _mm512_fmadd_ps(two, e31, e42);
  r[4] = _mm512_fnmadd_ps(two, e31, e42);
  r[5] = _mm512_add_ps(_mm512_fnmadd_ps(five, d[3], _mm512_mul_ps(four, d[1])), d[5]);
}

// F(2x2, 5x5)'s input transform of one 6x6 window, laid out as `transform_window_4x4`'s
// (36 positions): the columns first (r[i][j] = (B^T d)[i][j]), then each row of r by B.
__attribute__((target("avx512f"), always_inline)) static inline void transform_window_6x6(
    const float *corner, int framed_w, int cp, float *out, long v_position) {
  __m512 r[6][6];
  for (int j = 0; j < 6; j++) {
    __m512 d[6], q[6];
    for (int i = 0; i < 6; i++) d[i] = _mm512_loadu_ps(corner + ((long)i * framed_w + j) * cp);
    transform6(d, q);
    for (int i = 0; i < 6; i++) r[i][j] = q[i];
  }
  for (int i = 0; i < 6; i++) {
    __m512 q[6];
    transform6(r[i], q);
    float *vi = out + (long)(i * 6) * v_position;
    for (int j = 0; j < 6; j++) _mm512_storeu_ps(vi + j * v_position, q[j]);
  }
}

// Input transform B^T d B of the windows of `entries` tiles (image by image, row by row) of
// channel-last frames (framed with the kernel's padding), 16 channels to a vector: tile
// e's position xi at v + e * v_tile + xi * v_position.
__attribute__((target("avx512f"))) static void transform_input(
    int kernel, const float *frames, int entries, int height, int width, int cp, float *v,
    long v_tile, long v_position) {
  const int tiles_w = tiles_along(width), tiles_image = tiles_along(height) * tiles_w;
  const int framed_w = framed_along(width, kernel / 2);
  const long framed = (long)framed_along(height, kernel / 2) * framed_w;
  for (int e = 0; e < entries; e++) {
    const int mi = e / tiles_image, t = e % tiles_image;
    const int ty = t / tiles_w, tx = t % tiles_w;
    const float *corner = frames + mi * framed * cp + ((long)2 * ty * framed_w + 2 * tx) * cp;
    float *ve = v + (long)e * v_tile;
    for (int c0 = 0; c0 < cp; c0 += 16) {
      if (kernel == 5)
        transform_window_6x6(corner + c0, framed_w, cp, ve + c0, v_position);
      else
        transform_window_4x4(corner + c0, framed_w, cp, ve + c0, v_position);
    }
  }
}

// One step of products: `run` consecutive tiles of the transformed input `v` (tile i's
// position xi at v + i * v_tile + xi * v_position, its channels consecutive) by one or
// two blocks of 16 output channels of the packed kernel (`u0`, the pair's second at
// `u0 + pair_offset`), summed over the channels in order, into `m`
// ([positions][run][2][16]).
__attribute__((target("avx512f"), always_inline)) static inline void products(
    const int run, const float *v, long v_position, long v_tile, int channels, const float *u0,
    long u_position, long pair_offset, int positions, float *m) {
  for (int xi = 0; xi < positions; xi++) {
    __m512 a0[MAX_RUN], a1[MAX_RUN];
    for (int i = 0; i < run; i++) a0[i] = a1[i] = _mm512_setzero_ps();
    const float *vx = v + xi * v_position;
    const float *w = u0 + xi * u_position;
    for (int c = 0; c < channels; c++) {
      const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + pair_offset);
      // The pair's weights four channels on, and each tile's channels two lines on: from
      // L2, where the run's tiles and the pair's weights (442 KiB for 96 -> 256 5x5) lie,
      // twelve streams at once (forward 4-8% faster at every shape measured).
      _mm_prefetch((const char *)(w + 64), _MM_HINT_T0);
      _mm_prefetch((const char *)(w + pair_offset + 64), _MM_HINT_T0);
      if (c % 16 == 0)
        for (int i = 0; i < run; i++)
          _mm_prefetch((const char *)(vx + i * v_tile + c + 32), _MM_HINT_T0);
      for (int i = 0; i < run; i++) {
        const __m512 s = _mm512_set1_ps(vx[i * v_tile + c]);
        a0[i] = _mm512_fmadd_ps(w0, s, a0[i]);
        a1[i] = _mm512_fmadd_ps(w1, s, a1[i]);
      }
      w += 16;
    }
    float *mx = m + xi * run * 32;
    for (int i = 0; i < run; i++) {
      _mm512_storeu_ps(mx + 32 * i, a0[i]);
      _mm512_storeu_ps(mx + 32 * i + 16, a1[i]);
    }
  }
}

__attribute__((target("avx512f"))) static void winograd_forward_avx512(
    int kernel, const float *x, int images, int channels, int height, int width,
    const float *packed, int out_channels, float *y, int accumulate, float *scratch) {
  const int pad = kernel / 2, positions = positions_of(kernel), side = kernel + 1;
  const int tiles_h = tiles_along(height), tiles_w = tiles_along(width);
  const int framed_h = framed_along(height, pad), framed_w = framed_along(width, pad);
  const int tiles_image = tiles_h * tiles_w, cp = padded_channels(channels);
  const long in_pixels = (long)height * width, framed = (long)framed_h * framed_w;
  const int blocks = (out_channels + 15) / 16;
  const int most = image_block(kernel, channels, height, width, images);
  const int image_blocks = (images + most - 1) / most;
  const int per_block = (images + image_blocks - 1) / image_blocks;
  // Transformed input tile by tile: each tile's positions of cp channels one after
  // another (a few per cent faster than position-major, whose transform wrote 16 streams).
  const long v_position = cp, v_tile = (long)positions * cp;
  const long v_floats = positions * ((long)per_block * tiles_image + MAX_RUN) * cp;
  const int kp = padded_channels(out_channels);
  float *frames = scratch;
  float *v = frames + per_block * framed * cp;
  float *m = v + v_floats;
  float *out = m + (long)positions * MAX_RUN * 32;
  const long u_position = (long)channels * 16;
  // The frames' border and the spare tiles past a block's last stay zero.
  memset(frames, 0, sizeof(float) * (size_t)(per_block * framed * cp));
  memset(v, 0, sizeof(float) * (size_t)v_floats);
  for (int n0 = 0; n0 < images; n0 += per_block) {
    const int count_images = images - n0 < per_block ? images - n0 : per_block;
    frame_channel_last(x + (long)n0 * channels * in_pixels, count_images, channels, height,
                       width, pad, cp, frames);
    const int entries = count_images * tiles_image;
    transform_input(kernel, frames, entries, height, width, cp, v, v_tile, v_position);
    // A pair of output-channel blocks at a time over every tile of the block, so that its
    // transformed weights are read from the cache for every step.
    const int runs = (entries + MAX_RUN - 1) / MAX_RUN;
    const int run = (entries + runs - 1) / runs;
    for (int b = 0; b < blocks; b += 2) {
      const int pair = b + 1 < blocks;
      const float *u0 = packed + (long)b * positions * u_position;
      const long pair_offset = pair ? positions * u_position : 0;
      for (int first = 0; first < entries; first += run) {
        const int count = entries - first < run ? entries - first : run;
        const float *vr = v + (long)first * v_tile;
#define PRODUCTS(R)                                                                   \
  case R:                                                                             \
    if (kernel == 5)                                                                  \
      products(R, vr, v_position, v_tile, channels, u0, u_position, pair_offset, 36, m);  \
    else                                                                              \
      products(R, vr, v_position, v_tile, channels, u0, u_position, pair_offset, 16, m);  \
    break;
        switch (run) {
          PRODUCTS(1) PRODUCTS(2) PRODUCTS(3) PRODUCTS(4) PRODUCTS(5) PRODUCTS(6)
          PRODUCTS(7) PRODUCTS(8) PRODUCTS(9) PRODUCTS(10)
        }
#undef PRODUCTS
        // Output transform A^T M A of each tile, lanes to output channels.
        for (int i = 0; i < count; i++) {
          const int e = first + i, mi = e / tiles_image, t = e % tiles_image;
          const int oy = 2 * (t / tiles_w), ox = 2 * (t % tiles_w);
          const int rows = height - oy < 2 ? 1 : 2, cols = width - ox < 2 ? 1 : 2;
          // Pixel (oy + a, ox + bb) of image mi at out[(mi * pixels + pixel) * kp].
          float *o0 = out + ((long)mi * in_pixels + (long)oy * width + ox) * kp + b * 16;
          if (kernel == 5) {
            // A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1] on the columns, then on the rows.
            for (int half = 0; half <= pair; half++) {
              const __m512 two = _mm512_set1_ps(2);
              __m512 q[2][6];
              for (int j = 0; j < 6; j++) {
                __m512 s[6];
                for (int a = 0; a < 6; a++)
                  s[a] = _mm512_loadu_ps(m + ((a * side + j) * run + i) * 32 + 16 * half);
                q[0][j] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]),
                                        _mm512_add_ps(s[3], s[4]));
                q[1][j] = _mm512_add_ps(
                    _mm512_fmadd_ps(two, _mm512_sub_ps(s[3], s[4]), _mm512_sub_ps(s[1], s[2])),
                    s[5]);
              }
              for (int a = 0; a < rows; a++) {
                const __m512 *r = q[a];
                float *oo = o0 + (long)a * width * kp + 16 * half;
                _mm512_storeu_ps(oo, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]),
                                                   _mm512_add_ps(r[3], r[4])));
                if (cols > 1)
                  _mm512_storeu_ps(oo + kp, _mm512_add_ps(_mm512_fmadd_ps(two, _mm512_sub_ps(r[3], r[4]),
                                                                          _mm512_sub_ps(r[1], r[2])),
                                                          r[5]));
              }
            }
            continue;
          }
          for (int half = 0; half <= pair; half++) {
            __m512 s[4][4], q[2][4];
            for (int xi = 0; xi < 16; xi++)
              s[xi / 4][xi % 4] = _mm512_loadu_ps(m + (xi * run + i) * 32 + 16 * half);
            for (int j = 0; j < 4; j++) {
              q[0][j] = _mm512_add_ps(_mm512_add_ps(s[0][j], s[1][j]), s[2][j]);
              q[1][j] = _mm512_sub_ps(_mm512_sub_ps(s[1][j], s[2][j]), s[3][j]);
            }
            // Pixel (oy + a, ox + bb) of image mi at out[(mi * pixels + pixel) * kp].
            float *oo =
                out + ((long)mi * in_pixels + (long)oy * width + ox) * kp + (b + half) * 16;
            for (int a = 0; a < rows; a++) {
              _mm512_storeu_ps(oo + (long)a * width * kp,
                               _mm512_add_ps(_mm512_add_ps(q[a][0], q[a][1]), q[a][2]));
              if (cols > 1)
                _mm512_storeu_ps(oo + ((long)a * width + 1) * kp,
                                 _mm512_sub_ps(_mm512_sub_ps(q[a][1], q[a][2]), q[a][3]));
            }
          }
        }
      }
    }
    // Back to [image][channel][pixel], 16 pixels by 16 channels at a time.
    for (int mi = 0; mi < count_images; mi++) {
      float *yn = y + (long)(n0 + mi) * out_channels * in_pixels;
      const float *on = out + (long)mi * in_pixels * kp;
      for (int k0 = 0; k0 < out_channels; k0 += 16)
        for (long p0 = 0; p0 < in_pixels; p0 += 16) {
          const int tail = in_pixels - p0 < 16 ? (int)(in_pixels - p0) : 16;
          const __mmask16 mask = (__mmask16)((1u << tail) - 1);
          __m512 r[16];
          for (int j = 0; j < 16; j++)
            r[j] = j < tail ? _mm512_loadu_ps(on + (p0 + j) * kp + k0) : _mm512_setzero_ps();
          transpose16(r);
          const int lanes = block_lanes(out_channels, k0 / 16);
          for (int k = 0; k < lanes; k++) {
            float *dst = yn + (long)(k0 + k) * in_pixels + p0;
            __m512 value = r[k];
            if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, dst));
            _mm512_mask_storeu_ps(dst, mask, value);
          }
        }
    }
  }
}
#endif

void winograd_convolution_forward(int kernel, const float *x, int images, int channels,
                                  int height, int width, const float *packed, int out_channels,
                                  float *y, int accumulate, float *scratch) {
#if defined(__x86_64__)
  winograd_forward_avx512(kernel, x, images, channels, height, width, packed, out_channels, y,
                          accumulate, scratch);
#else
  (void)kernel; (void)x; (void)images; (void)channels; (void)height; (void)width; (void)packed;
  (void)out_channels; (void)y; (void)accumulate; (void)scratch;
#endif
}

// Input channels a weight-gradient step takes at most: with two vectors of 16 output
// channels, 20 accumulators.
#define GRADIENT_RUN 10
// Tiles a thread's weight gradient transforms at a time (but always a whole image): one
// position's output-gradient slice of a pair of blocks (tiles x 32 floats) stays in L1
// while every run of input channels reads it.
#define GRADIENT_TILES 192

static int gradient_image_block(int height, int width, int images) {
  const int tiles_image = tiles_along(height) * tiles_along(width);
  int block = tiles_image >= GRADIENT_TILES ? 1 : GRADIENT_TILES / tiles_image;
  return block < images ? block : (images > 0 ? images : 1);
}

long winograd_convolution_weight_gradient_sums_floats(int kernel, int channels,
                                                      int out_channels) {
  return (long)positions_of(kernel) * padded_channels(channels) * padded_channels(out_channels);
}

long winograd_convolution_weight_gradient_scratch_floats(int kernel, int images, int channels,
                                                         int height, int width,
                                                         int out_channels) {
  const int block = gradient_image_block(height, width, images);
  const long cp = padded_channels(channels), kp = padded_channels(out_channels);
  // The input framed with the kernel's padding, the output gradient with one pixel.
  const long framed = (long)framed_along(height, kernel / 2) * framed_along(width, kernel / 2);
  const long gradient_framed = (long)framed_along(height, 1) * framed_along(width, 1);
  const long tiles = (long)block * tiles_along(height) * tiles_along(width);
  // Channel-last frames of the input and of the output gradient, and both transformed.
  return block * (framed * cp + gradient_framed * kp) + positions_of(kernel) * tiles * (cp + kp);
}

#if defined(__x86_64__)
// One step of the weight gradient's products for position xi: `run` input channels (the
// transformed input's lanes at v, tile t's `v_tile` floats further) by one or two blocks of
// 16 output channels (the transformed output gradient at m, tile t's `m_tile` further; the
// pair's second block 16 floats on), summed over `tiles` tiles, then written (`first`) or
// added to `sums` (the run's first channel's row of kp floats, the next channels' rows kp
// floats apart).
__attribute__((target("avx512f"), always_inline)) static inline void gradient_products(
    const int run, const float *v, long v_tile, const float *m, long m_tile, int tiles,
    int pair, float *sums, int kp, int first) {
  __m512 a0[GRADIENT_RUN], a1[GRADIENT_RUN];
  for (int i = 0; i < run; i++) a0[i] = a1[i] = _mm512_setzero_ps();
  for (int t = 0; t < tiles; t++) {
    const __m512 d0 = _mm512_loadu_ps(m);
    const __m512 d1 = pair ? _mm512_loadu_ps(m + 16) : d0;
    for (int i = 0; i < run; i++) {
      const __m512 s = _mm512_set1_ps(v[i]);
      a0[i] = _mm512_fmadd_ps(d0, s, a0[i]);
      a1[i] = _mm512_fmadd_ps(d1, s, a1[i]);
    }
    v += v_tile;
    m += m_tile;
  }
  for (int i = 0; i < run; i++) {
    float *row = sums + (long)i * kp;
    if (first) {
      _mm512_storeu_ps(row, a0[i]);
      if (pair) _mm512_storeu_ps(row + 16, a1[i]);
    } else {
      _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), a0[i]));
      if (pair) _mm512_storeu_ps(row + 16, _mm512_add_ps(_mm512_loadu_ps(row + 16), a1[i]));
    }
  }
}

__attribute__((target("avx512f"))) static void winograd_weight_gradient_avx512(
    int kernel, const float *x, const float *dz, int images, int channels, int height,
    int width, int out_channels, float *sums, float *scratch) {
  const int tiles_w = tiles_along(width), tiles_image = tiles_along(height) * tiles_w;
  const int pad = kernel / 2, positions = positions_of(kernel);
  const long input_framed = (long)framed_along(height, pad) * framed_along(width, pad);
  const int framed_w = framed_along(width, 1);
  const long framed = (long)framed_along(height, 1) * framed_w, in_pixels = (long)height * width;
  const int cp = padded_channels(channels), kp = padded_channels(out_channels);
  const int blocks = (out_channels + 15) / 16;
  const int most = gradient_image_block(height, width, images);
  const int image_blocks = (images + most - 1) / most;
  const int per_block = (images + image_blocks - 1) / image_blocks;
  const long tiles = (long)per_block * tiles_image;
  // Both transformed position by position: position xi's slice is every tile's channels.
  float *frames = scratch, *gradient_frames = frames + per_block * input_framed * cp;
  float *v = gradient_frames + per_block * framed * kp, *m = v + positions * tiles * cp;
  // The frames' borders stay zero: the output gradient's border stands for the pixels past
  // an odd plane's edge, which have none.
  memset(frames, 0, sizeof(float) * (size_t)(per_block * (input_framed * cp + framed * kp)));
  const int runs = (channels + GRADIENT_RUN - 1) / GRADIENT_RUN;
  const int run = (channels + runs - 1) / runs;
  for (int n0 = 0; n0 < images; n0 += per_block) {
    const int count_images = images - n0 < per_block ? images - n0 : per_block;
    const int entries = count_images * tiles_image;
    frame_channel_last(x + (long)n0 * channels * in_pixels, count_images, channels, height,
                       width, pad, cp, frames);
    transform_input(kernel, frames, entries, height, width, cp, v, cp, tiles * cp);
    frame_channel_last(dz + (long)n0 * out_channels * in_pixels, count_images, out_channels,
                       height, width, 1, kp, gradient_frames);
    // The output gradient's transform A dY A^T of each tile's 2x2 pixels (those past the
    // plane zero), 16 channels to a vector.
    for (int e = 0; e < entries; e++) {
      const int mi = e / tiles_image, t = e % tiles_image;
      const int ty = t / tiles_w, tx = t % tiles_w;
      const float *pixel =
          gradient_frames + mi * framed * kp + ((long)(2 * ty + 1) * framed_w + 2 * tx + 1) * kp;
      float *me = m + (long)e * kp;
      for (int k0 = 0; k0 < kp; k0 += 16) {
        const __m512 a = _mm512_loadu_ps(pixel + k0), b = _mm512_loadu_ps(pixel + kp + k0);
        const __m512 c = _mm512_loadu_ps(pixel + (long)framed_w * kp + k0);
        const __m512 d = _mm512_loadu_ps(pixel + (long)(framed_w + 1) * kp + k0);
        // Rows of A dY: (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); each row (p, q)
        // then becomes (p, p + q, p - q, -q).
        const __m512 zero = _mm512_setzero_ps();
        if (kernel == 5) {
          // A = A^T's transpose, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1]: rows of A dY are
          // (a, b) + k (c, d) for k = 0, 1, -1, 2, -2, then (c, d); each row (p, q) then
          // becomes (p, p + q, p - q, p + 2q, p - 2q, q).
          const __m512 two = _mm512_set1_ps(2);
          const __m512 c2 = _mm512_mul_ps(two, c), d2 = _mm512_mul_ps(two, d);
          __m512 rows[6][2] = {{a, b},
                               {_mm512_add_ps(a, c), _mm512_add_ps(b, d)},
                               {_mm512_sub_ps(a, c), _mm512_sub_ps(b, d)},
                               {_mm512_add_ps(a, c2), _mm512_add_ps(b, d2)},
                               {_mm512_sub_ps(a, c2), _mm512_sub_ps(b, d2)},
                               {c, d}};
          for (int i = 0; i < 6; i++) {
            float *mi_row = me + (long)(6 * i) * tiles * kp + k0;
            const __m512 p = rows[i][0], q = rows[i][1], q2 = _mm512_mul_ps(two, q);
            _mm512_storeu_ps(mi_row, p);
            _mm512_storeu_ps(mi_row + tiles * kp, _mm512_add_ps(p, q));
            _mm512_storeu_ps(mi_row + 2 * tiles * kp, _mm512_sub_ps(p, q));
            _mm512_storeu_ps(mi_row + 3 * tiles * kp, _mm512_add_ps(p, q2));
            _mm512_storeu_ps(mi_row + 4 * tiles * kp, _mm512_sub_ps(p, q2));
            _mm512_storeu_ps(mi_row + 5 * tiles * kp, q);
          }
          continue;
        }
        __m512 rows[4][2] = {{a, b},
                             {_mm512_add_ps(a, c), _mm512_add_ps(b, d)},
                             {_mm512_sub_ps(a, c), _mm512_sub_ps(b, d)},
                             {_mm512_sub_ps(zero, c), _mm512_sub_ps(zero, d)}};
        for (int i = 0; i < 4; i++) {
          float *mi_row = me + (long)(4 * i) * tiles * kp + k0;
          const __m512 p = rows[i][0], q = rows[i][1];
          _mm512_storeu_ps(mi_row, p);
          _mm512_storeu_ps(mi_row + tiles * kp, _mm512_add_ps(p, q));
          _mm512_storeu_ps(mi_row + 2 * tiles * kp, _mm512_sub_ps(p, q));
          _mm512_storeu_ps(mi_row + 3 * tiles * kp, _mm512_sub_ps(zero, q));
        }
      }
    }
    // sums[xi][c][k] += the products of position xi summed over the block's tiles, a
    // position's pair of output-gradient blocks read from L1 by every run of channels.
    for (int xi = 0; xi < positions; xi++)
      for (int b = 0; b < blocks; b += 2) {
        const int pair = b + 1 < blocks;
        const float *mb = m + (long)xi * tiles * kp + b * 16;
        for (int c0 = 0; c0 < channels; c0 += run) {
          const int count = channels - c0 < run ? channels - c0 : run;
          const float *vc = v + (long)xi * tiles * cp + c0;
          float *row = sums + ((long)xi * cp + c0) * kp + b * 16;
#define GRADIENT_PRODUCTS(R)                                                              \
  case R:                                                                                 \
    gradient_products(R, vc, cp, mb, kp, entries, pair, row, kp, n0 == 0);               \
    break;
          switch (count) {
            GRADIENT_PRODUCTS(1) GRADIENT_PRODUCTS(2) GRADIENT_PRODUCTS(3)
            GRADIENT_PRODUCTS(4) GRADIENT_PRODUCTS(5) GRADIENT_PRODUCTS(6)
            GRADIENT_PRODUCTS(7) GRADIENT_PRODUCTS(8) GRADIENT_PRODUCTS(9)
            GRADIENT_PRODUCTS(10)
          }
#undef GRADIENT_PRODUCTS
        }
      }
  }
}
#endif

void winograd_convolution_weight_gradient(int kernel, const float *x, const float *dz,
                                          int images, int channels, int height, int width,
                                          int out_channels, float *sums, float *scratch) {
#if defined(__x86_64__)
  winograd_weight_gradient_avx512(kernel, x, dz, images, channels, height, width, out_channels,
                                  sums, scratch);
#else
  (void)kernel; (void)x; (void)dz; (void)images; (void)channels; (void)height; (void)width;
  (void)out_channels; (void)sums; (void)scratch;
#endif
}

#if defined(__x86_64__)
// `winograd_convolution_add_weight_gradient` for one kernel size, inlined at each call with
// `kernel` constant.
__attribute__((target("avx512f"), always_inline)) static inline void add_weight_gradient_blocks(
    const int kernel, const float *sums, int parts, long part_floats, int channels,
    int out_channels, int k_begin, int k_end, float *dw) {
  const long cp = padded_channels(channels), kp = padded_channels(out_channels);
  const int side = kernel + 1, positions = side * side, taps = kernel * kernel;
  // 16 output channels of one input channel at a time, in vectors: k_begin is a multiple of
  // 16 but for the caller's last range.
  for (int k0 = k_begin; k0 < k_end; k0 += 16) {
    const int lanes = k_end - k0 < 16 ? k_end - k0 : 16;
    for (int c = 0; c < channels; c++) {
      // The parts' sums in order, then G^T u G.
      __m512 u[6][6];
      for (int xi = 0; xi < positions; xi++) {
        const float *at = sums + ((long)xi * cp + c) * kp + k0;
        __m512 total = _mm512_loadu_ps(at);
        for (int part = 1; part < parts; part++)
          total = _mm512_add_ps(total, _mm512_loadu_ps(at + part * part_floats));
        u[xi / side][xi % side] = total;
      }
      float out[25][16];
      if (kernel == 5) {
        // t = G^T u (5x6), out = t G (5x5), over G's nonzero coefficients.
        __m512 t[5][6];
        for (int r = 0; r < 5; r++)
          for (int j = 0; j < 6; j++) {
            __m512 sum = _mm512_setzero_ps();
            for (int i = 0; i < 6; i++)
              if (G5[i][r] != 0) sum = _mm512_fmadd_ps(_mm512_set1_ps(G5[i][r]), u[i][j], sum);
            t[r][j] = sum;
          }
        for (int r = 0; r < 5; r++)
          for (int s = 0; s < 5; s++) {
            __m512 sum = _mm512_setzero_ps();
            for (int j = 0; j < 6; j++)
              if (G5[j][s] != 0) sum = _mm512_fmadd_ps(t[r][j], _mm512_set1_ps(G5[j][s]), sum);
            _mm512_storeu_ps(out[r * 5 + s], sum);
          }
      } else {
        // Rows u0 + (u1 + u2) / 2, (u1 - u2) / 2, (u1 + u2) / 2 + u3, then the same on the
        // columns.
        __m512 t[3][4];
        const __m512 half = _mm512_set1_ps(0.5f);
        for (int j = 0; j < 4; j++) {
          const __m512 plus = _mm512_mul_ps(half, _mm512_add_ps(u[1][j], u[2][j]));
          t[0][j] = _mm512_add_ps(u[0][j], plus);
          t[1][j] = _mm512_mul_ps(half, _mm512_sub_ps(u[1][j], u[2][j]));
          t[2][j] = _mm512_add_ps(plus, u[3][j]);
        }
        for (int r = 0; r < 3; r++) {
          const __m512 plus = _mm512_mul_ps(half, _mm512_add_ps(t[r][1], t[r][2]));
          _mm512_storeu_ps(out[r * 3 + 0], _mm512_add_ps(t[r][0], plus));
          _mm512_storeu_ps(out[r * 3 + 1], _mm512_mul_ps(half, _mm512_sub_ps(t[r][1], t[r][2])));
          _mm512_storeu_ps(out[r * 3 + 2], _mm512_add_ps(plus, t[r][3]));
        }
      }
      for (int lane = 0; lane < lanes; lane++) {
        float *d = dw + ((long)(k0 + lane) * channels + c) * taps;
        for (int tap = 0; tap < taps; tap++) d[tap] += out[tap][lane];
      }
    }
  }
}

__attribute__((target("avx512f"))) static void add_weight_gradient_avx512(
    int kernel, const float *sums, int parts, long part_floats, int channels, int out_channels,
    int k_begin, int k_end, float *dw) {
  if (kernel == 5)
    add_weight_gradient_blocks(5, sums, parts, part_floats, channels, out_channels, k_begin,
                               k_end, dw);
  else
    add_weight_gradient_blocks(3, sums, parts, part_floats, channels, out_channels, k_begin,
                               k_end, dw);
}
#endif

void winograd_convolution_add_weight_gradient(int kernel, const float *sums, int parts,
                                              long part_floats, int channels, int out_channels,
                                              int k_begin, int k_end, float *dw) {
#if defined(__x86_64__)
  add_weight_gradient_avx512(kernel, sums, parts, part_floats, channels, out_channels, k_begin,
                             k_end, dw);
#else
  (void)kernel; (void)sums; (void)parts; (void)part_floats; (void)channels; (void)out_channels;
  (void)k_begin; (void)k_end; (void)dw;
#endif
}
