// The fused mask upscaling contract (kernels/mask_upscale.h) as plain loops in
// double, straight from the official module order (the test oracle); with
// bf16, the ConvT products' operands rounded to bf16 first.
#include <cmath>
#include <vector>

#include "kernels/convert.h"
#include "kernels/mask_upscale.h"

namespace kernels::ref {
namespace {

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// v, or v rounded to f32 and then to bf16.
double operand(double v, bool bf16) {
  return bf16 ? static_cast<double>(bf16_to_f32(f32_to_bf16(static_cast<float>(v)))) : v;
}

}  // namespace

void mask_upscale(const MaskUpscaleArgs& a, bool bf16) {
  const int g = a.g, c1 = a.c1, c2 = a.c2, side = 4 * g;
  auto w1 = [&](int n, int k) { return operand(a.w1[static_cast<size_t>(n) * a.d + k], bf16); };
  std::vector<double> y1(static_cast<size_t>(4 * c1)), up(static_cast<size_t>(4 * c2));
  for (int i = a.row0; i < a.row1; ++i)
    for (int j = 0; j < g; ++j) {
      const int64_t r = static_cast<int64_t>(i) * g + j;
      const float* x = a.x + r * a.ldx;
      for (int n = 0; n < 4 * c1; ++n) {
        double acc = 0;
        if (a.fa) {  // factored: x_scale x + fa fb^T
          acc = static_cast<double>(a.x_scale[r]) * x[n];
          for (int k = 0; k < a.fk; ++k) acc += static_cast<double>(a.fa[r * a.ldfa + k]) * a.fb[n * a.ldfb + k];
        } else {
          acc = a.b1[n];
          for (int k = 0; k < a.d; ++k) acc += operand(x[k], bf16) * w1(n, k);
        }
        y1[static_cast<size_t>(n)] = acc;
      }
      for (int s1 = 0; s1 < 4; ++s1) {  // ConvT1 output pixel (2i + a1, 2j + b1)
        double* v = y1.data() + s1 * c1;
        double mean = 0, var = 0;
        for (int c = 0; c < c1; ++c) mean += v[c];
        mean /= c1;
        for (int c = 0; c < c1; ++c) var += (v[c] - mean) * (v[c] - mean);
        var /= c1;
        for (int c = 0; c < c1; ++c)
          v[c] = operand(gelu((v[c] - mean) / std::sqrt(var + a.ln_eps) * a.ln_weight[c] + a.ln_bias[c]), bf16);
        for (int s2 = 0; s2 < 4; ++s2) {  // ConvT2 output pixel
          for (int c = 0; c < c2; ++c) {
            double acc = a.b2[c];
            for (int k = 0; k < c1; ++k) acc += operand(a.w2[static_cast<size_t>(s2 * c2 + c) * c1 + k], bf16) * v[k];
            up[static_cast<size_t>(s2 * c2 + c)] = gelu(acc);
          }
          const int y = 4 * i + 2 * (s1 >> 1) + (s2 >> 1), xo = 4 * j + 2 * (s1 & 1) + (s2 & 1);
          for (int m = 0; m < a.m; ++m) {
            double acc = 0;
            for (int c = 0; c < c2; ++c) acc += a.hyper[m * a.ldh + c] * up[static_cast<size_t>(s2 * c2 + c)];
            a.out[m * a.out_plane + static_cast<int64_t>(y) * side + xo] = static_cast<float>(acc);
          }
        }
      }
    }
}

}  // namespace kernels::ref
