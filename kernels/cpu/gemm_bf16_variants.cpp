// The gemm_bf16 variants (the packed GEMM with bf16 inputs, kernels/gemm_bf16.h), best first: the
// kernel table takes the first whose needs the allowed CPU features contain (and whose `ready`
// check passes). Each variant's slots are defined in its own translation unit, compiled with
// exactly the flags its `needs` names.
#include "kernels/gemm_bf16.h"

namespace kernels {

namespace amx { extern const GemmBf16Kernels gemm_bf16_kernels; }
namespace avx512_bf16 { extern const GemmBf16Kernels gemm_bf16_kernels; }
namespace scalar { extern const GemmBf16Kernels gemm_bf16_kernels; }

namespace {

constexpr Variant<GemmBf16Kernels> kVariants[] = {
    {"amx", tier::avx512.with(Feature::amx_tile).with(Feature::amx_bf16), &amx::gemm_bf16_kernels,
     request_amx_permission},
    {"avx512_bf16", tier::avx512.with(Feature::avx512_bf16), &avx512_bf16::gemm_bf16_kernels},
    {"scalar", tier::scalar, &scalar::gemm_bf16_kernels},
};

}  // namespace

VariantList<GemmBf16Kernels> GemmBf16Kernels::variants() { return kVariants; }

}  // namespace kernels
