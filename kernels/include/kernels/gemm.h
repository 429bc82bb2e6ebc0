// Single-precision matrix product, BLAS conventions (row-major):
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(X) is X or X^T; lda/ldb/ldc are row strides in elements. With beta == 0,
// C is never read (it may hold NaN).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/variant.h"

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

// The gemm family's slots in the kernel table (kernels/table.h); its variants:
// kernels/cpu/gemm_variants.cpp. B packed by one table's pack_b is only valid
// for that table.
struct GemmKernels {
  static constexpr const char* family = "gemm";
  static VariantList<GemmKernels> variants();  // best first
  int (*gemm_mr)() = nullptr;
  int (*gemm_nr)() = nullptr;
  size_t (*gemm_packed_b_floats)(int n, int k) = nullptr;
  void (*gemm_pack_b_nk)(const float* w, int n, int k, int64_t ldw, float* out) = nullptr;
  // Work is split into independent jobs (row block x column chunk) for a given
  // thread count; gemm_run does jobs [j0, j1). Callers spread jobs over threads.
  int64_t (*gemm_jobs)(const PackedGemmArgs& g, int threads) = nullptr;
  void (*gemm_run)(const PackedGemmArgs& g, int threads, int64_t j0, int64_t j1) = nullptr;
};

}  // namespace kernels
