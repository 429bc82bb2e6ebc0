// The eltwise variants (GELU, add, row softmax and LayerNorm, kernels/eltwise.h), best first: the
// kernel table takes the first whose needs the allowed CPU features contain. Each variant's slots
// are defined in its own translation unit (cpu/<isa>/eltwise_<isa>.cpp, compiled with that ISA's
// flags); `needs` is what those flags let the compiler use.
#include "kernels/eltwise.h"

namespace kernels {

namespace avx512 { extern const EltwiseKernels eltwise_kernels; }
namespace avx2 { extern const EltwiseKernels eltwise_kernels; }

namespace {

// Below AVX2 the reference loops themselves (kernels/ref).
constexpr EltwiseKernels kRef{
    .gelu = ref::gelu,
    .add = ref::add,
    .softmax_rows = ref::softmax_rows,
    .layer_norm = ref::layer_norm,
    .find_nonfinite = ref::find_nonfinite,
};

constexpr Variant<EltwiseKernels> kVariants[] = {
    {"avx512", tier::avx512, &avx512::eltwise_kernels},
    {"avx2", tier::avx2, &avx2::eltwise_kernels},
    {"ref", tier::scalar, &kRef},
};

}  // namespace

VariantList<EltwiseKernels> EltwiseKernels::variants() { return kVariants; }

}  // namespace kernels
