// Attention of one head over one window with SAM's decomposed relative-position
// bias (segment_anything/modeling/image_encoder.py: Attention.forward with
// use_rel_pos, get_rel_pos and add_decomposed_rel_pos, q_size = k_size = (h, w)):
//
//   s[t, u] = scale * q_t . k_u + q_t . rel_pos_h[th - uh + h - 1] + q_t . rel_pos_w[tw - uw + w - 1]
//   out[t]  = sum_u softmax_u(s[t, :]) v_u
//
// for tokens t = (th, tw), u = (uh, uw) of an h x w grid in row-major order
// (t = th * w + tw, T = h * w). Note that the bias uses the unscaled q, as the
// official code does. The fast kernels (kernel table: attention_relpos) never
// materialise the [T, T] scores: they stream key blocks with an online softmax.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kernels {

struct AttentionRelPosArgs {
  const float* q = nullptr;  // [T, hd], row stride ldq (e.g. one head's columns of a qkv buffer)
  int64_t ldq = 0;
  const float* k = nullptr;  // [T, hd], row stride ldk
  int64_t ldk = 0;
  const float* v = nullptr;  // [T, hd], row stride ldv
  int64_t ldv = 0;
  int h = 0, w = 0;          // the token grid, T = h * w (h, w >= 1)
  int hd = 0;                // head dim (>= 1)
  float scale = 1.f;         // head_dim ** -0.5 in SAM
  const float* rel_pos_h = nullptr;  // [2h - 1, hd], contiguous
  const float* rel_pos_w = nullptr;  // [2w - 1, hd], contiguous
  float* out = nullptr;      // [T, hd], row stride ldo; only rows [r0, r1), columns [0, hd) are written
  int64_t ldo = 0;
  int r0 = 0, r1 = 0;        // query rows computed by this call (0 <= r0 <= r1 <= T): callers split work here
  float* scratch = nullptr;  // attention_relpos_scratch_floats(h, w, hd) floats, owned by this call while it runs
  size_t scratch_floats = 0;
};

namespace ref {
// Plain loops in double precision: the test oracle, same contract (scratch unused).
// If `bound` is not null, bound[(t - r0) * hd + c] receives, for each output
// written, the scale the float kernels' rounding error is measured against:
//   (sqrt(hd + 3) A_t + sqrt(T)) sum_u p[t, u] |v[u, c]|,
//   A_t = max_u (scale sum_d |q_td k_ud| + sum_d |q_td rh_d| + sum_d |q_td rw_d|):
// A_t bounds the terms summed into one score (hd + 3 roundings each), the sum
// the terms summed into the output over T keys; rounding errors of random sign
// grow like sqrt(n) u (see tests/kernels/test_attention.cpp).
void attention_relpos(const AttentionRelPosArgs& a, double* bound = nullptr);
}  // namespace ref

}  // namespace kernels
