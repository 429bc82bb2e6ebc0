// Fused mask upscaling for scalar: cpu/simd/mask_upscale_impl.h over VecScalar and its packed GEMM.
#include "kernels/mask_upscale.h"
#include "../simd/gemm_impl.h"
#include "../simd/mask_upscale_impl.h"
#include "../simd/vec_scalar.h"

namespace kernels::scalar {
namespace {

using MU = simd::MaskUpscale<simd::VecScalar, simd::Gemm<simd::VecScalar, 4, 4>>;

size_t mask_upscale_scratch_floats(int g, int d, int c1, int c2, int m) { return MU::scratch_floats(g, d, c1, c2, m); }
void mask_upscale(const MaskUpscaleArgs& a) { MU::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/mask_upscale_variants.cpp): constant data, no code runs to make it.
extern constinit const MaskUpscaleKernels mask_upscale_kernels{
    .mask_upscale_scratch_floats = mask_upscale_scratch_floats,
    .mask_upscale = mask_upscale,
};

}  // namespace kernels::scalar
