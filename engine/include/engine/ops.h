// Tensor-level operations: shapes and dtypes are checked here, once, then the
// raw-pointer kernels run. All take f32 tensors and write into caller-provided
// outputs (usually from an Arena), so nothing is allocated per call.
#pragma once

#include "engine/tensor.h"

namespace engine::ops {

// y[..., N] = x[..., K] @ w[N, K]^T + bias[N]   (torch.nn.functional.linear).
// x's leading dimensions are flattened; x and y must be row-contiguous.
void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);

// LayerNorm over the last dimension; x and y may be the same tensor.
void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps, Tensor& y);

// In place: exact GELU; y += x; softmax over the last dimension.
void gelu_(Tensor& x);
void add_(Tensor& y, const Tensor& x);
void softmax_(Tensor& x);

// Index (in row-major order) of the first NaN or +-infinity in x (contiguous),
// or -1 when every element is finite. f32: the SIMD scan of the kernel table
// (eltwise find_nonfinite), memory-bound; f16 / bf16 (weights used as stored):
// their exponent bits, as stored, no widening.
int64_t find_nonfinite(const Tensor& x);

// A Linear weight [N, K] packed once for the kernel table's GEMM: f32 panels
// (gemm_pack_b_nk) or bf16 ones (gemm_bf16_pack_b_nk*), as `dtype` says.
struct PackedLinear {
  int n = 0, k = 0;
  DType dtype = DType::F32;  // F32 or BF16
  Tensor panels;             // table().gemm_packed_b_floats(n, k) f32 / gemm_bf16_packed_b_elems(n, k) bf16 elements
  bool empty() const { return n == 0; }
};
// From a weight stored as f32, f16 or bf16 (bf16 weights are packed as stored
// when dtype is BF16; f16 ones are widened to f32 first, exactly).
PackedLinear pack_linear(const Tensor& weight, DType dtype = DType::F32);

// y[rows, N] = epilogue(x[rows, K] @ W^T + bias): bias, then (accumulate) the
// previous contents of y, then GELU; one pass over y. x and y row-contiguous.
void linear(const Tensor& x, const PackedLinear& w, const Tensor* bias, Tensor& y, bool accumulate = false,
            bool gelu = false);

// True unless SAM_GEMM=openblas|onednn: with openblas the model uses OpenBLAS
// and separate bias / GELU / add passes, with onednn its Linear layers run on
// oneDNN (for comparisons).
bool use_packed_gemm();
// OpenBLAS thread count for a pool of `pool_threads`: pool_threads with
// SAM_GEMM=openblas, else 1 (OpenBLAS then only runs small per-head attention
// products, and its idle threads would spin against our pool on the same cores).
int blas_threads_for(int pool_threads);

// C[M,N] = A[M,K] @ B[K,N] (or with either transposed), raw 2-D views with
// row strides; used by attention and convolutions.
void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha = 1.f,
            float beta = 0.f);

}  // namespace engine::ops
