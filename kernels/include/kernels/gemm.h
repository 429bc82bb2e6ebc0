// Single-precision matrix product, BLAS conventions (row-major):
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(X) is X or X^T; lda/ldb/ldc are row strides in elements. With beta == 0,
// C is never read (it may hold NaN).
#pragma once

#include <cstddef>
#include <cstdint>

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

// ---------------------------------------------------------------------------
// The hand-written GEMM (BLIS style): C[M,N] = epilogue(A[M,K] B[K,N]).
//
// B is packed once (weights at load time) into panels of NR columns: panel j
// holds, for k = 0..K-1, the NR values B[k, j*NR .. j*NR+NR) (zero-padded past
// N), so a K-block of a panel is contiguous. A is packed on the fly into
// MR-row micro-panels. The micro-kernel keeps an MR x NR tile of C in
// registers; the epilogue (bias, accumulate into C, GELU) is applied in
// registers before the only store. With accumulate == false, C is never read.
// ---------------------------------------------------------------------------
namespace kernels {

enum class Activation : uint8_t { None, Gelu };

struct GemmEpilogue {
  const float* bias = nullptr;  // [N] or null
  bool accumulate = false;      // C += A B (e.g. a residual stream held in C)
  Activation activation = Activation::None;  // applied last (after bias and accumulate)
};

struct PackedGemmArgs {
  int m = 0, n = 0, k = 0;
  const float* a = nullptr;  // [M, K], row stride lda
  int64_t lda = 0;
  const float* b_packed = nullptr;  // from pack_b (same ISA table)
  float* c = nullptr;               // [M, N], row stride ldc
  int64_t ldc = 0;
  GemmEpilogue epilogue;
};

}  // namespace kernels
