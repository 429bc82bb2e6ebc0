// The kernel table: one function pointer per kernel, filled once at start-up
// with the best implementation the CPU supports (AVX-512, AVX2+FMA or the
// scalar reference). Callers go through kernels::table(); nothing else in the
// code base branches on the ISA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/two_way_attention.h"
#include "kernels/mask_upscale.h"
#include "kernels/resample.h"

namespace kernels {

enum class Isa { Scalar, Avx2, Avx512 };
const char* isa_name(Isa isa);

struct KernelTable {
  Isa isa = Isa::Scalar;
  void (*convert_f32_to_f16)(const float* src, uint16_t* dst, size_t n) = nullptr;
  void (*convert_f16_to_f32)(const uint16_t* src, float* dst, size_t n) = nullptr;
  void (*convert_f32_to_bf16)(const float* src, uint16_t* dst, size_t n) = nullptr;
  void (*convert_bf16_to_f32)(const uint16_t* src, float* dst, size_t n) = nullptr;
  // Element-wise and row kernels (see eltwise.h / norm.h for the contracts).
  void (*gelu)(float* x, int64_t n) = nullptr;
  void (*add)(float* y, const float* x, int64_t n) = nullptr;
  void (*softmax_rows)(float* x, int64_t rows, int64_t cols, int64_t ld) = nullptr;
  void (*layer_norm)(const LayerNormArgs& a) = nullptr;
  // Packed GEMM (gemm.h). B packed by this table's pack_b is only valid for this table.
  int (*gemm_mr)() = nullptr;
  int (*gemm_nr)() = nullptr;
  size_t (*gemm_packed_b_floats)(int n, int k) = nullptr;
  void (*gemm_pack_b_nk)(const float* w, int n, int k, int64_t ldw, float* out) = nullptr;
  // Work is split into independent jobs (row block x column chunk) for a given
  // thread count; gemm_run does jobs [j0, j1). Callers spread jobs over threads.
  int64_t (*gemm_jobs)(const PackedGemmArgs& g, int threads) = nullptr;
  void (*gemm_run)(const PackedGemmArgs& g, int threads, int64_t j0, int64_t j1) = nullptr;
  // Two-way transformer cross-attention cores (two_way_attention.h): padded
  // score width for J columns, scratch floats per call, the two kernels.
  int (*tw_columns)(int j) = nullptr;
  size_t (*tw_scratch_floats)(int width, int jp) = nullptr;
  void (*tokens_to_image)(const TokensToImageArgs& a) = nullptr;
  void (*image_to_tokens)(const ImageToTokensArgs& a) = nullptr;
  // Fused mask decoder upscaling + mask product (mask_upscale.h); scratch floats per call.
  size_t (*mask_upscale_scratch_floats)(int g, int d, int c1, int c2, int m) = nullptr;
  void (*mask_upscale)(const MaskUpscaleArgs& a) = nullptr;
  // Fused attention with decomposed rel-pos bias (attention.h): the scratch one
  // call needs for an h x w grid and head dim hd, and the kernel.
  size_t (*attention_relpos_scratch_floats)(int h, int w, int hd) = nullptr;
  void (*attention_relpos)(const AttentionRelPosArgs& a) = nullptr;

  // resample.h: bilinear rows (mask upscaling to the image size)
  void (*resample_row)(const ResampleRowArgs& a) = nullptr;
  void (*blend_rows)(const float* r0, const float* r1, float w0, float w1, int n, float* out) = nullptr;
  void (*blend_rows_threshold)(const float* r0, const float* r1, float w0, float w1, int n, float threshold,
                               uint8_t* out) = nullptr;
};

// The table for this CPU (chosen on first use; thread-safe).
const KernelTable& table();
// A table restricted to `isa` (for tests and benchmarks); throws
// std::runtime_error if the CPU lacks it.
KernelTable table_for(Isa isa);
// Best ISA the CPU supports; SAM_ISA=scalar|avx2|avx512 in the environment caps it.
Isa best_isa();

}  // namespace kernels
