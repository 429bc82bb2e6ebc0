// The mask decoder's folded cross attentions on the device: the contracts of
// kernels/two_way_attention.h (read that header for the maths and the folding),
// over all P image tokens in one call, pointers on the device.
//
//   token-to-image:  y[j] = sum_p softmax_p(s[j, :]) x[p],  s[j, p] = (q + qpe)[p] . at[:, j]
//     P is cut into 64-token chunks; a block scores a chunk against up to 64
//     columns, keeps its softmax partials (max, sum, weighted sum) in the
//     workspace, and a second kernel merges the chunks (log-sum-exp) and
//     divides: y holds the normalised means, m / l the overall max and sum
//     (as kernels::ref::tokens_to_image writes them).
//   image-to-token:  x[p] += sum_j softmax_{t in head}(s[p, :])[j] u[j] + ob, then
//     optionally LayerNorm (norm4); a block owns 32 image tokens and all J
//     columns. x may alias q (a block reads its q rows before writing them).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace kernels::cuda {

struct TokensToImageArgs {
  const float* at = nullptr;  // [Dq, jp] token-side factors (softmax scale included); columns [0, j) read
  int j = 0, jp = 0;          // J columns used, row stride of at (>= J)
  const float* q = nullptr;   // [P, Dq] score input, row stride ldq
  int64_t ldq = 0;
  const float* qpe = nullptr;  // [P, Dq] added to q for the scores (may be null)
  int64_t ldqpe = 0;
  int dq = 0;
  const float* x = nullptr;  // [P, D] values, row stride ldx
  int64_t ldx = 0;
  int d = 0;
  int64_t p = 0;             // image tokens (>= 1)
  float* y = nullptr;        // [J, D] softmax-weighted means, row stride ldy
  int64_t ldy = 0;
  float* m = nullptr;        // [J] max_p s
  float* l = nullptr;        // [J] sum_p exp(s - m)
  float* workspace = nullptr;  // tokens_to_image_workspace_floats(j, d, p) floats
  size_t workspace_floats = 0;
};

struct ImageToTokensArgs {
  const float* bt = nullptr;  // [Dq, jp] token-side factors (softmax scale included)
  const float* cb = nullptr;  // [J] score bias (scale included)
  int heads = 0, t = 0;       // J = heads * t; softmax over each head's t columns
  int jp = 0;                 // row stride of bt (>= J)
  const float* q = nullptr;   // [P, Dq] score input
  int64_t ldq = 0;
  const float* qpe = nullptr;  // may be null
  int64_t ldqpe = 0;
  int dq = 0;
  const float* u = nullptr;   // [J, D] values through out_proj, row stride D
  const float* ob = nullptr;  // [D] out_proj bias
  float* x = nullptr;         // [P, D] residual stream, row stride ldx; may alias q
  int64_t ldx = 0;
  int d = 0;
  int64_t p = 0;
  const float* ln_weight = nullptr;  // LayerNorm over D after the residual add (null: none)
  const float* ln_bias = nullptr;
  float ln_eps = 1e-5f;
};

size_t tokens_to_image_workspace_floats(int j, int d, int64_t p);
// Both throw std::invalid_argument on bad sizes (or an image-to-token J too
// wide for shared memory), std::runtime_error if a launch fails.
void tokens_to_image(const TokensToImageArgs& a, cudaStream_t stream);
void image_to_tokens(const ImageToTokensArgs& a, cudaStream_t stream);

}  // namespace kernels::cuda
