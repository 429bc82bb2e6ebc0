// Fused attention with decomposed rel-pos bias for avx512: cpu/simd/attention_impl.h over VecAvx512
// (score tile 12 x 32 keys, output tile 6 x (up to 4 x 16) head-dim columns, 192 queries x ~128 keys per block).
#include "kernels/attention.h"
#include "../simd/attention_impl.h"
#include "../simd/vec_avx512.h"

namespace kernels::avx512 {
namespace {

using A = simd::AttentionRelPos<simd::VecAvx512, 12, 2, 6, 4, 16, 128>;

size_t attention_relpos_scratch_floats(int h, int w, int hd) { return A::scratch_floats(h, w, hd); }
void attention_relpos(const AttentionRelPosArgs& a) { A::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/attention_variants.cpp): constant data, no code runs to make it.
extern constinit const AttentionKernels attention_kernels{
    .attention_relpos_scratch_floats = attention_relpos_scratch_floats,
    .attention_relpos = attention_relpos,
};

}  // namespace kernels::avx512
