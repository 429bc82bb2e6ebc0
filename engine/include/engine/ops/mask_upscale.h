// The mask decoder's fused upscaling + mask product (modeling/mask_decoder.py:
// output_upscaling ConvT -> LayerNorm2d -> GELU -> ConvT -> GELU, then
// hyper_in @ upscaled), one grid row at a time, rows split over the thread pool;
// the contract is kernels/mask_upscale.h's (argument block re-exported here).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/mask_upscale.h"

namespace engine::ops {

using MaskUpscaleArgs = kernels::MaskUpscaleArgs;

// Scratch floats one worker needs (grid g, dims d -> c1 -> c2, m masks), for
// the f32 form or (bf16) the one with bf16 ConvT products.
size_t mask_upscale_scratch_floats(int g, int d, int c1, int c2, int m, bool bf16 = false);
// All g grid rows of `base` (its row range and scratch are set here): worker w
// uses scratch0 + w * scratch_stride. With base.w1_packed_bf16 set (ConvT1's
// matrix packed for the kernel table's gemm_bf16, e.g. Linear::packed_panels_bf16())
// the ConvT products run in bf16 (base.gemm_bf16 is set here).
// (A factored ConvT1, base.fa set, is f32 only: base.fb_packed from mask_upscale_pack_fb.)
void mask_upscale(const MaskUpscaleArgs& base, float* scratch0, int64_t scratch_stride);

// The factored ConvT1's fb [n, k] (row stride ldfb) packed for the kernel table's
// GEMM into `out` (mask_upscale_packed_fb_floats(n, k) floats).
size_t mask_upscale_packed_fb_floats(int n, int k);
void mask_upscale_pack_fb(const float* fb, int n, int k, int64_t ldfb, float* out);

}  // namespace engine::ops
