// The two_way_attention variants (the two-way cross-attention cores, kernels/two_way_attention.h),
// best first: the kernel table takes the first whose needs the allowed CPU features contain. Each
// variant's slots are defined in its own translation unit (cpu/<isa>/two_way_attention_<isa>.cpp,
// compiled with that ISA's flags); `needs` is what those flags let the compiler use.
#include "kernels/two_way_attention.h"

namespace kernels {

namespace avx512 { extern const TwoWayAttentionKernels two_way_attention_kernels; }
namespace avx2 { extern const TwoWayAttentionKernels two_way_attention_kernels; }
namespace scalar { extern const TwoWayAttentionKernels two_way_attention_kernels; }

namespace {

constexpr Variant<TwoWayAttentionKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::two_way_attention_kernels},
    {"avx2", tier::avx2, &avx2::two_way_attention_kernels},
    {"scalar", tier::scalar, &scalar::two_way_attention_kernels},
};

}  // namespace

VariantList<TwoWayAttentionKernels> TwoWayAttentionKernels::variants() { return kVariants; }

}  // namespace kernels
