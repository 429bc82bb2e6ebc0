// Fused mask upscaling for avx512: cpu/simd/mask_upscale_impl.h over VecAvx512 and its packed GEMM (f32), or the
// table's gemm_bf16 (bf16).
#include "kernels/mask_upscale.h"
#include "../simd/gemm_impl.h"
#include "../simd/mask_upscale_impl.h"
#include "../simd/vec_avx512.h"

namespace kernels::avx512 {
namespace {

using MU = simd::MaskUpscale<simd::VecAvx512, simd::MaskUpscaleF32<simd::Gemm<simd::VecAvx512, 14, 2>>>;
using MUBf16 = simd::MaskUpscale<simd::VecAvx512, simd::MaskUpscaleBf16>;

size_t mask_upscale_scratch_floats(int g, int d, int c1, int c2, int m) { return MU::scratch_floats(g, d, c1, c2, m); }
void mask_upscale(const MaskUpscaleArgs& a) { MU::run(a); }
size_t mask_upscale_bf16_scratch_floats(int g, int d, int c1, int c2, int m, const GemmBf16Kernels& gemm) {
  return MUBf16::scratch_floats(g, d, c1, c2, m, &gemm);
}
void mask_upscale_bf16(const MaskUpscaleArgs& a) { MUBf16::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/mask_upscale_variants.cpp): constant data, no code runs to make it.
extern constinit const MaskUpscaleKernels mask_upscale_kernels{
    .mask_upscale_scratch_floats = mask_upscale_scratch_floats,
    .mask_upscale = mask_upscale,
    .mask_upscale_bf16_scratch_floats = mask_upscale_bf16_scratch_floats,
    .mask_upscale_bf16 = mask_upscale_bf16,
};

}  // namespace kernels::avx512
