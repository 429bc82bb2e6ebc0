// Element-wise kernels and row softmax.
#pragma once

#include <cstdint>

namespace kernels::ref {

// x = 0.5 * x * (1 + erf(x / sqrt(2)))   (torch.nn.GELU(), approximate='none')
void gelu(float* x, int64_t n);
// y += x
void add(float* y, const float* x, int64_t n);
// Softmax over each of `rows` rows of `cols` elements (row stride ld), in place,
// max-subtracted as torch does.
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld);

}  // namespace kernels::ref
