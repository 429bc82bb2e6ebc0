// The mask_upscale variants (the fused mask upscaling, kernels/mask_upscale.h), best first: the
// kernel table takes the first whose needs the allowed CPU features contain. Each variant's slots
// are defined in its own translation unit (cpu/<isa>/mask_upscale_<isa>.cpp, compiled with that
// ISA's flags); `needs` is what those flags let the compiler use.
#include "kernels/mask_upscale.h"

namespace kernels {

namespace avx512 { extern const MaskUpscaleKernels mask_upscale_kernels; }
namespace avx2 { extern const MaskUpscaleKernels mask_upscale_kernels; }
namespace scalar { extern const MaskUpscaleKernels mask_upscale_kernels; }

namespace {

constexpr Variant<MaskUpscaleKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::mask_upscale_kernels},
    {"avx2", tier::avx2, &avx2::mask_upscale_kernels},
    {"scalar", tier::scalar, &scalar::mask_upscale_kernels},
};

}  // namespace

VariantList<MaskUpscaleKernels> MaskUpscaleKernels::variants() { return kVariants; }

}  // namespace kernels
