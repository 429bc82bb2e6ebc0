#include "kernels/gemm.h"

namespace kernels::ref {

void sgemm(const GemmArgs& g) {
  for (int i = 0; i < g.m; ++i) {
    for (int j = 0; j < g.n; ++j) {
      double acc = 0;
      for (int p = 0; p < g.k; ++p) {
        const float a = g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
        const float b = g.trans_b ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
        acc += static_cast<double>(a) * b;
      }
      float& c = g.c[i * g.ldc + j];
      c = g.beta == 0.f ? static_cast<float>(g.alpha * acc)
                        : static_cast<float>(g.alpha * acc + static_cast<double>(g.beta) * c);
    }
  }
}

}  // namespace kernels::ref
