// Two-way cross-attention cores for scalar: cpu/simd/two_way_attention_impl.h over VecScalar.
#include "../kernel_decls.h"
#include "../simd/two_way_attention_impl.h"
#include "../simd/vec_scalar.h"

namespace kernels::scalar {

using TW = simd::TwoWay<simd::VecScalar>;

int tw_columns(int j) { return TW::columns(j); }
size_t tw_scratch_floats(int width, int jp) { return TW::scratch_floats(width, jp); }
void tokens_to_image(const TokensToImageArgs& a) { TW::tokens_to_image(a); }
void image_to_tokens(const ImageToTokensArgs& a) { TW::image_to_tokens(a); }

}  // namespace kernels::scalar
