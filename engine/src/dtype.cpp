#include "engine/dtype.h"
#include "kernel_table.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "kernels/table.h"

namespace engine {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
    case DType::U8: return "u8";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U8})
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

std::string_view safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
  }
  return "?";
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U8})
    if (safetensors_dtype_name(t) == name) return t;
  return std::nullopt;
}

void convert_floats(const void* src, DType src_type, void* dst, DType dst_type, size_t n) {
  check(is_floating(src_type) && is_floating(dst_type), "cannot convert {} to {}", dtype_name(src_type),
        dtype_name(dst_type));
  const kernels::KernelTable& k = kernel_table();
  if (src_type == dst_type) {
    std::memcpy(dst, src, n * dtype_size(src_type));
    return;
  }
  const auto* s16 = static_cast<const uint16_t*>(src);
  auto* d16 = static_cast<uint16_t*>(dst);
  if (src_type == DType::F32) {
    const auto* s = static_cast<const float*>(src);
    if (dst_type == DType::F16) k.convert_f32_to_f16(s, d16, n);
    else k.convert_f32_to_bf16(s, d16, n);
    return;
  }
  if (dst_type == DType::F32) {
    auto* d = static_cast<float*>(dst);
    if (src_type == DType::F16) k.convert_f16_to_f32(s16, d, n);
    else k.convert_bf16_to_f32(s16, d, n);
    return;
  }
  // f16 <-> bf16: through f32 in blocks (each step is exact or rounds once).
  constexpr size_t kBlock = 1024;
  float buf[kBlock];
  for (size_t i = 0; i < n; i += kBlock) {
    const size_t m = std::min(kBlock, n - i);
    if (src_type == DType::F16) k.convert_f16_to_f32(s16 + i, buf, m);
    else k.convert_bf16_to_f32(s16 + i, buf, m);
    if (dst_type == DType::F16) k.convert_f32_to_f16(buf, d16 + i, m);
    else k.convert_f32_to_bf16(buf, d16 + i, m);
  }
}

}  // namespace engine
