// f32 -> f16 / bf16 on the device (kernels/cuda/eltwise.h): the integer
// rounding of kernels/convert.h (round to nearest even; torch's NaN patterns:
// f16 NaN -> sign | 0x7E00, bf16 NaN -> 0x7FC0), so device and host conversions
// agree bit for bit (CUDA's __float2half_rn writes other NaN bits).
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/eltwise.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

__device__ __forceinline__ uint16_t to_f16(float value) {
  const uint32_t x = __float_as_uint(value);
  const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (ax >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520: inf
  if (ax < 0x38800000u) {
    // Subnormal half: adding 0.5f brings the value to the scale of the half
    // subnormal step (2^-24 = ulp(0.5f)); the add rounds to nearest even.
    const float shifted = __fadd_rn(__uint_as_float(ax), 0.5f);
    return static_cast<uint16_t>(sign | (__float_as_uint(shifted) - 0x3F000000u));
  }
  const uint32_t lsb = (ax >> 13) & 1u;  // normal: re-bias 127 -> 15, round the 13 dropped bits
  return static_cast<uint16_t>(sign | ((ax + 0xC8000FFFu + lsb) >> 13));
}

__device__ __forceinline__ uint16_t to_bf16(float value) {
  const uint32_t x = __float_as_uint(value);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0u;
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

__global__ void to_f16_kernel(const float* src, uint16_t* dst, int64_t n) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = to_f16(src[i]);
}

__global__ void to_bf16_kernel(const float* src, uint16_t* dst, int64_t n) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = to_bf16(src[i]);
}

void check_args(const char* op, const float* src, const uint16_t* dst, int64_t n) {
  detail::require(n >= 0 && (n == 0 || (src && dst)), op, "n " + std::to_string(n) + " with a null pointer or negative");
}

}  // namespace

void convert_f32_to_f16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream) {
  check_args("convert_f32_to_f16", src, dst, n);
  if (n == 0) return;
  to_f16_kernel<<<detail::grid_for(n, 256), 256, 0, stream>>>(src, dst, n);
  detail::check_launch("convert_f32_to_f16");
}

void convert_f32_to_bf16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream) {
  check_args("convert_f32_to_bf16", src, dst, n);
  if (n == 0) return;
  to_bf16_kernel<<<detail::grid_for(n, 256), 256, 0, stream>>>(src, dst, n);
  detail::check_launch("convert_f32_to_bf16");
}

}  // namespace kernels::cuda
