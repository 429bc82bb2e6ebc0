// Plain-loop reference of kernels/bias_attention.h (the test oracle): double
// accumulation, max-subtracted softmax.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/bias_attention.h"

namespace kernels::ref {

void bias_attention(const BiasAttentionArgs& a) {
  assert(a.qkv && a.bias && a.out && a.n > 0 && a.heads > 0 && a.head_dim > 0);
  const long hd = a.head_dim, row = 3L * a.heads * hd, orow = a.heads * hd;
  std::vector<double> s(static_cast<size_t>(a.n));
  for (int job = a.job_begin; job < a.job_end; ++job) {
    const long win = job / a.heads, h = job % a.heads;
    const float* base = a.qkv + win * a.n * row + h * 3 * hd;
    const float* bias = a.bias + h * a.n * a.n;
    for (int i = 0; i < a.n; ++i) {
      const float* q = base + i * row;
      double mx = -INFINITY;
      for (int j = 0; j < a.n; ++j) {
        const float* k = base + j * row + hd;
        double d = 0;
        for (long t = 0; t < hd; ++t) d += double(q[t]) * k[t];
        s[static_cast<size_t>(j)] = d * a.scale + bias[static_cast<long>(i) * a.n + j];
        mx = std::max(mx, s[static_cast<size_t>(j)]);
      }
      double sum = 0;
      for (double& v : s) sum += (v = std::exp(v - mx));
      float* o = a.out + (win * a.n + i) * orow + h * hd;
      for (long t = 0; t < hd; ++t) {
        double acc = 0;
        for (int j = 0; j < a.n; ++j) acc += s[static_cast<size_t>(j)] * base[j * row + 2 * hd + t];
        o[t] = static_cast<float>(acc / sum);
      }
    }
  }
}

}  // namespace kernels::ref
