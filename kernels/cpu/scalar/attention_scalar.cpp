// Fused attention with decomposed rel-pos bias for scalar: cpu/simd/attention_impl.h over VecScalar
// (4 x 4 tiles, 32 queries x ~128 keys per block).
#include "../kernel_decls.h"
#include "../simd/attention_impl.h"
#include "../simd/vec_scalar.h"

namespace kernels::scalar {

using A = simd::AttentionRelPos<simd::VecScalar, 4, 4, 4, 4, 8, 128>;

size_t attention_relpos_scratch_floats(int h, int w, int hd) { return A::scratch_floats(h, w, hd); }
void attention_relpos(const AttentionRelPosArgs& a) { A::run(a); }

}  // namespace kernels::scalar
