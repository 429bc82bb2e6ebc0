#include "engine/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace engine {

Shape contiguous_strides(const Shape& shape) {
  Shape strides = shape;
  int64_t s = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    strides[i] = s;
    s = checked_mul(s, std::max<int64_t>(shape[i], 1));
  }
  return strides;
}

Tensor Tensor::empty(DType dtype, const Shape& shape) {
  const int64_t n = shape.numel();
  const size_t bytes = static_cast<size_t>(checked_mul(n, static_cast<int64_t>(dtype_size(dtype))));
  // aligned_alloc needs a size that is a multiple of the alignment.
  const size_t padded = std::max<size_t>((bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment,
                                         kTensorAlignment);
  void* p = std::aligned_alloc(kTensorAlignment, padded);
  if (!(p != nullptr)) fail("out of memory allocating {} bytes for a tensor of shape {}", bytes, shape.str());
  std::shared_ptr<void> owner(p, [](void* q) { std::free(q); });
  Tensor t;
  t.owner_ = owner;
  t.data_ = p;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(DType dtype, const Shape& shape) {
  Tensor t = empty(dtype, shape);
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::from_blob(void* data, DType dtype, const Shape& shape, std::shared_ptr<const void> owner) {
  return from_blob(data, dtype, shape, contiguous_strides(shape), std::move(owner));
}

Tensor Tensor::from_blob(void* data, DType dtype, const Shape& shape, const Shape& strides,
                         std::shared_ptr<const void> owner) {
  if (!(strides.rank() == shape.rank())) fail("strides {} do not match shape {}", strides.str(), shape.str());
  shape.numel();  // validates extents
  Tensor t;
  t.owner_ = std::move(owner);
  t.data_ = data;
  t.shape_ = shape;
  t.strides_ = strides;
  t.dtype_ = dtype;
  return t;
}

int Tensor::normalize_dim(int i) const {
  const int r = rank();
  const int d = i < 0 ? i + r : i;
  check(d >= 0 && d < r, "dimension {} out of range for a tensor of rank {}", i, r);
  return d;
}

bool Tensor::is_contiguous() const {
  // No elements: any strides will do. (contiguous_strides() counts a 0 extent
  // as 1, which the loop below would reject for dimensions left of the 0.)
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;  // any stride is fine for an extent of 1
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  if (!(is_contiguous())) fail("reshape of a non-contiguous tensor {} (call contiguous() first)", shape_.str());
  Shape s = new_shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.rank(); ++i) {
    if (s[i] == -1) {
      if (!(infer < 0)) fail("reshape to {}: more than one -1", new_shape.str());
      infer = i;
    } else {
      if (!(s[i] >= 0)) fail("reshape to {}: negative extent", new_shape.str());
      known = checked_mul(known, s[i]);
    }
  }
  const int64_t n = numel();
  if (infer >= 0) {
    if (!(known != 0 && n % known == 0)) fail("cannot reshape {} to {}", shape_.str(), new_shape.str());
    s[infer] = n / known;
  }
  if (!(s.numel() == n)) fail("cannot reshape {} ({} elements) to {}", shape_.str(), n, new_shape.str());
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::permute(std::initializer_list<int> order) const {
  return permute(std::span<const int>(order.begin(), order.size()));
}

Tensor Tensor::permute(std::span<const int> order) const {
  check(static_cast<int>(order.size()) == rank(), "permute: {} indices for a tensor of rank {}", order.size(),
        rank());
  bool seen[kMaxDims] = {};
  Tensor t = *this;
  for (int i = 0; i < rank(); ++i) {
    const int d = normalize_dim(order[static_cast<size_t>(i)]);
    check(!seen[d], "permute: dimension {} repeated", d);
    seen[d] = true;
    t.shape_[i] = shape_[d];
    t.strides_[i] = strides_[d];
  }
  return t;
}

Tensor Tensor::slice(int dim, int64_t start, int64_t end, int64_t step) const {
  const int d = normalize_dim(dim);
  const int64_t n = shape_[d];
  check(step > 0, "slice: step must be positive, got {}", step);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Tensor t = *this;
  t.data_ = static_cast<std::byte*>(data_) + start * strides_[d] * static_cast<int64_t>(element_size());
  t.shape_[d] = (end - start + step - 1) / step;
  t.strides_[d] = strides_[d] * step;
  return t;
}

Tensor Tensor::select(int dim, int64_t index) const {
  const int d = normalize_dim(dim);
  const int64_t n = shape_[d];
  if (index < 0) index += n;
  check(index >= 0 && index < n, "select: index {} out of range for extent {}", index, n);
  std::vector<int64_t> dims, strides;
  for (int i = 0; i < rank(); ++i) {
    if (i == d) continue;
    dims.push_back(shape_[i]);
    strides.push_back(strides_[i]);
  }
  Tensor t = *this;
  t.data_ = static_cast<std::byte*>(data_) + index * strides_[d] * static_cast<int64_t>(element_size());
  t.shape_ = Shape(dims);
  t.strides_ = Shape(strides);
  return t;
}

namespace {

// Copies a strided tensor of `rank` dims element by element (innermost
// dimension as a tight loop); `esize` bytes per element.
void strided_copy(std::byte* dst, const int64_t* dst_strides, const std::byte* src, const int64_t* src_strides,
                  const int64_t* shape, int rank, size_t esize) {
  if (rank == 0) {
    std::memcpy(dst, src, esize);
    return;
  }
  const int64_t n = shape[0];
  const int64_t ds = dst_strides[0] * static_cast<int64_t>(esize);
  const int64_t ss = src_strides[0] * static_cast<int64_t>(esize);
  if (rank == 1) {
    if (ds == static_cast<int64_t>(esize) && ss == static_cast<int64_t>(esize)) {
      std::memcpy(dst, src, static_cast<size_t>(n) * esize);
    } else {
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * ds, src + i * ss, esize);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    strided_copy(dst + i * ds, dst_strides + 1, src + i * ss, src_strides + 1, shape + 1, rank - 1, esize);
}

}  // namespace

void Tensor::copy_from(const Tensor& src) {
  if (!(src.shape_ == shape_)) fail("copy_from: shape {} into {}", src.shape_.str(), shape_.str());
  check(src.dtype_ == dtype_, "copy_from: dtype {} into {}", dtype_name(src.dtype_), dtype_name(dtype_));
  if (numel() == 0) return;
  strided_copy(static_cast<std::byte*>(data_), strides_.data(), static_cast<const std::byte*>(src.data_),
               src.strides_.data(), shape_.data(), rank(), element_size());
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(dtype_, shape_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  const Tensor src = contiguous();
  Tensor t = empty(dtype, shape_);
  convert_floats(src.data_, dtype_, t.data_, dtype, static_cast<size_t>(numel()));
  return t;
}

}  // namespace engine
