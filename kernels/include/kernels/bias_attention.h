// Window attention with a learned per-head bias, as TinyViT's Attention
// (mobile_sam/modeling/tiny_vit_sam.py) computes it in eval mode:
//   attn = softmax(q k^T * scale + ab[head]),  out = attn v
// where ab = attention_biases[:, attention_bias_idxs] ([heads, N, N], gathered
// once from the per-head table by the relative-offset index; the caller builds it).
// One call does `windows` windows of N tokens each. qkv holds per token the
// official qkv Linear output, viewed (N, heads, 3 * head_dim) and split
// [key_dim, key_dim, d] per head: head h's q at h * 3 hd, k at h * 3 hd + hd, v
// at h * 3 hd + 2 hd. out is [windows * N, heads * hd] (the official
// (attn @ v).transpose(1, 2).reshape(B, N, dh)).
#pragma once

#include <cstddef>

#include "kernels/variant.h"

namespace kernels {

struct BiasAttentionArgs {
  const float* qkv = nullptr;  // [windows * n, heads * 3 * head_dim]
  const float* bias = nullptr;  // [heads, n, n]
  int windows = 0, n = 0, heads = 0, head_dim = 0;
  float scale = 1.f;
  float* out = nullptr;  // [windows * n, heads * head_dim]
  // Work items are (window, head) pairs [job_begin, job_end): window = job / heads.
  int job_begin = 0, job_end = 0;
};

namespace ref {
void bias_attention(const BiasAttentionArgs& a);
}  // namespace ref

// The bias_attention family's slots (kernels/table.h); variants:
// kernels/cpu/bias_attention_variants.cpp. Scratch is the kernel's own
// (per-thread, kernels/cpu/thread_scratch.h).
struct BiasAttentionKernels {
  static constexpr const char* family = "bias_attention";
  static VariantList<BiasAttentionKernels> variants();  // best first
  void (*bias_attention)(const BiasAttentionArgs& a) = nullptr;
};

}  // namespace kernels
