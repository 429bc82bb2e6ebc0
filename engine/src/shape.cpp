#include "engine/shape.h"

#include <fmt/format.h>

#include "engine/error.h"

namespace engine {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  check(dims.size() <= kMaxDims, "rank {} exceeds the maximum of {}", dims.size(), kMaxDims);
  rank_ = static_cast<int>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) dims_[i] = dims[i];
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  check(!__builtin_mul_overflow(a, b, &r), "size overflow ({} x {})", a, b);
  return r;
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r = 0;
  check(!__builtin_add_overflow(a, b, &r), "size overflow ({} + {})", a, b);
  return r;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) {
    if (dims_[i] < 0) fail("negative extent {} in shape {}", dims_[i], str());  // formats only on failure
    n = checked_mul(n, dims_[i]);
  }
  return n;
}

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(dims(), ", ")); }

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

}  // namespace engine
