#include "winograd_convolution.h"

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

static inline int padded_channels(int channels) { return (channels + 15) / 16 * 16; }

static inline int block_lanes(int out_channels, int b) {
  return out_channels - b * 16 < 16 ? out_channels - b * 16 : 16;
}

long winograd_convolution_packed_floats(int out_channels, int in_channels) {
  return (long)((out_channels + 15) / 16) * 16 * 16 * in_channels;
}

void winograd_convolution_pack(const float *w, int out_channels, int in_channels, int turned,
                               int block_begin, int block_end, float *packed) {
  const int outs = turned ? in_channels : out_channels, ins = turned ? out_channels : in_channels;
  for (int b = block_begin; b < block_end; b++)
    for (int i = 0; i < ins; i++) {
      // The block's 16 output channels' transforms of input channel i, lane by lane, then
      // written a position (16 lanes, one cache line) at a time.
      float u[16][16];
      for (int lane = 0; lane < 16; lane++) {
        const int o = b * 16 + lane;
        if (o >= outs) {
          for (int xi = 0; xi < 16; xi++) u[xi][lane] = 0;
          continue;
        }
        float g[3][3];
        for (int r = 0; r < 3; r++)
          for (int s = 0; s < 3; s++)
            // turned[o][i][r][s] = w[i][o][2 - r][2 - s].
            g[r][s] = turned ? w[((long)i * in_channels + o) * 9 + (2 - r) * 3 + (2 - s)]
                             : w[((long)o * in_channels + i) * 9 + r * 3 + s];
        // G g: rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2; then the same on the
        // columns.
        float t[4][3];
        for (int s = 0; s < 3; s++) {
          t[0][s] = g[0][s];
          t[1][s] = 0.5f * (g[0][s] + g[1][s] + g[2][s]);
          t[2][s] = 0.5f * (g[0][s] - g[1][s] + g[2][s]);
          t[3][s] = g[2][s];
        }
        for (int r = 0; r < 4; r++) {
          u[r * 4 + 0][lane] = t[r][0];
          u[r * 4 + 1][lane] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
          u[r * 4 + 2][lane] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
          u[r * 4 + 3][lane] = t[r][2];
        }
      }
      for (int xi = 0; xi < 16; xi++)
        memcpy(packed + (((long)b * 16 + xi) * ins + i) * 16, u[xi], sizeof(u[xi]));
    }
}

// Tiles along an axis of `size` pixels, and the framed size (a pixel of padding before,
// and after enough for whole 4-pixel windows).
static inline int tiles_along(int size) { return (size + 1) / 2; }
static inline int framed_along(int size) { return 2 * tiles_along(size) + 2; }

// Images a block takes: their transformed input about TRANSFORMED_FLOATS.
static int image_block(int channels, int height, int width, int images) {
  const long per_image = 16L * tiles_along(height) * tiles_along(width) * padded_channels(channels);
  long block = per_image >= TRANSFORMED_FLOATS ? 1 : TRANSFORMED_FLOATS / per_image;
  return block < images ? (int)block : (images > 0 ? images : 1);
}

