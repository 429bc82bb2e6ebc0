// Two-way cross-attention cores for scalar: cpu/simd/two_way_attention_impl.h over VecScalar.
#include "kernels/two_way_attention.h"
#include "../simd/two_way_attention_impl.h"
#include "../simd/vec_scalar.h"

namespace kernels::scalar {
namespace {

using TW = simd::TwoWay<simd::VecScalar>;

int tw_columns(int j) { return TW::columns(j); }
size_t tw_scratch_floats(int width, int jp) { return TW::scratch_floats(width, jp); }
void tokens_to_image(const TokensToImageArgs& a) { TW::tokens_to_image(a); }
void image_to_tokens(const ImageToTokensArgs& a) { TW::image_to_tokens(a); }

}  // namespace

// The slots of this variant (listed in cpu/two_way_attention_variants.cpp): constant data, no code runs to make it.
extern constinit const TwoWayAttentionKernels two_way_attention_kernels{
    .tw_columns = tw_columns,
    .tw_scratch_floats = tw_scratch_floats,
    .tokens_to_image = tokens_to_image,
    .image_to_tokens = image_to_tokens,
};

}  // namespace kernels::scalar
