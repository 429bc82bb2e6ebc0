#include <cblas.h>

#include "kernels/gemm.h"

namespace kernels {

void sgemm_openblas(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) {
    // BLAS would scale C by beta; with beta == 0 it must not read C.
    for (int i = 0; i < g.m; ++i)
      for (int j = 0; j < g.n; ++j) g.c[i * g.ldc + j] = g.beta == 0.f ? 0.f : g.beta * g.c[i * g.ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans, g.m, g.n,
              g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
}

void set_blas_threads(int n) { openblas_set_num_threads(n); }

}  // namespace kernels
