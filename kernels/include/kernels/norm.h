// LayerNorm over the last dimension of `rows` rows of `cols` elements:
//   y = (x - mean) / sqrt(var + eps) * weight + bias   (biased variance, as torch)
// x and y may alias. Row strides in elements. Statistics in double for the
// reference, in float with a two-pass mean/variance in the fast versions.
#pragma once

#include <cstdint>

namespace kernels {

struct LayerNormArgs {
  const float* x = nullptr;
  int64_t ldx = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  const float* weight = nullptr;
  const float* bias = nullptr;
  int64_t rows = 0, cols = 0;
  float eps = 1e-6f;
};

namespace ref {
void layer_norm(const LayerNormArgs& a);
}

}  // namespace kernels
