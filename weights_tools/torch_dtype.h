// Element types a PyTorch checkpoint can name through its storage classes
// (torch.FloatStorage, torch.HalfStorage, ...).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "engine/dtype.h"

namespace weights_tools {

enum class TorchDType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

size_t torch_dtype_size(TorchDType t);
std::string_view torch_dtype_name(TorchDType t);  // "float32", "int64", ...
// From a storage class name such as "FloatStorage"; nullopt if unknown.
std::optional<TorchDType> torch_dtype_from_storage(std::string_view class_name);
// The engine dtype for floating types the converter accepts (f32/f16/bf16).
std::optional<engine::DType> to_engine_dtype(TorchDType t);

}  // namespace weights_tools
