// Shape: up to kMaxDims extents, stored inline (no heap), with overflow-checked
// element counts so that sizes read from files can be validated before use.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace engine {

constexpr int kMaxDims = 8;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return dims_[static_cast<size_t>(i)]; }
  const int64_t* data() const { return dims_.data(); }
  std::span<const int64_t> dims() const { return {dims_.data(), static_cast<size_t>(rank_)}; }
  std::vector<int64_t> to_vector() const { return {dims_.begin(), dims_.begin() + rank_}; }

  // Product of the extents (1 for rank 0). Throws engine::Error on overflow or
  // a negative extent, so callers may trust it as an allocation size.
  int64_t numel() const;

  // "[1, 64, 64, 768]"
  std::string str() const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int rank_ = 0;
};

// Multiplies with an overflow check (engine::Error on overflow); used for every
// size computed from untrusted input.
int64_t checked_mul(int64_t a, int64_t b);
int64_t checked_add(int64_t a, int64_t b);

}  // namespace engine
