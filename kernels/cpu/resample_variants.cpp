// The resample variants (the bilinear row kernels, kernels/resample.h), best first: the kernel
// table takes the first whose needs the allowed CPU features contain. Each variant's slots are
// defined in its own translation unit (cpu/<isa>/resample_<isa>.cpp, compiled with that ISA's
// flags); `needs` is what those flags let the compiler use.
#include "kernels/resample.h"

namespace kernels {

namespace avx512 { extern const ResampleKernels resample_kernels; }
namespace avx2 { extern const ResampleKernels resample_kernels; }

namespace {

// Below AVX2 the reference loops themselves (kernels/ref).
constexpr ResampleKernels kRef{
    .resample_row = ref::resample_row,
    .blend_rows = ref::blend_rows,
    .blend_rows_threshold = ref::blend_rows_threshold,
};

constexpr Variant<ResampleKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::resample_kernels},
    {"avx2", tier::avx2, &avx2::resample_kernels},
    {"ref", tier::scalar, &kRef},
};

}  // namespace

VariantList<ResampleKernels> ResampleKernels::variants() { return kVariants; }

}  // namespace kernels
