// Device-side helpers shared by the .cu files of kernels/cuda (private).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace kernels::cuda::detail {

constexpr unsigned kFullMask = 0xffffffffu;

// Sum / max over the 32 lanes of a warp; every lane gets the result.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
// The same over aligned groups of `width` lanes (a power of two <= 32).
__device__ __forceinline__ float group_sum(float v, int width) {
  for (int o = width / 2; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ float group_max(float v, int width) {
  for (int o = width / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// torch.nn.GELU() (approximate='none'), erff accurate to 2 ulp (no fast math).
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }

// Blocks for n items of `per_block`, capped for grid-stride loops (gridDim.x <= 2^31 - 1).
inline unsigned grid_for(int64_t n, int per_block, int64_t cap = 65535 * 16) {
  int64_t b = (n + per_block - 1) / per_block;
  if (b < 1) b = 1;
  return static_cast<unsigned>(b < cap ? b : cap);
}

}  // namespace kernels::cuda::detail