long winograd_convolution_scratch_floats(int images, int channels, int height, int width,
                                         int out_channels) {
  const int block = image_block(channels, height, width, images);
  const long cp = padded_channels(channels), kp = padded_channels(out_channels);
  const long tiles = (long)block * tiles_along(height) * tiles_along(width);
  const long frames = (long)block * framed_along(height) * framed_along(width) * cp;
  // Channel-last frames, transformed input (with a run's worth of spare tiles), products,
  // channel-last output.
  return frames + 16 * (tiles + MAX_RUN) * cp + 16L * MAX_RUN * 32 +
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

// One step of products: `run` consecutive tiles of the transformed input `v` (tile i's
// position xi at v + i * v_tile + xi * v_position, its channels consecutive) by one or
// two blocks of 16 output channels of the packed kernel (`u0`, the pair's second at
// `u0 + pair_offset`), summed over the channels in order, into `m`
// ([16 positions][run][2][16]).
__attribute__((target("avx512f"), always_inline)) static inline void products(
    const int run, const float *v, long v_position, long v_tile, int channels, const float *u0,
    long u_position, long pair_offset, float *m) {
  for (int xi = 0; xi < 16; xi++) {
    __m512 a0[MAX_RUN], a1[MAX_RUN];
    for (int i = 0; i < run; i++) a0[i] = a1[i] = _mm512_setzero_ps();
    const float *vx = v + xi * v_position;
    const float *w = u0 + xi * u_position;
    for (int c = 0; c < channels; c++) {
      const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + pair_offset);
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

__attribute__((target("avx512f"))) static void forward_avx512(
    const float *x, int images, int channels, int height, int width, const float *packed,
    int out_channels, float *y, int accumulate, float *scratch) {
  const int tiles_h = tiles_along(height), tiles_w = tiles_along(width);
  const int framed_h = framed_along(height), framed_w = framed_along(width);
  const int tiles_image = tiles_h * tiles_w, cp = padded_channels(channels);
  const long in_pixels = (long)height * width, framed = (long)framed_h * framed_w;
  const int blocks = (out_channels + 15) / 16;
  const int most = image_block(channels, height, width, images);
  const int image_blocks = (images + most - 1) / most;
  const int per_block = (images + image_blocks - 1) / image_blocks;
  // Transformed input tile by tile: each tile's 16 positions of cp channels one after
  // another (a few per cent faster than position-major, whose transform wrote 16 streams).
  const long v_position = cp, v_tile = 16L * cp;
  const long v_floats = 16 * ((long)per_block * tiles_image + MAX_RUN) * cp;
  const int kp = padded_channels(out_channels);
  float *frames = scratch;
  float *v = frames + per_block * framed * cp;
  float *m = v + v_floats;
  float *out = m + 16L * MAX_RUN * 32;
  const long u_position = (long)channels * 16;
  // The frames' border and the spare tiles past a block's last stay zero.
  memset(frames, 0, sizeof(float) * (size_t)(per_block * framed * cp));
  memset(v, 0, sizeof(float) * (size_t)v_floats);
  for (int n0 = 0; n0 < images; n0 += per_block) {
    const int count_images = images - n0 < per_block ? images - n0 : per_block;
    // Channel-last frames: pixel (r, q) of image m is the cp floats at
    // ((m * framed_h + r + 1) * framed_w + q + 1) * cp, filled by 16x16 transposes of 16
    // channels by 16 pixels (the planes' rows taken one after another).
    for (int mi = 0; mi < count_images; mi++) {
      const float *xn = x + (long)(n0 + mi) * channels * in_pixels;
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
            _mm512_storeu_ps(fm + ((row + 1) * framed_w + col + 1) * cp + c0, r[j]);
          }
        }
    }
    // Input transform B^T d B of every tile's 4x4 window, 16 channels to a vector.
    const int entries = count_images * tiles_image;
    for (int e = 0; e < entries; e++) {
      const int mi = e / tiles_image, t = e % tiles_image;
      const int ty = t / tiles_w, tx = t % tiles_w;
      const float *corner = frames + mi * framed * cp + ((long)2 * ty * framed_w + 2 * tx) * cp;
      float *ve = v + (long)e * v_tile;
      for (int c0 = 0; c0 < cp; c0 += 16) {
        __m512 d[4][4], r[4][4];
        for (int i = 0; i < 4; i++)
          for (int j = 0; j < 4; j++)
            d[i][j] = _mm512_loadu_ps(corner + ((long)i * framed_w + j) * cp + c0);
        for (int j = 0; j < 4; j++) {
          r[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
          r[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
          r[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
          r[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
        }
        for (int i = 0; i < 4; i++) {
          float *vi = ve + (long)(i * 4) * v_position + c0;
          _mm512_storeu_ps(vi, _mm512_sub_ps(r[i][0], r[i][2]));
          _mm512_storeu_ps(vi + v_position, _mm512_add_ps(r[i][1], r[i][2]));
          _mm512_storeu_ps(vi + 2 * v_position, _mm512_sub_ps(r[i][2], r[i][1]));
          _mm512_storeu_ps(vi + 3 * v_position, _mm512_sub_ps(r[i][1], r[i][3]));
        }
      }
    }
    // A pair of output-channel blocks at a time over every tile of the block, so that its
    // transformed weights are read from the cache for every step.
    const int runs = (entries + MAX_RUN - 1) / MAX_RUN;
    const int run = (entries + runs - 1) / runs;
    for (int b = 0; b < blocks; b += 2) {
      const int pair = b + 1 < blocks;
      const float *u0 = packed + (long)b * 16 * u_position;
      const long pair_offset = pair ? 16 * u_position : 0;
      for (int first = 0; first < entries; first += run) {
        const int count = entries - first < run ? entries - first : run;
        const float *vr = v + (long)first * v_tile;
#define PRODUCTS(R)                                                                    \
  case R:                                                                              \
    products(R, vr, v_position, v_tile, channels, u0, u_position, pair_offset, m);         \
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
          for (int half = 0; half <= pair; half++) {
            __m512 s[4][4], q[2][4];
            for (int xi = 0; xi < 16; xi++)
              s[xi / 4][xi % 4] = _mm512_loadu_ps(m + (xi * run + i) * 32 + 16 * half);
            for (int j = 0; j < 4; j++) {
              q[0][j] = _mm512_add_ps(_mm512_add_ps(s[0][j], s[1][j]), s[2][j]);
              q[1][j] = _mm512_sub_ps(_mm512_sub_ps(s[1][j], s[2][j]), s[3][j]);
            }
            // Pixel (oy + a, ox + bb) of image mi at out[(mi * pixels + pixel) * kp].
            float *oo = out + ((long)mi * in_pixels + (long)oy * width + ox) * kp + (b + half) * 16;
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

void winograd_convolution_forward(const float *x, int images, int channels, int height,
                                  int width, const float *packed, int out_channels, float *y,
                                  int accumulate, float *scratch) {
#if defined(__x86_64__)
  forward_avx512(x, images, channels, height, width, packed, out_channels, y, accumulate,
                 scratch);
#else
  (void)x; (void)images; (void)channels; (void)height; (void)width; (void)packed;
  (void)out_channels; (void)y; (void)accumulate; (void)scratch;
#endif
}
