// Fused attention with SAM's decomposed relative-position bias on the device,
// for every (window, head) of an image encoder block in one launch. The maths
// per (window, head) is kernels/attention.h's (the CPU kernels' contract):
//
//   s[t, u] = scale * q_t . k_u + q_t . rel_pos_h[th - uh + h - 1] + q_t . rel_pos_w[tw - uw + w - 1]
//   out[t]  = sum_u softmax_u(s[t, :]) v_u        t, u in an h x w grid, T = h * w
//
// Flash style: a block owns 64 queries of one (window, head); their bias terms
// q_t . rel_pos_h[.] (h per query) and q_t . rel_pos_w[.] (w per query) are
// computed once into shared memory, then 64-key tiles of K and V stream through
// shared memory with an online softmax. No [T, T] matrix exists anywhere.
//
// Layout: SAM's qkv linear output [nW * T, 3C] read in place. Element (t, d) of
// window n, head i is at  q + n * q_window_stride + i * q_head_stride + t * ldq + d
// (for SAM: ldq = 3C, q_window_stride = T * 3C, q_head_stride = hd, k = q + C,
// v = q + 2C), likewise for k, v and out (SAM: ctx [nW * T, C], ldo = C).
// The rel-pos tables are shared by all heads and windows, as in SAM.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace kernels::cuda {

struct AttentionRelPosArgs {
  const float* q = nullptr;
  int64_t ldq = 0, q_window_stride = 0, q_head_stride = 0;
  const float* k = nullptr;
  int64_t ldk = 0, k_window_stride = 0, k_head_stride = 0;
  const float* v = nullptr;
  int64_t ldv = 0, v_window_stride = 0, v_head_stride = 0;
  int windows = 1, heads = 1;
  int h = 0, w = 0;   // the token grid of one window, T = h * w
  int hd = 0;         // head dim, 1 .. attention_relpos_max_head_dim()
  float scale = 1.f;  // head_dim ** -0.5 in SAM (the bias uses the unscaled q)
  const float* rel_pos_h = nullptr;  // [2h - 1, hd], contiguous
  const float* rel_pos_w = nullptr;  // [2w - 1, hd], contiguous
  float* out = nullptr;              // columns [0, hd) of each (window, head) written, nothing else
  int64_t ldo = 0, out_window_stride = 0, out_head_stride = 0;
};

// Largest head dim the kernel takes (head dims are padded to 64 or 128 inside).
int attention_relpos_max_head_dim();
// Dynamic shared memory one block needs for an h x w grid and head dim hd
// (for sizing questions; the launch checks it against the device's limit).
size_t attention_relpos_smem_bytes(int h, int w, int hd);

// Throws std::invalid_argument on bad sizes (or a grid whose bias rows do not
// fit in shared memory), std::runtime_error if the launch fails.
void attention_relpos(const AttentionRelPosArgs& a, cudaStream_t stream);

}  // namespace kernels::cuda
