// Single-precision matrix product, BLAS conventions (row-major):
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(X) is X or X^T; lda/ldb/ldc are row strides in elements. With beta == 0,
// C is never read (it may hold NaN).
#pragma once

namespace kernels {

struct GemmArgs {
  bool trans_a = false;
  bool trans_b = false;
  int m = 0, n = 0, k = 0;
  float alpha = 1.f;
  const float* a = nullptr;
  int lda = 0;
  const float* b = nullptr;
  int ldb = 0;
  float beta = 0.f;
  float* c = nullptr;
  int ldc = 0;
};

namespace ref {
void sgemm(const GemmArgs& g);  // triple loop in double precision: the test oracle
}

// OpenBLAS backend (cblas_sgemm). Threads: see set_blas_threads().
void sgemm_openblas(const GemmArgs& g);
void set_blas_threads(int n);

}  // namespace kernels
