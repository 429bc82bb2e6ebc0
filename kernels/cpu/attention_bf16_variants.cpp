// The attention_bf16 variants (the fused rel-pos attention with bf16 products,
// kernels/attention_bf16.h), best first: the kernel table takes the first whose
// needs the allowed CPU features contain. Each variant's slots are defined in
// its own translation unit, compiled with exactly the flags its `needs` names.
#include "kernels/attention_bf16.h"

namespace kernels {

namespace avx512_bf16 { extern const AttentionBf16Kernels attention_bf16_kernels; }
namespace scalar { extern const AttentionBf16Kernels attention_bf16_kernels; }

namespace {

constexpr Variant<AttentionBf16Kernels> kVariants[] = {
    {"avx512_bf16", tier::avx512.with(Feature::avx512_bf16), &avx512_bf16::attention_bf16_kernels},
    {"scalar", tier::scalar, &scalar::attention_bf16_kernels},
};

}  // namespace

VariantList<AttentionBf16Kernels> AttentionBf16Kernels::variants() { return kVariants; }

}  // namespace kernels
