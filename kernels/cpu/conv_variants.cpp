// The conv variants (kernels/conv.h), best first: the kernel table takes the first
// whose needs the allowed CPU features contain. Each variant's slots are defined in
// its own translation unit (cpu/<isa>/conv_<isa>.cpp, compiled with that ISA's flags).
#include "kernels/conv.h"

namespace kernels {

namespace avx512 { extern const ConvKernels conv_kernels; }
namespace avx2 { extern const ConvKernels conv_kernels; }
namespace scalar { extern const ConvKernels conv_kernels; }

namespace {

constexpr Variant<ConvKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::conv_kernels},
    {"avx2", tier::avx2, &avx2::conv_kernels},
    {"scalar", tier::scalar, &scalar::conv_kernels},
};

}  // namespace

VariantList<ConvKernels> ConvKernels::variants() { return kVariants; }

}  // namespace kernels
