// The fused rel-pos attention (kernels/attention.h, same AttentionRelPosArgs
// contract: f32 q / k / v / out in memory) with bf16 products (issue 14: bf16
// on CPUs): the run-time precision choice engine::Precision::Bf16 selects this
// family instead of "attention".
//
//   * Q K^T: q and k rounded to bf16 (round to nearest even, ref::f32_to_bf16),
//     their products summed in f32; the rel-pos bias terms q . rel_pos_h / w
//     come from the f32 q and f32 tables, as in the f32 kernel.
//   * softmax in f32 (log2 units, online over key blocks).
//   * P V: the unnormalised probabilities p_u = 2^(log2(e) s_u - M) and v
//     rounded to bf16, products summed in f32; out = sum_u p_u v_u / sum_u p_u
//     (the denominator sums the rounded p_u: a proper weighted mean of v).
//     M is an integer (the online softmax's running max, rounded up): rescaling
//     by 2^(M_old - M) is then exact, so each p_u's rounding does not depend on
//     which keys the online softmax had seen (the same p_u for any key-block
//     size as for M = ceil(max_u log2(e) s_u) over all keys at once).
//   * k_pad / v_pad (padding tokens) are rounded like k / v.
//   * VDPBF16PS (the avx512_bf16 variant) treats bf16 subnormal inputs as zero:
//     only p_u < 2^-126 (negligible) is affected in practice.
#pragma once

#include <cstddef>

#include "kernels/attention.h"
#include "kernels/variant.h"

namespace kernels {

// The attention_bf16 family's slots in the kernel table (kernels/table.h);
// its variants: kernels/cpu/attention_bf16_variants.cpp ("avx512_bf16", "scalar").
struct AttentionBf16Kernels {
  static constexpr const char* family = "attention_bf16";
  static VariantList<AttentionBf16Kernels> variants();  // best first
  size_t (*attention_bf16_scratch_floats)(int h, int w, int hd) = nullptr;
  void (*attention_bf16)(const AttentionRelPosArgs& a) = nullptr;
};

namespace ref {
// The oracle: the maths above term by term in double (q, k, v, k_pad, v_pad
// and p_u rounded to bf16 as the kernels round them; scratch unused).
// If `bound` is not null, bound[(i - r0) * hd + c] receives the scale of the
// f32 rounding errors of the sums over the keys, (sqrt(T) + 2) sum_u p_u |v_u[c]| / sum_u p_u
// (P V, the denominator, the division). The scores' f32 rounding errors reach
// the output only through a different bf16 rounding of some p_u (alpha is
// exact; bf16 products are exact in f32), which is what `flips` bounds:
// if it is not null, flips[(i - r0) * hd + c] receives what a different
// rounding of the ambiguous p_u can change: the sum over keys u whose
// 2^(x_u - M) (1 +- e_u) round to different bf16 values of
// ulp_u (|v_u[c]| + |out[c]|) / sum_u p_u, where
// e_u = window * 2^-24 ((hd + 3) A_tu + 8) bounds the kernels' relative error
// of p_u before rounding: the score's f32 dot products (A_tu: the sum of
// |terms| of score (t, u), as in the f32 bound; (hd + 3) u A_tu is the worst
// case of their rounding) and the exponential's own few roundings; window is
// a safety factor.
void attention_relpos_bf16(const AttentionRelPosArgs& a, double* bound = nullptr, double* flips = nullptr,
                           double window = 2.0);
}  // namespace ref

}  // namespace kernels
