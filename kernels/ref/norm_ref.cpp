#include <cmath>

#include "kernels/norm.h"

namespace kernels::ref {

void layer_norm(const LayerNormArgs& a) {
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * a.ldx;
    float* y = a.y + r * a.ldy;
    double mean = 0;
    for (int64_t c = 0; c < a.cols; ++c) mean += x[c];
    mean /= static_cast<double>(a.cols);
    double var = 0;
    for (int64_t c = 0; c < a.cols; ++c) var += (x[c] - mean) * (x[c] - mean);
    var /= static_cast<double>(a.cols);
    const double inv = 1.0 / std::sqrt(var + a.eps);
    for (int64_t c = 0; c < a.cols; ++c) {
      const double v = (x[c] - mean) * inv;
      y[c] = static_cast<float>(v * (a.weight ? a.weight[c] : 1.f) + (a.bias ? a.bias[c] : 0.f));
    }
  }
}

}  // namespace kernels::ref
