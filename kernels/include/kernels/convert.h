// Conversions between f32 and the 16-bit float formats.
//
// Rounding is round-to-nearest-even, bit-exact with torch on the CPU:
//  * f32 -> f16 follows IEEE 754 binary16 (subnormals kept, overflow to inf,
//    NaN -> quiet NaN 0x7E00 with the sign kept, as c10::Half does);
//  * f32 -> bf16 adds the rounding bias 0x7FFF + lsb and truncates; NaN becomes
//    0x7FC0 (sign dropped), as c10::BFloat16's scalar round_to_nearest_even
//    does (torch's vectorised CPU path writes 0xFFFF instead: torch itself is
//    not consistent on NaN bits, so only "NaN stays NaN" is promised there);
//  * f16 -> f32 is exact; a signalling NaN comes back quiet (payload kept), as
//    vcvtph2ps and torch do.
// Scalar versions live here (they are the reference); bulk versions go through
// the kernel table (kernels/table.h).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "kernels/variant.h"

namespace kernels::ref {

inline uint16_t f32_to_f16(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (ax >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520: inf
  if (ax < 0x38800000u) {
    // Below the smallest normal half (2^-14): the result is a subnormal (or the
    // smallest normal after rounding up). Adding 0.5f puts the value's bits at
    // the scale of the half subnormal step (2^-24 = ulp(0.5f)), and the FPU
    // rounds to nearest even for us.
    const float shifted = std::bit_cast<float>(ax) + 0.5f;
    return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(shifted) - 0x3F000000u));
  }
  // Normal: re-bias the exponent (127 -> 15) and round the 13 dropped bits.
  const uint32_t lsb = (ax >> 13) & 1u;
  const uint32_t rounded = ax + 0xC8000FFFu + lsb;
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) {  // inf, or NaN: payload kept, quiet bit set (as F16C hardware and torch do)
    return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0u));
  }
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal half: mantissa * 2^-24, exact in f32.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline uint16_t f32_to_bf16(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0u;
  const uint32_t bias = 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + bias) >> 16);
}

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

// Bulk reference loops: the oracle for the SIMD versions.
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n);
void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n);

}  // namespace kernels::ref

namespace kernels {

// The convert family's slots in the kernel table (kernels/table.h); its
// variants: kernels/cpu/convert_variants.cpp.
struct ConvertKernels {
  static constexpr const char* family = "convert";
  static VariantList<ConvertKernels> variants();  // best first
  void (*convert_f32_to_f16)(const float* src, uint16_t* dst, size_t n) = nullptr;
  void (*convert_f16_to_f32)(const uint16_t* src, float* dst, size_t n) = nullptr;
  void (*convert_f32_to_bf16)(const float* src, uint16_t* dst, size_t n) = nullptr;
  void (*convert_bf16_to_f32)(const uint16_t* src, float* dst, size_t n) = nullptr;
};

}  // namespace kernels
