// The mask decoder's output upscaling and mask product, fused, on the device:
// the maths of kernels/mask_upscale.h,
//
//   upscaled = GELU(ConvT2(GELU(LayerNorm2d(ConvT1(src)))))   ConvT: k = 2, stride 2
//   masks    = hyper_in @ upscaled.view(C2, 4G * 4G)
//
// A block takes 8 neighbouring pixels of one input row: ConvT1 (all 4 output
// sub-pixels, 4*C1 channels) from the pixels' tokens in shared memory,
// LayerNorm2d + GELU per ConvT1 output pixel (a warp per pixel), ConvT2 + GELU
// for the 16 final pixels under each input pixel, then the hypernetwork
// product; only the [M, 4G, 4G] masks reach global memory.
//
// The weights are stored transposed with respect to the CPU contract (columns
// = output channels) so that a warp reads 32 consecutive output channels:
// upload them once in this layout.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace kernels::cuda {

struct MaskUpscaleArgs {
  int g = 0;                  // input grid side G (64 in SAM)
  int d = 0, c1 = 0, c2 = 0;  // channels D -> C1 -> C2
  const float* x = nullptr;   // [G*G, D] image tokens (row y*G + x), row stride ldx
  int64_t ldx = 0;
  const float* w1t = nullptr;  // [D, 4*C1]: column (2a+b)*C1 + co = ConvT1 weight[ci, co, a, b]
  const float* b1 = nullptr;   // [C1] ConvT1 bias (the same for the 4 sub-pixels)
  const float* ln_weight = nullptr;  // LayerNorm2d [C1]
  const float* ln_bias = nullptr;
  float ln_eps = 1e-6f;
  const float* w2t = nullptr;  // [C1, 4*C2]: column (2a+b)*C2 + co = ConvT2 weight[ci, co, a, b]
  const float* b2 = nullptr;   // [C2]
  const float* hyper = nullptr;  // [M, C2] hypernetwork outputs, row stride ldh
  int64_t ldh = 0;
  int m = 0;
  float* out = nullptr;  // [M, 4G, 4G] masks, plane stride out_plane (>= 16 G^2), row stride 4G
  int64_t out_plane = 0;
};

// Throws std::invalid_argument on bad sizes (or channel counts whose tiles do
// not fit in shared memory), std::runtime_error if the launch fails.
void mask_upscale(const MaskUpscaleArgs& a, cudaStream_t stream);

}  // namespace kernels::cuda
