// Plain-loop references of kernels/conv.h (the test oracle): double accumulation.
#include <cassert>
#include <cmath>

#include "kernels/conv.h"

namespace kernels::ref {
namespace {
double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
}  // namespace

void depthwise_conv2d(const DepthwiseConv2dArgs& a) {
  assert(a.in && a.weight && a.out && a.stride >= 1 && a.k >= 1 && a.row_begin >= a.out_row0);
  for (int oy = a.row_begin; oy < a.row_end; ++oy)
    for (int ox = 0; ox < a.out_w; ++ox)
      for (int ch = 0; ch < a.c; ++ch) {
        double s = a.bias ? a.bias[ch] : 0.0;
        for (int ky = 0; ky < a.k; ++ky)
          for (int kx = 0; kx < a.k; ++kx) {
            const int y = oy * a.stride - a.pad + ky, x = ox * a.stride - a.pad + kx;
            if (y < 0 || y >= a.h || x < 0 || x >= a.w) continue;
            assert(y >= a.in_row0);
            s += double(a.in[(static_cast<long>(y - a.in_row0) * a.w + x) * a.c + ch]) *
                 a.weight[(ky * a.k + kx) * a.c + ch];
          }
        a.out[(static_cast<long>(oy - a.out_row0) * a.out_w + ox) * a.c + ch] = static_cast<float>(a.gelu ? gelu(s) : s);
      }
}

void conv2d(const Conv2dArgs& a) {
  assert(a.in && a.weight && a.out && a.stride >= 1 && a.k >= 1);
  for (int oy = a.row_begin; oy < a.row_end; ++oy)
    for (int ox = 0; ox < a.out_w; ++ox)
      for (int co = 0; co < a.cout; ++co) {
        double s = a.bias ? a.bias[co] : 0.0;
        for (int ky = 0; ky < a.k; ++ky)
          for (int kx = 0; kx < a.k; ++kx) {
            const int y = oy * a.stride - a.pad + ky, x = ox * a.stride - a.pad + kx;
            if (y < 0 || y >= a.h || x < 0 || x >= a.w) continue;
            const float* px = a.in + (static_cast<long>(y) * a.w + x) * a.cin;
            const float* wt = a.weight + static_cast<long>((ky * a.k + kx) * a.cin) * a.cout + co;
            for (int ci = 0; ci < a.cin; ++ci) s += double(px[ci]) * wt[static_cast<long>(ci) * a.cout];
          }
        a.out[(static_cast<long>(oy) * a.out_w + ox) * a.cout + co] = static_cast<float>(a.gelu ? gelu(s) : s);
      }
}

}  // namespace kernels::ref
