#include "torch_dtype.h"

namespace weights_tools {
namespace {
struct Row {
  TorchDType type;
  const char* storage;
  const char* name;
  size_t size;
};
constexpr Row kRows[] = {
    {TorchDType::F32, "FloatStorage", "float32", 4},   {TorchDType::F16, "HalfStorage", "float16", 2},
    {TorchDType::BF16, "BFloat16Storage", "bfloat16", 2}, {TorchDType::F64, "DoubleStorage", "float64", 8},
    {TorchDType::I64, "LongStorage", "int64", 8},      {TorchDType::I32, "IntStorage", "int32", 4},
    {TorchDType::I16, "ShortStorage", "int16", 2},     {TorchDType::I8, "CharStorage", "int8", 1},
    {TorchDType::U8, "ByteStorage", "uint8", 1},       {TorchDType::Bool, "BoolStorage", "bool", 1},
};
}  // namespace

size_t torch_dtype_size(TorchDType t) {
  for (const Row& r : kRows)
    if (r.type == t) return r.size;
  return 0;
}

std::string_view torch_dtype_name(TorchDType t) {
  for (const Row& r : kRows)
    if (r.type == t) return r.name;
  return "?";
}

std::optional<TorchDType> torch_dtype_from_storage(std::string_view class_name) {
  for (const Row& r : kRows)
    if (class_name == r.storage) return r.type;
  return std::nullopt;
}

std::optional<engine::DType> to_engine_dtype(TorchDType t) {
  switch (t) {
    case TorchDType::F32: return engine::DType::F32;
    case TorchDType::F16: return engine::DType::F16;
    case TorchDType::BF16: return engine::DType::BF16;
    default: return std::nullopt;
  }
}

}  // namespace weights_tools
