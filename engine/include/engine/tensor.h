// Tensor: dtype + shape + strides (in elements) over a byte buffer that is
// either owned (64-byte aligned, reference counted) or borrowed (a view into an
// mmapped file or an arena). Views (reshape, permute, slice) change metadata
// only and share the owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"

namespace engine {

enum class Device : uint8_t { CPU, CUDA };

constexpr size_t kTensorAlignment = 64;

class Tensor {
 public:
  Tensor() = default;

  // New owning tensor, 64-byte aligned, contents uninitialised.
  static Tensor empty(DType dtype, const Shape& shape);
  static Tensor zeros(DType dtype, const Shape& shape);
  // Borrowed view of `data` (contiguous). `owner` (optional) is kept alive as
  // long as any view exists; without it the caller guarantees the lifetime.
  static Tensor from_blob(void* data, DType dtype, const Shape& shape,
                          std::shared_ptr<const void> owner = nullptr);
  static Tensor from_blob(void* data, DType dtype, const Shape& shape, const Shape& strides,
                          std::shared_ptr<const void> owner = nullptr);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements
  int rank() const { return shape_.rank(); }
  int64_t dim(int i) const { return shape_[normalize_dim(i)]; }
  int64_t stride(int i) const { return strides_[normalize_dim(i)]; }
  int64_t numel() const { return shape_.numel(); }
  size_t element_size() const { return dtype_size(dtype_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  bool is_contiguous() const;

  void* raw_data() const { return data_; }
  template <typename T>
  T* data() const {
    check_type<T>();
    return static_cast<T*>(data_);
  }

  // --- views (no copy) -----------------------------------------------------
  // Same elements, new shape; one extent may be -1. Needs a contiguous tensor.
  Tensor reshape(const Shape& shape) const;
  // Reorders the dimensions: result.dim(i) == dim(order[i]).
  Tensor permute(std::initializer_list<int> order) const;
  Tensor permute(std::span<const int> order) const;
  // Elements [start, end) with `step` along `dim`; negative indices count from the end.
  Tensor slice(int dim, int64_t start, int64_t end, int64_t step = 1) const;
  // Drops `dim` by selecting index `index` along it.
  Tensor select(int dim, int64_t index) const;

  // --- copies ----------------------------------------------------------------
  Tensor contiguous() const;  // returns *this when already contiguous
  Tensor clone() const;       // always a new owning, contiguous tensor
  Tensor to(DType dtype) const;  // floating conversions (f32/f16/bf16)
  // Copies the elements of `src` (same shape and dtype, any strides) into *this.
  void copy_from(const Tensor& src);

 private:
  template <typename T>
  void check_type() const;
  int normalize_dim(int i) const;

  std::shared_ptr<const void> owner_;
  void* data_ = nullptr;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
};

template <typename T>
struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };

template <typename T>
void Tensor::check_type() const {
  if constexpr (std::is_same_v<std::remove_const_t<T>, uint16_t>) {
    check(dtype_ == DType::F16 || dtype_ == DType::BF16,
          "tensor of dtype {} accessed as 16-bit float", dtype_name(dtype_));
  } else if constexpr (std::is_same_v<std::remove_const_t<T>, void> ||
                       std::is_same_v<std::remove_const_t<T>, std::byte>) {
  } else {
    check(dtype_ == dtype_of<std::remove_const_t<T>>::value, "tensor of dtype {} accessed as {}",
          dtype_name(dtype_), dtype_name(dtype_of<std::remove_const_t<T>>::value));
  }
}

// Contiguous row-major strides for `shape` (in elements).
Shape contiguous_strides(const Shape& shape);

}  // namespace engine
