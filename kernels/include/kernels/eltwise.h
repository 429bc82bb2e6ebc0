// Element-wise kernels and row softmax.
#pragma once

#include <cstdint>

#include "kernels/norm.h"
#include "kernels/variant.h"

namespace kernels::ref {

// x = 0.5 * x * (1 + erf(x / sqrt(2)))   (torch.nn.GELU(), approximate='none')
void gelu(float* x, int64_t n);
// y += x
void add(float* y, const float* x, int64_t n);
// Softmax over each of `rows` rows of `cols` elements (row stride ld), in place,
// max-subtracted as torch does.
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld);
// Index of the first NaN or +-infinity among x[0, n), or n when all are finite
// (the finite-weights check at model load, the --mask-input check).
int64_t find_nonfinite(const float* x, int64_t n);

}  // namespace kernels::ref

namespace kernels {

// The eltwise family's slots in the kernel table (kernels/table.h): the
// element-wise and row kernels above (the finite scan included) and LayerNorm (norm.h). Its variants:
// kernels/cpu/eltwise_variants.cpp.
struct EltwiseKernels {
  static constexpr const char* family = "eltwise";
  static VariantList<EltwiseKernels> variants();  // best first
  void (*gelu)(float* x, int64_t n) = nullptr;
  void (*add)(float* y, const float* x, int64_t n) = nullptr;
  void (*softmax_rows)(float* x, int64_t rows, int64_t cols, int64_t ld) = nullptr;
  void (*layer_norm)(const LayerNormArgs& a) = nullptr;
  int64_t (*find_nonfinite)(const float* x, int64_t n) = nullptr;
};

}  // namespace kernels
