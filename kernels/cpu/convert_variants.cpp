// The convert variants (f32 <-> f16 / bf16 bulk conversions, kernels/convert.h), best first: the
// kernel table takes the first whose needs the allowed CPU features contain. Each variant's slots
// are defined in its own translation unit (cpu/<isa>/convert_<isa>.cpp, compiled with that ISA's
// flags); `needs` is what those flags let the compiler use.
#include "kernels/convert.h"

namespace kernels {

namespace avx512 { extern const ConvertKernels convert_kernels; }
namespace avx2 { extern const ConvertKernels convert_kernels; }

namespace {

// Below AVX2 the reference loops themselves (kernels/ref).
constexpr ConvertKernels kRef{
    .convert_f32_to_f16 = ref::convert_f32_to_f16,
    .convert_f16_to_f32 = ref::convert_f16_to_f32,
    .convert_f32_to_bf16 = ref::convert_f32_to_bf16,
    .convert_bf16_to_f32 = ref::convert_bf16_to_f32,
};

constexpr Variant<ConvertKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::convert_kernels},
    {"avx2", tier::avx2, &avx2::convert_kernels},
    {"ref", tier::scalar, &kRef},
};

}  // namespace

VariantList<ConvertKernels> ConvertKernels::variants() { return kVariants; }

}  // namespace kernels
