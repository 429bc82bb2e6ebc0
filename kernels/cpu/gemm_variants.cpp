// The gemm variants (the packed SGEMM, kernels/gemm.h), best first: the kernel table takes the
// first whose needs the allowed CPU features contain. Each variant's slots are defined in its own
// translation unit (cpu/<isa>/gemm_<isa>.cpp, compiled with that ISA's flags); `needs` is what
// those flags let the compiler use.
#include "kernels/gemm.h"

namespace kernels {

namespace avx512 { extern const GemmKernels gemm_kernels; }
namespace avx2 { extern const GemmKernels gemm_kernels; }
namespace scalar { extern const GemmKernels gemm_kernels; }

namespace {

constexpr Variant<GemmKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::gemm_kernels},
    {"avx2", tier::avx2, &avx2::gemm_kernels},
    {"scalar", tier::scalar, &scalar::gemm_kernels},
};

}  // namespace

VariantList<GemmKernels> GemmKernels::variants() { return kVariants; }

}  // namespace kernels
