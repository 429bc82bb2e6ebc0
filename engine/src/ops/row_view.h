// Engine-internal: a tensor seen as rows x cols with one row stride (the
// GEMM-style ops take their operands this way; the shape checks live here).
#pragma once

#include <algorithm>
#include <cstdint>

#include "engine/error.h"
#include "engine/tensor.h"

namespace engine::ops {

// Rows x cols view of a tensor whose last dimension is contiguous and whose
// leading dimensions collapse into one stride.
struct Rows {
  int64_t rows, cols, ld;
};

inline Rows as_rows(const Tensor& t, const char* what) {
  check(t.rank() >= 1, "{}: rank-0 tensor", what);
  const int r = t.rank();
  check(t.dim(r - 1) <= 1 || t.stride(r - 1) == 1, "{}: last dimension must be contiguous", what);
  const int64_t cols = t.dim(r - 1);
  int64_t rows = 1;
  for (int i = 0; i < r - 1; ++i) rows *= t.dim(i);
  int64_t ld = r >= 2 ? t.stride(r - 2) : cols;
  // Leading dimensions must nest: stride(i) == stride(i+1) * dim(i+1).
  for (int i = 0; i + 2 < r; ++i)
    check(t.dim(i) <= 1 || t.stride(i) == t.stride(i + 1) * t.dim(i + 1), "{}: leading dimensions not collapsible",
          what);
  if (rows <= 1) ld = std::max<int64_t>(ld, cols);
  return {rows, cols, ld};
}

}  // namespace engine::ops
