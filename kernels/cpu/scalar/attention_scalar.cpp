// Fused attention with decomposed rel-pos bias for scalar: cpu/simd/attention_impl.h over VecScalar
// (4 x 4 tiles, 32 queries x ~128 keys per block).
#include "kernels/attention.h"
#include "../simd/attention_impl.h"
#include "../simd/vec_scalar.h"

namespace kernels::scalar {
namespace {

using A = simd::AttentionRelPos<simd::VecScalar, 4, 4, 4, 4, 8, 128>;

size_t attention_relpos_scratch_floats(int h, int w, int hd) { return A::scratch_floats(h, w, hd); }
void attention_relpos(const AttentionRelPosArgs& a) { A::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/attention_variants.cpp): constant data, no code runs to make it.
extern constinit const AttentionKernels attention_kernels{
    .attention_relpos_scratch_floats = attention_relpos_scratch_floats,
    .attention_relpos = attention_relpos,
};

}  // namespace kernels::scalar
