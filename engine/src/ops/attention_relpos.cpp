#include "engine/ops/attention_relpos.h"
#include "../kernel_table.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "engine/ops/blas.h"
#include "engine/ops/rows.h"
#include "engine/runtime.h"
#include "engine/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/attention_bf16.h"

#include <string_view>
#include "kernels/table.h"

namespace engine::ops {

// Attention runs the fused kernel (kernels/attention.h: flash-style, the
// [N, N] scores never exist) unless SAM_ATTENTION=unfused selects the previous
// path, kept for comparisons: per head and kRowBlock query rows, OpenBLAS
// scores [kRowBlock, N] in a per-worker scratch buffer, bias, softmax, P @ v.
bool use_fused_attention() { return runtime_options().attention == AttentionPath::Fused; }

namespace {

// The fused kernel's slots for the precision in force: with Precision::Bf16 the
// attention_bf16 family (kernels/attention_bf16.h: Q K^T and P V on bf16 inputs,
// softmax and rel-pos bias in f32), else the f32 one. Same arguments, same scratch rules.
struct FusedSlots {
  size_t (*scratch_floats)(int h, int w, int hd);
  void (*run)(const kernels::AttentionRelPosArgs& a);
};

// True when the table's attention_bf16 variant is one with bf16 hardware
// (AVX512-BF16, AMX), not the portable one: that one rounds as the hardware
// does but runs scalar, far slower than the f32 SIMD kernel, so bf16 precision
// keeps f32 attention there (more exact too; the GEMMs still run in bf16).
bool bf16_attention_in_hardware(const kernels::KernelTable& t) {
  for (size_t i = 0; i < t.family_names.size(); ++i)
    if (std::string_view(t.family_names[i]) == kernels::AttentionBf16Kernels::family)
      return std::string_view(t.variant_names[i]) != "scalar" && std::string_view(t.variant_names[i]) != "ref";
  return false;
}

FusedSlots fused_slots() {
  const kernels::KernelTable& t = kernel_table();
  static const bool bf16 = runtime_options().precision == Precision::Bf16 && bf16_attention_in_hardware(t);
  if (bf16) return {t.attention_bf16_scratch_floats, t.attention_bf16};
  return {t.attention_relpos_scratch_floats, t.attention_relpos};
}

// Query rows per unfused work item.
constexpr int kRowBlock = 256;

int row_block(int tokens) { return std::min(kRowBlock, tokens); }

}  // namespace

size_t attention_relpos_scratch_floats(int h, int w, int hd) {
  return attention_relpos_scratch_floats(h, w, hd, runtime_options().attention);
}

size_t attention_relpos_scratch_floats(int h, int w, int hd, AttentionPath path) {
  if (path == AttentionPath::Fused) return fused_slots().scratch_floats(h, w, hd);
  const size_t t = static_cast<size_t>(h) * w, rb = static_cast<size_t>(row_block(h * w));
  return rb * t + rb * static_cast<size_t>(2 * h - 1 + 2 * w - 1);
}

namespace {

// The fused kernel's work items: (window, head, chunk of query rows). Whole
// heads unless that leaves fewer than 4 items per worker; chunks stay >= 256
// rows so that each call's packing of K and V (T rows) stays a small share.
// Every query row's arithmetic is the same whatever the split.
int fused_chunks_per_head(int64_t windows_x_heads, int tokens, int workers) {
  int chunks = 1;
  while (windows_x_heads * chunks < 4 * workers && tokens / (2 * chunks) >= 256) chunks *= 2;
  return chunks;
}

void attention_heads_fused(const AttentionRelPosCall& a) {
  const int t_len = a.h * a.w, hd = a.dim / a.heads, ld = 3 * a.dim;
  const float* rel_h = a.rel_pos_h->data<float>();
  const float* rel_w = a.rel_pos_w->data<float>();
  const FusedSlots fused = fused_slots();
  const int grid = a.grid_side;
  const int nw_side = grid > 0 ? (grid + a.w - 1) / a.w : 0;
  thread_pool().run([&](int worker, int workers) {
    const int chunks = fused_chunks_per_head(int64_t{a.windows} * a.heads, t_len, workers);
    const int64_t items = int64_t{a.windows} * a.heads * chunks;
    kernels::AttentionRelPosArgs k;
    k.ldq = k.ldk = k.ldv = ld;
    k.h = a.h;
    k.w = a.w;
    k.hd = hd;
    k.scale = 1.f / std::sqrt(static_cast<float>(hd));  // head_dim ** -0.5
    k.rel_pos_h = rel_h;
    k.rel_pos_w = rel_w;
    k.ldo = a.dim;
    k.scratch = a.scratch + static_cast<size_t>(worker) * a.scratch_floats;
    k.scratch_floats = a.scratch_floats;
    for (int64_t item = items * worker / workers; item < items * (worker + 1) / workers; ++item) {
      const int64_t win = item / (int64_t{a.heads} * chunks);
      const int head = static_cast<int>(item / chunks % a.heads), chunk = static_cast<int>(item % chunks);
      int64_t first_row = win * t_len;  // the window's first token row in qkv / ctx
      int queries = t_len;
      if (grid > 0) {  // in place: window (wy, wx) of the grid, its padding outside
        const int oy = static_cast<int>(win / nw_side) * a.h, ox = static_cast<int>(win % nw_side) * a.w;
        first_row = int64_t{oy} * grid + ox;
        k.row_step = k.out_row_step = grid;
        k.valid_h = std::min(a.h, grid - oy);
        k.valid_w = std::min(a.w, grid - ox);
        k.k_pad = a.qkv_bias + a.dim + head * hd;
        k.v_pad = a.qkv_bias + 2 * a.dim + head * hd;
        queries = k.valid_h * k.valid_w;
      }
      const float* base = a.qkv + first_row * ld + head * hd;  // q; k and v follow at +C, +2C
      k.q = base;
      k.k = base + a.dim;
      k.v = base + 2 * a.dim;
      k.out = a.ctx + first_row * a.dim + head * hd;
      k.r0 = static_cast<int>(int64_t{queries} * chunk / chunks);
      k.r1 = static_cast<int>(int64_t{queries} * (chunk + 1) / chunks);
      fused.run(k);
    }
  });
}

}  // namespace

// Attention.forward between the qkv and proj linears, for every window and head:
//   attn = (q * scale) @ k^T + rel_h[q_h, q_w, k_h] + rel_w[q_h, q_w, k_w]
//   ctx  = softmax(attn) @ v
// get_rel_pos (q_size == k_size, no interpolation) gives Rh[qh, kh] =
// rel_pos_h[qh - kh + h - 1], so rel_h[t, kh] = q_t . rel_pos_h[qh - kh + h - 1]:
// one small GEMM P_h = q @ rel_pos_h^T [rows, 2h - 1] and a gather (same for w).
// Work item = (window, head, block of query rows); each worker owns its scratch.
void attention_relpos(const AttentionRelPosCall& a) { attention_relpos(a, runtime_options().attention); }

void attention_relpos(const AttentionRelPosCall& a, AttentionPath path) {
  if (path == AttentionPath::Fused) {
    attention_heads_fused(a);
    return;
  }
  assert(a.grid_side == 0);  // (in-place windows: the fused kernel only)
  const int t_len = a.h * a.w, hd = a.dim / a.heads, ld = 3 * a.dim;
  const int lh = 2 * a.h - 1, lw = 2 * a.w - 1;
  const int rb = row_block(t_len);
  const int blocks_per_head = (t_len + rb - 1) / rb;
  const int64_t items = int64_t{a.windows} * a.heads * blocks_per_head;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));  // head_dim ** -0.5
  const float* rel_h = a.rel_pos_h->data<float>();
  const float* rel_w = a.rel_pos_w->data<float>();

  SingleThreadedBlas blas_guard;
  thread_pool().run([&](int worker, int workers) {
    float* scores = a.scratch + static_cast<size_t>(worker) * a.scratch_floats;  // [rb, T]
    float* ph = scores + static_cast<size_t>(rb) * t_len;                        // [rb, 2h - 1]
    float* pw = ph + static_cast<size_t>(rb) * lh;                               // [rb, 2w - 1]
    const int64_t lo = items * worker / workers, hi = items * (worker + 1) / workers;
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t win = item / (int64_t{a.heads} * blocks_per_head);
      const int head = static_cast<int>(item / blocks_per_head % a.heads);
      const int r0 = static_cast<int>(item % blocks_per_head) * rb;
      const int rows = std::min(rb, t_len - r0);
      const float* base = a.qkv + win * t_len * ld;
      const float* q = base + static_cast<int64_t>(r0) * ld + head * hd;
      const float* k = base + a.dim + head * hd;
      const float* v = base + 2 * a.dim + head * hd;

      gemm_blas(true, rows, t_len, hd, scale, q, ld, k, ld, scores, t_len);  // (q * scale) @ k^T
      gemm_blas(true, rows, lh, hd, 1.f, q, ld, rel_h, hd, ph, lh);          // q @ rel_pos_h^T
      gemm_blas(true, rows, lw, hd, 1.f, q, ld, rel_w, hd, pw, lw);          // q @ rel_pos_w^T
      // add_decomposed_rel_pos: attn.view(qh, qw, kh, kw) + rel_h[..., None] + rel_w[..., None, :]
      for (int r = 0; r < rows; ++r) {
        const int tq = r0 + r, qh = tq / a.w, qw = tq % a.w;
        float* srow = scores + static_cast<int64_t>(r) * t_len;
        const float* prh = ph + static_cast<int64_t>(r) * lh + qh + a.h - 1;  // prh[-kh] = rel_h[kh]
        const float* prw = pw + static_cast<int64_t>(r) * lw + qw + a.w - 1;  // prw[-kw] = rel_w[kw]
        for (int kh = 0; kh < a.h; ++kh) {
          const float bh = prh[-kh];
          float* s = srow + kh * a.w;
          for (int kw = 0; kw < a.w; ++kw) s[kw] = (s[kw] + bh) + prw[-kw];
        }
      }
      softmax_rows_serial(scores, rows, t_len, t_len);
      float* out = a.ctx + (win * t_len + r0) * a.dim + head * hd;
      gemm_blas(false, rows, hd, t_len, 1.f, scores, t_len, v, ld, out, a.dim);  // attn @ v
    }
  });
}


}  // namespace engine::ops
