// Declarations of the per-ISA kernels. Each lives in its own translation unit
// under cpu/<isa>/, compiled with that ISA's flags; only registry.cpp takes
// their addresses, after checking the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/two_way_attention.h"
#include "kernels/mask_upscale.h"
#include "kernels/resample.h"

namespace kernels::avx512 {
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n);
void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void gelu(float* x, int64_t n);
void add(float* y, const float* x, int64_t n);
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld);
void layer_norm(const LayerNormArgs& a);
int gemm_mr();
int gemm_nr();
size_t gemm_packed_b_floats(int n, int k);
void gemm_pack_b_nk(const float* w, int n, int k, int64_t ldw, float* out);
int64_t gemm_jobs(const PackedGemmArgs& g, int threads);
void gemm_run(const PackedGemmArgs& g, int threads, int64_t j0, int64_t j1);
int tw_columns(int j);
size_t tw_scratch_floats(int width, int jp);
void tokens_to_image(const TokensToImageArgs& a);
void image_to_tokens(const ImageToTokensArgs& a);
size_t mask_upscale_scratch_floats(int g, int d, int c1, int c2, int m);
void mask_upscale(const MaskUpscaleArgs& a);
size_t attention_relpos_scratch_floats(int h, int w, int hd);
void attention_relpos(const AttentionRelPosArgs& a);
void resample_row(const ResampleRowArgs& a);
void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out);
void blend_rows_threshold(const float* r0, const float* r1, float w0, float w1, int n, float threshold, uint8_t* out);
}  // namespace kernels::avx512

namespace kernels::avx2 {
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n);
void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void gelu(float* x, int64_t n);
void add(float* y, const float* x, int64_t n);
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld);
void layer_norm(const LayerNormArgs& a);
int gemm_mr();
int gemm_nr();
size_t gemm_packed_b_floats(int n, int k);
void gemm_pack_b_nk(const float* w, int n, int k, int64_t ldw, float* out);
int64_t gemm_jobs(const PackedGemmArgs& g, int threads);
void gemm_run(const PackedGemmArgs& g, int threads, int64_t j0, int64_t j1);
int tw_columns(int j);
size_t tw_scratch_floats(int width, int jp);
void tokens_to_image(const TokensToImageArgs& a);
void image_to_tokens(const ImageToTokensArgs& a);
size_t mask_upscale_scratch_floats(int g, int d, int c1, int c2, int m);
void mask_upscale(const MaskUpscaleArgs& a);
size_t attention_relpos_scratch_floats(int h, int w, int hd);
void attention_relpos(const AttentionRelPosArgs& a);
void resample_row(const ResampleRowArgs& a);
void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out);
void blend_rows_threshold(const float* r0, const float* r1, float w0, float w1, int n, float threshold, uint8_t* out);
}  // namespace kernels::avx2

namespace kernels::scalar {
int gemm_mr();
int gemm_nr();
size_t gemm_packed_b_floats(int n, int k);
void gemm_pack_b_nk(const float* w, int n, int k, int64_t ldw, float* out);
int64_t gemm_jobs(const PackedGemmArgs& g, int threads);
void gemm_run(const PackedGemmArgs& g, int threads, int64_t j0, int64_t j1);
int tw_columns(int j);
size_t tw_scratch_floats(int width, int jp);
void tokens_to_image(const TokensToImageArgs& a);
void image_to_tokens(const ImageToTokensArgs& a);
size_t mask_upscale_scratch_floats(int g, int d, int c1, int c2, int m);
void mask_upscale(const MaskUpscaleArgs& a);
size_t attention_relpos_scratch_floats(int h, int w, int hd);
void attention_relpos(const AttentionRelPosArgs& a);
}  // namespace kernels::scalar
