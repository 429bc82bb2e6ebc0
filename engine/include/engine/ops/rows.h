// Row and element-wise ops on raw activation memory (arena rows), split over
// the thread pool; the kernel table's best variants do the arithmetic.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace engine::ops {

// nn.LayerNorm over the last dimension of `rows` rows of `cols` (also
// LayerNorm2d in channels-last: per pixel over channels). x and y may alias.
// weight / bias: f32 [cols].
void layer_norm_rows(const float* x, float* y, int64_t rows, int64_t cols, const Tensor& weight, const Tensor& bias,
                     float eps);
// nn.GELU() (exact erf form), in place.
void gelu_rows(float* x, int64_t n);
// y += x
void add_rows(float* y, const float* x, int64_t n);
// y += x on the calling thread only (for callers already inside the pool).
void add_serial(float* y, const float* x, int64_t n);
// softmax over each of `rows` rows of `cols` (row stride ld), in place, calling thread only.
void softmax_rows_serial(float* x, int64_t rows, int64_t cols, int64_t ld);

}  // namespace engine::ops
