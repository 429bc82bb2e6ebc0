// The packed GEMM with bf16 inputs and f32 accumulation (issue 14: bf16 on CPUs):
//   C[M,N] = epilogue(bf16(A)[M,K] bf16(W)^T[K,N]),
// with the f32 packed GEMM's epilogue (kernels/gemm.h: bias, accumulate into C,
// GELU; with accumulate == false C is never read) and the same job contract.
//
// * bf16 values are stored as uint16_t (the top half of an f32).
// * A is f32 [M, K] (activations); each variant rounds it to bf16
//   (round-to-nearest-even, ref::f32_to_bf16 in kernels/convert.h) while it
//   packs it. W is a torch Linear weight [N, K] (B = W^T), packed once, either
//   from f32 (rounded to bf16 the same way) or from bf16 as stored (safetensors
//   bf16 weights, no f32 detour). Packing from f32 equals packing from the
//   pre-rounded bf16 weights.
// * The products of the bf16 values are exact in f32; they are summed in f32
//   (in an order each variant chooses), so the result differs from the
//   reference (ref::gemm_bf16: the same bf16 inputs, summed in double) only by
//   f32 summation rounding. Hardware bf16 dot products (VDPBF16PS, AMX
//   TDPBF16PS) treat bf16 subnormal inputs as zero.
// * The packed layout of B is each variant's own (VNNI pairs of K for the
//   AVX-512 BF16 and AMX ones): B packed by one table's pack_b is only valid
//   for that table's gemm_bf16_run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/convert.h"  // ref::f32_to_bf16 / bf16_to_f32: the rounding every variant uses
#include "kernels/gemm.h"     // GemmEpilogue, Activation
#include "kernels/variant.h"

namespace kernels {

struct PackedGemmBf16Args {
  int m = 0, n = 0, k = 0;
  const float* a = nullptr;  // f32 [M, K], row stride lda; rounded to bf16 when packed
  int64_t lda = 0;
  const uint16_t* b_packed = nullptr;  // from gemm_bf16_pack_b_* of the same table
  float* c = nullptr;                  // f32 [M, N], row stride ldc
  int64_t ldc = 0;
  GemmEpilogue epilogue;
};

namespace ref {

// The oracle: C = epilogue(sum_k bf16(a[i,k]) * w[j,k]) with the sum in double
// (w already bf16, [N, K] with row stride ldw), then rounded to f32, then GELU
// (ref::gelu) when asked. Bias and the old C are added in double too.
void gemm_bf16(int m, int n, int k, const float* a, int64_t lda, const uint16_t* w, int64_t ldw, float* c,
               int64_t ldc, const GemmEpilogue& epilogue);

}  // namespace ref

// The gemm_bf16 family's slots in the kernel table (kernels/table.h); its
// variants: kernels/cpu/gemm_bf16_variants.cpp ("amx", "avx512_bf16", "scalar").
struct GemmBf16Kernels {
  static constexpr const char* family = "gemm_bf16";
  static VariantList<GemmBf16Kernels> variants();  // best first
  // Size of the packed B in uint16_t elements.
  size_t (*gemm_bf16_packed_b_elems)(int n, int k) = nullptr;
  // From an f32 weight [N, K] (row stride ldw), rounded to bf16 (RNE).
  void (*gemm_bf16_pack_b_nk)(const float* w, int n, int k, int64_t ldw, uint16_t* out) = nullptr;
  // From a bf16 weight [N, K] (row stride ldw), as stored.
  void (*gemm_bf16_pack_b_nk_bf16)(const uint16_t* w, int n, int k, int64_t ldw, uint16_t* out) = nullptr;
  // Work split into independent jobs for a given thread count; run does jobs [j0, j1).
  int64_t (*gemm_bf16_jobs)(const PackedGemmBf16Args& g, int threads) = nullptr;
  void (*gemm_bf16_run)(const PackedGemmBf16Args& g, int threads, int64_t j0, int64_t j1) = nullptr;
};

}  // namespace kernels
