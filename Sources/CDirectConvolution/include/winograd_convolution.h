#ifndef WINOGRAD_CONVOLUTION_H
#define WINOGRAD_CONVOLUTION_H

/// Winograd F(2x2, 3x3) and F(2x2, 5x5) for 3x3 and 5x5 convolutions of stride 1 and
/// padding 1 and 2 (output planes the size of the input's), with AVX-512F: each 2x2 block of
/// output pixels ("tile") costs 16 or 36 multiplies per input and output channel instead of
/// direct convolution's 36 or 100. The transforms run with 16 channels to a vector.
/// Available where `direct_convolution_available()` is. `kernel` (3 or 5) picks the size.

/// Floats of a packed Winograd kernel: ceil(out_channels / 16) * 16 * (kernel + 1)^2 *
/// in_channels.
long winograd_convolution_packed_floats(int kernel, int out_channels, int in_channels);

/// Packs the transformed kernel `G w G^T` of `w` ([out][in][kernel][kernel]) as
/// [out / 16][(kernel + 1)^2 (position in the transform)][in][16] (lanes past `out` zero). With
/// `turned`, packs the kernel of the input gradient instead (`w` turned half a turn, its two
/// channel axes swapped), whose output channels are `w`'s input channels. Packs the blocks
/// of 16 output channels [block_begin, block_end) only, so that threads can share the work.
void winograd_convolution_pack(int kernel, const float *w, int out_channels, int in_channels,
                               int turned, int block_begin, int block_end, float *packed);

/// Floats of `winograd_convolution_forward`'s scratch for calls of at most `images` images.
long winograd_convolution_scratch_floats(int kernel, int images, int channels, int height,
                                         int width, int out_channels);

/// The `kernel`-sized convolution (stride 1, padding kernel / 2) of `images` consecutive images `x`
/// ([images][channels][height][width]) with a packed kernel of `out_channels` outputs,
/// written to (or, with `accumulate`, added into) `y` ([images][out_channels][height][width]).
/// Each tile's transformed products are summed over the input channels in order, then
/// transformed back. `scratch` holds `winograd_convolution_scratch_floats` floats.
void winograd_convolution_forward(int kernel, const float *x, int images, int channels,
                                  int height, int width, const float *packed, int out_channels,
                                  float *y, int accumulate, float *scratch);

/// Floats of one part of the weight gradient's sums (`winograd_convolution_weight_gradient`):
/// (kernel + 1)^2 * ceil(channels / 16) * 16 * ceil(out_channels / 16) * 16.
long winograd_convolution_weight_gradient_sums_floats(int kernel, int channels,
                                                      int out_channels);

/// Floats of `winograd_convolution_weight_gradient`'s scratch for calls of at most `images`
/// images.
long winograd_convolution_weight_gradient_scratch_floats(int kernel, int images, int channels,
                                                         int height, int width,
                                                         int out_channels);

/// The weight gradient of the convolution above, in the Winograd domain, for `images`
/// images `x` ([images][channels][height][width]) and their output gradient `dz`
/// ([images][out_channels][height][width]): `sums` (overwritten; [(kernel + 1)^2][channels]
/// [out_channels], both padded to whole vectors) is, for each position of the transforms, the
/// transformed input times the transformed output gradient (`A dz A^T`), summed over blocks
/// of images, then over the block's tiles in order. Threads each take some of the images
/// into a part of their own; `winograd_convolution_add_weight_gradient` adds them up.
void winograd_convolution_weight_gradient(int kernel, const float *x, const float *dz,
                                          int images, int channels, int height, int width,
                                          int out_channels, float *sums, float *scratch);

/// Adds to `dw` ([out][in][kernel][kernel]), for output channels [k_begin, k_end), `G^T s G` of the sum
/// `s` of `parts` parts of sums, `part_floats` apart, taken in order.
void winograd_convolution_add_weight_gradient(int kernel, const float *sums, int parts,
                                              long part_floats, int channels, int out_channels,
                                              int k_begin, int k_end, float *dw);

#endif
