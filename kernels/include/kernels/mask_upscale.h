// The mask decoder's output upscaling and mask product, fused
// (segment_anything/modeling/mask_decoder.py, MaskDecoder.predict_masks):
//
//   upscaled = GELU(ConvT2(GELU(LayerNorm2d(ConvT1(src)))))   ConvT: k = 2, stride 2
//   masks    = hyper_in @ upscaled.view(C2, 4G * 4G)
//
// for one prompt set, one row of the G x G input grid at a time: the row's G
// image tokens go through ConvT1 (a GEMM against the packed [4*C1, D] matrix),
// LayerNorm2d + GELU per output pixel, ConvT2 computed transposed ([4*C2, C1]
// times the pixels, so channels become rows), bias + GELU, and the product with
// the hypernetwork vectors vectorised over pixels; only the masks are written.
// Nothing of the 2G x 2G x C1 or 4G x 4G x C2 activations leaves the cache.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/gemm_bf16.h"
#include "kernels/variant.h"

namespace kernels {

struct MaskUpscaleArgs {
  int g = 0;                     // grid side G (64 in SAM)
  int d = 0, c1 = 0, c2 = 0;     // channels: D -> C1 = D/4 -> C2 = D/8
  const float* x = nullptr;      // [G*G, D] image tokens (row y*G + x), row stride ldx
  int64_t ldx = 0;
  const float* w1_packed = nullptr;  // ConvT1 as [4*C1, D] (row (2a+b)*C1 + co), packed by table().gemm_pack_b_nk
  const float* w1 = nullptr;         // the same matrix unpacked (read by the reference only)
  const float* b1 = nullptr;         // [4*C1] (the bias repeated per sub-pixel)
  const float* ln_weight = nullptr;  // LayerNorm2d [C1]
  const float* ln_bias = nullptr;
  float ln_eps = 1e-6f;
  const float* w2 = nullptr;  // ConvT2 as [4*C2, C1] row-major (row (2a+b)*C2 + co)
  const float* b2 = nullptr;  // [C2]
  const float* hyper = nullptr;  // [M, C2] hypernetwork outputs, row stride ldh
  int64_t ldh = 0;
  int m = 0;
  float* out = nullptr;  // [M, 4G, 4G] masks, plane stride out_plane, row stride 4G
  int64_t out_plane = 0;
  // mask_upscale_bf16 only: both ConvTs with bf16 inputs (f32 sums) through
  // this gemm_bf16 table; ConvT1's matrix packed by its gemm_bf16_pack_b_nk*
  // (w1_packed is then not read; W2 is rounded to bf16 as the GEMM packs it,
  // and so are the tokens and the GELU(LayerNorm) activations in between).
  const GemmBf16Kernels* gemm_bf16 = nullptr;
  const uint16_t* w1_packed_bf16 = nullptr;
  // ConvT1 given in factored form (f32 mask_upscale only; w1, w1_packed and b1 are
  // then not read): ConvT1's output for token r is
  //   x_scale[r] * x[r] + fa[r] fb^T            ([4*C1] each; x is then [G*G, 4*C1])
  // with fa [G*G, fk] per-token coefficients (row stride ldfa) and fb [4*C1, fk]
  // (row stride ldfb), fb_packed the same packed by table().gemm_pack_b_nk. The
  // mask decoder folds ConvT1 through the two-way transformer's LayerNorms this way.
  const float* x_scale = nullptr;
  const float* fa = nullptr;
  int64_t ldfa = 0;
  const float* fb = nullptr;  // read by the reference only
  int64_t ldfb = 0;
  const float* fb_packed = nullptr;
  int fk = 0;
  int row0 = 0, row1 = 0;    // input grid rows [row0, row1) of this call
  float* scratch = nullptr;  // mask_upscale_scratch_floats(...) floats
};

// The mask_upscale family's slots in the kernel table (kernels/table.h): the
// scratch floats per call and the kernel. Its variants:
// kernels/cpu/mask_upscale_variants.cpp.
struct MaskUpscaleKernels {
  static constexpr const char* family = "mask_upscale";
  static VariantList<MaskUpscaleKernels> variants();  // best first
  size_t (*mask_upscale_scratch_floats)(int g, int d, int c1, int c2, int m) = nullptr;
  void (*mask_upscale)(const MaskUpscaleArgs& a) = nullptr;
  // The same with the two ConvT products in bf16 (a.gemm_bf16 set; `gemm` is it).
  size_t (*mask_upscale_bf16_scratch_floats)(int g, int d, int c1, int c2, int m, const GemmBf16Kernels& gemm) = nullptr;
  void (*mask_upscale_bf16)(const MaskUpscaleArgs& a) = nullptr;
};

namespace ref {
// Plain loops in double (the test oracle). With `bf16`, the operands of the
// two ConvT products (tokens, W1, the GELU(LayerNorm) activations, W2) are
// first rounded to bf16 (ref::f32_to_bf16), as mask_upscale_bf16 rounds them.
void mask_upscale(const MaskUpscaleArgs& a, bool bf16 = false);
}  // namespace ref

}  // namespace kernels
