// Cross-attention cores of SAM's two-way transformer (mask decoder,
// segment_anything/modeling/transformer.py: Attention with a few prompt tokens
// on one side and the P = 64x64 image tokens on the other).
//
// The per-head projections of the image side are folded into the token side
// by the caller, so the [P, Di] projections of the image tokens need not be
// formed. With J = heads x T score columns (j = h*T + t):
//
//   token-to-image:  s[j, p] = (q + qpe)[p] . at[:, j]        softmax over p,
//                    y[j]    = sum_p softmax(s)[j, p] x[p]     [J, D]
//   image-to-token:  s[p, j] = (q + qpe)[p] . bt[:, j] + cb[j]  softmax over the
//                    T columns of each head, x[p] += sum_j softmax(s)[p, j] u[j] + ob,
//                    then optionally LayerNorm of x[p] (norm4).
//
// q [P, Dq] is what the scores read (the image tokens, or their cached
// projection), x [P, D] the values / the residual stream (often q itself).
// Both kernels read each image token once, in blocks that stay in L1/L2: the
// scores, the softmax and the weighted sums are done on a block before the
// next one is loaded. Row strides in elements; at / bt are [Dq, Jp] with
// Jp = table().tw_columns(J), the columns past J zero.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/variant.h"

namespace kernels {

struct TokensToImageArgs {
  const float* at = nullptr;  // [Dq, Jp] token-side factors, softmax scale included
  int j = 0;                  // J used columns
  int jp = 0;                 // padded width
  const float* q = nullptr;   // [P, Dq] score input
  int64_t ldq = 0;
  const float* qpe = nullptr;  // [P, Dq] added to q for the scores (may be null)
  int64_t ldqpe = 0;
  int dq = 0;
  const float* x = nullptr;  // [P, D] values
  int64_t ldx = 0;
  int d = 0;
  int64_t p0 = 0, p1 = 0;  // image tokens [p0, p1) of this call
  // Results for this range: y [J, D] = sum_p exp(s - m) x[p] (unnormalised),
  // m [J] = max_p s, l [J] = sum_p exp(s - m). Disjoint ranges combine with
  // tokens_to_image_merge(), then tokens_to_image_normalize() divides by l.
  float* y = nullptr;
  int64_t ldy = 0;
  float* m = nullptr;
  float* l = nullptr;
  float* scratch = nullptr;  // tw_scratch_floats(max(Dq, D), Jp) floats, 64-byte aligned
};

struct ImageToTokensArgs {
  const float* bt = nullptr;  // [Dq, Jp] token-side factors, softmax scale included
  const float* cb = nullptr;  // [Jp] score bias (scale included; zero past J)
  int heads = 0, t = 0;       // J = heads * t; softmax over each group of t columns
  int jp = 0;
  const float* q = nullptr;  // [P, Dq] score input
  int64_t ldq = 0;
  const float* qpe = nullptr;  // may be null
  int64_t ldqpe = 0;
  int dq = 0;
  const float* u = nullptr;   // [J, D] values already through out_proj (row stride D)
  const float* ob = nullptr;  // [D] out_proj bias
  float* x = nullptr;         // [P, D] residual: x += attention; may alias q (a block
  int64_t ldx = 0;            // of q is fully read before that block of x is written)
  int d = 0;
  int64_t p0 = 0, p1 = 0;
  const float* ln_weight = nullptr;  // LayerNorm over D after the residual add (null: none)
  const float* ln_bias = nullptr;
  float ln_eps = 1e-5f;
  // Optional taps of what the image side received (null: not written), rows p0..p1:
  // probs [P, J] the softmax weights (row p at probs + p * ldprobs, column h*t + k),
  // ln_stats [P, 2] the LayerNorm's mean and 1/sqrt(var + eps) (ln_weight set).
  float* probs = nullptr;
  int64_t ldprobs = 0;
  float* ln_stats = nullptr;
  float* scratch = nullptr;  // tw_scratch_floats(max(Dq, D), Jp) floats, 64-byte aligned
};

// (ya, ma, la) <- combination of the partial results a and b of disjoint ranges.
void tokens_to_image_merge(int j, int d, float* ya, int64_t ldya, float* ma, float* la, const float* yb,
                           int64_t ldyb, const float* mb, const float* lb);
// y[j] /= l[j]: the softmax-weighted mean of the values.
void tokens_to_image_normalize(int j, int d, float* y, int64_t ldy, const float* l);

// The two_way_attention family's slots in the kernel table (kernels/table.h):
// padded score width for J columns, scratch floats per call, the two kernels.
// Its variants: kernels/cpu/two_way_attention_variants.cpp.
struct TwoWayAttentionKernels {
  static constexpr const char* family = "two_way_attention";
  static VariantList<TwoWayAttentionKernels> variants();  // best first
  int (*tw_columns)(int j) = nullptr;
  size_t (*tw_scratch_floats)(int width, int jp) = nullptr;
  void (*tokens_to_image)(const TokensToImageArgs& a) = nullptr;
  void (*image_to_tokens)(const ImageToTokensArgs& a) = nullptr;
};

namespace ref {
// Plain loops in double over the same contracts (the test oracle). The
// reference tokens_to_image writes the normalised y (m = max, l = sum).
void tokens_to_image(const TokensToImageArgs& a);
void image_to_tokens(const ImageToTokensArgs& a);
}  // namespace ref

}  // namespace kernels
