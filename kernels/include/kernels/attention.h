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
//
// A window can be read in place from a larger token grid: token (th, tw) is
// row th * row_step + tw of q, k and v (row_step = w when 0), and query
// (th, tw) writes row th * out_row_step + tw of out. The window's tokens with
// th >= valid_h or tw >= valid_w are padding (window_partition's zeros, through
// the qkv linear: its bias): their keys and values are k_pad / v_pad, their
// queries are not computed. Queries are numbered over the valid tokens only,
// i = th * valid_w + tw, and r0 / r1 count those.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/variant.h"

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
  float* out = nullptr;      // [T, hd], row stride ldo; only the rows of queries [r0, r1), columns [0, hd) are written
  int64_t ldo = 0;
  int r0 = 0, r1 = 0;        // queries computed by this call (0 <= r0 <= r1 <= valid_h * valid_w): callers split work here
  int64_t row_step = 0;      // rows of q / k / v from one window row to the next (0: w)
  int64_t out_row_step = 0;  // the same for out (0: w)
  int valid_h = 0, valid_w = 0;  // the window's non-padding tokens (0: h, w)
  const float* k_pad = nullptr;  // [hd] key / value of the padding tokens (only read when valid < h, w)
  const float* v_pad = nullptr;
  float* scratch = nullptr;  // attention_relpos_scratch_floats(h, w, hd) floats, owned by this call while it runs
  size_t scratch_floats = 0;
};

// The layout rules above, for the kernels.
struct AttentionLayout {
  int w, vh, vw;
  int64_t step, out_step;
  explicit AttentionLayout(const AttentionRelPosArgs& a)
      : w(a.w),
        vh(a.valid_h > 0 ? a.valid_h : a.h),
        vw(a.valid_w > 0 ? a.valid_w : a.w),
        step(a.row_step > 0 ? a.row_step : a.w),
        out_step(a.out_row_step > 0 ? a.out_row_step : a.w) {}
  int queries() const { return vh * vw; }
  int query_token(int i) const { return i / vw * w + i % vw; }  // the token t = th * w + tw of query i
  bool valid(int t) const { return t / w < vh && t % w < vw; }
  int64_t row(int t) const { return t / w * step + t % w; }  // row of token t in q / k / v
  int64_t out_row(int i) const { return i / vw * out_step + i % vw; }
};

// The attention family's slots in the kernel table (kernels/table.h): the
// scratch one call needs for an h x w grid and head dim hd, and the kernel.
// Its variants: kernels/cpu/attention_variants.cpp.
struct AttentionKernels {
  static constexpr const char* family = "attention";
  static VariantList<AttentionKernels> variants();  // best first
  size_t (*attention_relpos_scratch_floats)(int h, int w, int hd) = nullptr;
  void (*attention_relpos)(const AttentionRelPosArgs& a) = nullptr;
};

namespace ref {
// Plain loops in double precision: the test oracle, same contract (scratch unused).
// If `bound` is not null, bound[(i - r0) * hd + c] receives, for each output (query i)
// written, the scale the float kernels' rounding error is measured against:
//   (sqrt(hd + 3) A_t + sqrt(T)) sum_u p[t, u] |v[u, c]|,
//   A_t = max_u (scale sum_d |q_td k_ud| + sum_d |q_td rh_d| + sum_d |q_td rw_d|):
// A_t bounds the terms summed into one score (hd + 3 roundings each), the sum
// the terms summed into the output over T keys; rounding errors of random sign
// grow like sqrt(n) u (see tests/kernels/test_attention.cpp).
void attention_relpos(const AttentionRelPosArgs& a, double* bound = nullptr);
}  // namespace ref

}  // namespace kernels
