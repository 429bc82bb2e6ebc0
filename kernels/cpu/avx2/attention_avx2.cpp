// Fused attention with decomposed rel-pos bias for avx2: cpu/simd/attention_impl.h over VecAvx2
// (score tile 6 x 16 keys, output tile 6 x (up to 2 x 8) head-dim columns, 96 queries x ~128 keys per block).
#include "kernels/attention.h"
#include "../simd/attention_impl.h"
#include "../simd/vec_avx2.h"

namespace kernels::avx2 {
namespace {

using A = simd::AttentionRelPos<simd::VecAvx2, 6, 2, 6, 2, 16, 128>;

size_t attention_relpos_scratch_floats(int h, int w, int hd) { return A::scratch_floats(h, w, hd); }
void attention_relpos(const AttentionRelPosArgs& a) { A::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/attention_variants.cpp): constant data, no code runs to make it.
extern constinit const AttentionKernels attention_kernels{
    .attention_relpos_scratch_floats = attention_relpos_scratch_floats,
    .attention_relpos = attention_relpos,
};

}  // namespace kernels::avx2
