// Window attention with a per-head bias for scalar: cpu/simd/bias_attention_impl.h over VecScalar.
#include "kernels/bias_attention.h"
#include "../simd/bias_attention_impl.h"
#include "../simd/vec_scalar.h"

namespace kernels::scalar {
namespace {

void bias_attention(const BiasAttentionArgs& a) { simd::BiasAttention<simd::VecScalar>::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/bias_attention_variants.cpp): constant data, no code runs to make it.
extern constinit const BiasAttentionKernels bias_attention_kernels{
    .bias_attention = bias_attention,
};

}  // namespace kernels::scalar
