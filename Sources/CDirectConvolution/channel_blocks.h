#ifndef CHANNEL_BLOCKS_H
#define CHANNEL_BLOCKS_H

// Channels in blocks of 16, one vector each: what the direct and Winograd kernels share.

// Channels of block `b` of `channels` (16 but in the last block).
static inline int block_lanes(int channels, int b) {
  return channels - b * 16 < 16 ? channels - b * 16 : 16;
}

// `channels` rounded up to whole blocks.
static inline int padded_channels(int channels) { return (channels + 15) / 16 * 16; }

#endif
