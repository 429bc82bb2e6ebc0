// Window attention with a per-head bias for avx512: cpu/simd/bias_attention_impl.h over VecAvx512.
#include "kernels/bias_attention.h"
#include "../simd/bias_attention_impl.h"
#include "../simd/vec_avx512.h"

namespace kernels::avx512 {
namespace {

void bias_attention(const BiasAttentionArgs& a) { simd::BiasAttention<simd::VecAvx512>::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/bias_attention_variants.cpp): constant data, no code runs to make it.
extern constinit const BiasAttentionKernels bias_attention_kernels{
    .bias_attention = bias_attention,
};

}  // namespace kernels::avx512
