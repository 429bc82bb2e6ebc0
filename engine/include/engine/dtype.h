// Element types of engine tensors and exact conversions between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "kernels/convert.h"

namespace engine {

enum class DType : uint8_t { F32, F16, BF16, I32, U8 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::U8: return 1;
  }
  return 0;
}

// Lower-case names used on the command line and in messages: "f32", "bf16", ...
std::string_view dtype_name(DType t);
std::optional<DType> parse_dtype(std::string_view name);

// Names used in safetensors headers: "F32", "F16", "BF16", "I32", "U8".
std::string_view safetensors_dtype_name(DType t);
std::optional<DType> dtype_from_safetensors(std::string_view name);

constexpr bool is_floating(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

// Scalar conversions, round-to-nearest-even, bit-exact with torch's
// Tensor.half() / Tensor.bfloat16() (see kernels/convert.h for the details).
inline uint16_t f32_to_f16(float x) { return kernels::ref::f32_to_f16(x); }
inline float f16_to_f32(uint16_t h) { return kernels::ref::f16_to_f32(h); }
inline uint16_t f32_to_bf16(float x) { return kernels::ref::f32_to_bf16(x); }
inline float bf16_to_f32(uint16_t h) { return kernels::ref::bf16_to_f32(h); }

// Converts `n` contiguous elements between floating dtypes (any pair of
// f32/f16/bf16; same-type is a copy). Uses the SIMD kernels where available.
void convert_floats(const void* src, DType src_type, void* dst, DType dst_type, size_t n);

}  // namespace engine
