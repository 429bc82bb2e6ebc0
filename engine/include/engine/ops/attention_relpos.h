// Multi-head attention with SAM's decomposed relative-position bias
// (modeling/image_encoder.py: Attention.forward between the qkv and proj
// linears, get_rel_pos, add_decomposed_rel_pos) over windows or the whole
// grid, for every window and head, split over the thread pool:
//   attn = (q * scale) @ k^T + rel_h[q_h, q_w, k_h] + rel_w[q_h, q_w, k_w]
//   ctx  = softmax(attn) @ v
// Fused (flash-style, the [T, T] scores never exist; kernels/attention.h) unless
// the runtime selects the unfused path kept for comparisons (SAM_ATTENTION=unfused).
#pragma once

#include <cstddef>

#include "engine/runtime.h"
#include "engine/tensor.h"

namespace engine::ops {

struct AttentionRelPosCall {
  const float* qkv = nullptr;  // [nW * T, 3C], columns (3, heads, head_dim) as qkv.reshape(B, T, 3, nH, -1)
  float* ctx = nullptr;        // [nW * T, C], columns (heads, head_dim): (attn @ v) permuted back to BHWC
  int windows = 1, h = 0, w = 0;  // T = h * w tokens per window (q_size = k_size = (h, w))
  int dim = 0, heads = 0;
  const Tensor* rel_pos_h = nullptr;  // [2h - 1, head_dim]
  const Tensor* rel_pos_w = nullptr;  // [2w - 1, head_dim]
  float* scratch = nullptr;
  size_t scratch_floats = 0;  // per worker
  // Windows read in place from the token grid (fused kernel only): qkv and ctx are then
  // [G * G, 3C] / [G * G, C] in grid order, the windows h x w cut from a grid_side x
  // grid_side grid, and the padding tokens' keys / values are qkv_bias's k / v parts
  // (window_partition pads with zeros; the qkv linear maps a zero row to its bias).
  int grid_side = 0;  // 0: qkv / ctx are already in window order (nW windows of T rows)
  const float* qkv_bias = nullptr;
};

// True unless the runtime options select the unfused path (SAM_ATTENTION=unfused).
bool use_fused_attention();
// Floats of scratch one worker needs for windows of h x w tokens and head dim hd
// (call.scratch holds one such block per pool thread), on the runtime's path.
size_t attention_relpos_scratch_floats(int h, int w, int hd);
void attention_relpos(const AttentionRelPosCall& call);
// The same on an explicit path (benchmarks compare the two in one process).
// The unfused path needs windows in window order (grid_side == 0).
size_t attention_relpos_scratch_floats(int h, int w, int hd, AttentionPath path);
void attention_relpos(const AttentionRelPosCall& call, AttentionPath path);

}  // namespace engine::ops
