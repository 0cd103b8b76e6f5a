#ifndef DIRECT_CONVOLUTION_H
#define DIRECT_CONVOLUTION_H

/// Whether this CPU runs `direct_convolution_forward` (AVX-512F); where it does not, the
/// engine keeps its unfolding and GEMM.
int direct_convolution_available(void);

/// Floats of `direct_convolution_forward`'s per-thread scratch for calls of at most `images`
/// images.
long direct_convolution_scratch_floats(int images, int channels, int height, int width,
                                       int pad_h, int pad_w);

/// Floats of a packed kernel: ceil(out_channels / 16) * 16 * in_channels * kernel taps.
long direct_convolution_packed_floats(int out_channels, int in_channels, int taps);

/// Packs `w` ([out][in][kh][kw]) as [out / 16][kh * kw][in][16] (lanes past `out` zero): a
/// tap's weights for 16 output channels are one vector. With `turned`, packs the kernel of
/// the input gradient instead: `w` turned half a turn, its two channel axes swapped, so that
/// the output channels of the packed kernel are `w`'s input channels.
void direct_convolution_pack(const float *w, int out_channels, int in_channels, int kh, int kw,
                             int turned, float *packed);

/// The limits of a call: at most this many output rows, columns and pixels, and kernel taps.
#define DIRECT_CONVOLUTION_MAX_OUT_PIXELS 256
#define DIRECT_CONVOLUTION_MAX_TAPS 256

/// A convolution of `images` consecutive images `x` ([images][channels][height][width])
/// with a packed kernel of `out_channels` outputs (kh x kw, stride stride_h, stride_w,
/// padding pad_h, pad_w), written to (or, with `accumulate`, added into) `y`
/// ([images][out_channels][out_h][out_w]). Each output pixel's 16-channel vectors are summed
/// over blocks of 32 input channels, within a block over the kernel taps that reach into the
/// image (taps on padding alone are skipped), and within a tap over the block's channels, in
/// order. `scratch` holds
/// `direct_convolution_scratch_floats` floats.
void direct_convolution_forward(const float *x, int images, int channels, int height, int width,
                                int kh, int kw, int stride_h, int stride_w, int pad_h, int pad_w,
                                const float *packed, int out_channels, float *y, int accumulate,
                                float *scratch);

/// Floats of `direct_convolution_transpose_gradient`'s output: images * out_pixels *
/// ceil(out_channels / 16) * 16.
long direct_convolution_transposed_gradient_floats(int images, int out_channels, long out_pixels);

/// `dz_t[n][p][o] = dz[n][o][p]` for `images` images, each row of `dz_t` padded with zeros
/// to a whole number of 16-float vectors.
void direct_convolution_transpose_gradient(const float *dz, int images, int out_channels,
                                           long out_pixels, float *dz_t);

/// Floats of `direct_convolution_weight_gradient`'s per-thread scratch.
long direct_convolution_weight_gradient_scratch_floats(int images, int height, int width, int kh,
                                                       int kw, int pad_h, int pad_w);

/// Adds into `dw` ([out][in][kh][kw]) the weight gradient of a stride-1 convolution of
/// `images` images `x` for the output gradient `dz_t` (`direct_convolution_transpose_gradient`'s
/// layout), for the input channels [c_begin, c_end) only: threads split the input channels
/// and write disjoint parts of `dw`. Each weight's sum runs over chunks of images (about
/// 256 KiB of `dz_t` each), then within a chunk over the classes of output pixels that share
/// their live taps, then over the chunk's images and the class's pixels, in order.
void direct_convolution_weight_gradient(const float *x, int images, int channels, int height,
                                        int width, int kh, int kw, int pad_h, int pad_w,
                                        const float *dz_t, int out_channels, int c_begin,
                                        int c_end, float *dw, float *scratch);

#endif
