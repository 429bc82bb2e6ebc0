// The bias_attention variants (kernels/bias_attention.h), best first: the kernel table takes the first
// whose needs the allowed CPU features contain. Each variant's slots are defined in
// its own translation unit (cpu/<isa>/bias_attention_<isa>.cpp, compiled with that ISA's flags).
#include "kernels/bias_attention.h"

namespace kernels {

namespace avx512 { extern const BiasAttentionKernels bias_attention_kernels; }
namespace avx2 { extern const BiasAttentionKernels bias_attention_kernels; }
namespace scalar { extern const BiasAttentionKernels bias_attention_kernels; }

namespace {

constexpr Variant<BiasAttentionKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::bias_attention_kernels},
    {"avx2", tier::avx2, &avx2::bias_attention_kernels},
    {"scalar", tier::scalar, &scalar::bias_attention_kernels},
};

}  // namespace

VariantList<BiasAttentionKernels> BiasAttentionKernels::variants() { return kVariants; }

}  // namespace kernels
