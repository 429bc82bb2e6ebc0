// The attention variants (the fused rel-pos attention, kernels/attention.h), best first: the kernel
// table takes the first whose needs the allowed CPU features contain. Each variant's slots are
// defined in its own translation unit (cpu/<isa>/attention_<isa>.cpp, compiled with that ISA's
// flags); `needs` is what those flags let the compiler use.
#include "kernels/attention.h"

namespace kernels {

namespace avx512 { extern const AttentionKernels attention_kernels; }
namespace avx2 { extern const AttentionKernels attention_kernels; }
namespace scalar { extern const AttentionKernels attention_kernels; }

namespace {

constexpr Variant<AttentionKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::attention_kernels},
    {"avx2", tier::avx2, &avx2::attention_kernels},
    {"scalar", tier::scalar, &scalar::attention_kernels},
};

}  // namespace

VariantList<AttentionKernels> AttentionKernels::variants() { return kVariants; }

}  // namespace kernels
