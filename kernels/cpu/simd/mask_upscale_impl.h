// ISA-generic fused output upscaling + mask product of the mask decoder
// (contract in kernels/mask_upscale.h) over a vector wrapper S and a GEMM
// policy M (f32: the packed GEMM of the same ISA; bf16: the kernel table's
// gemm_bf16 family, handed in through the arguments). Per input grid row i
// (G tokens):
//   y1  [G, 4*C1]   = x_i W1^T + b1           row j, column (2*a1 + b1)*C1 + c  (ConvT1)
//                     viewed as [4G, C1]: one row per ConvT1 output pixel (j, a1, b1)
//   y1  <- GELU(LayerNorm(y1)) per row
//   y2t [4*C2, 4G]  = W2 y1^T                 row (2*a2 + b2)*C2 + c, column (j, a1, b1)  (ConvT2)
//   y2t <- GELU(y2t + b2[c])
//   m[s2, k, col]   = sum_c hyper[k, c] y2t[s2*C2 + c, col]   (vectorised over col)
// and output pixel (4i + 2*a1 + a2, 4j + 2*b1 + b2) of mask k = m[(a2, b2), k, (j, a1, b1)].
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>

#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/mask_upscale.h"
#include "math_impl.h"

namespace kernels::simd {

// C [m, n] (ldc) = A [m, k] (lda) times a packed B: the fields both GEMM
// argument types (f32, bf16) share.
template <class Args, class B>
Args packed_gemm_args(int m, int n, int k, const float* a, int64_t lda, const B* b_packed, float* c, int64_t ldc) {
  Args g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a;
  g.lda = lda;
  g.b_packed = b_packed;
  g.c = c;
  g.ldc = ldc;
  return g;
}

// The f32 policy: ConvT1 against the packed [4*C1, D] matrix (a.w1_packed),
// ConvT2 as W2 times y1^T packed per row, both with the ISA's packed GEMM G.
template <class G>
struct MaskUpscaleF32 {
  static size_t packed_y1_floats(const GemmBf16Kernels*, int px, int c1) { return G::packed_b_floats(px, c1); }
  // ConvT1 of the tokens of grid row i, or its factored form (a.fa set).
  template <class S>
  static void conv1(const MaskUpscaleArgs& a, int i, float* y1) {
    const int64_t r0 = static_cast<int64_t>(i) * a.g;
    const float* x = a.x + r0 * a.ldx;
    const int n = 4 * a.c1;
    if (!a.fa) {
      auto g1 = packed_gemm_args<PackedGemmArgs>(a.g, n, a.d, x, a.ldx, a.w1_packed, y1, n);
      g1.epilogue.bias = a.b1;
      G::run(g1, 1, 0, G::jobs(g1, 1));
      return;
    }
    constexpr int L = S::kLanes;
    for (int r = 0; r < a.g; ++r) {  // y1 = x_scale x, then += fa fb^T in the GEMM
      const typename S::V sc = S::set1(a.x_scale[r0 + r]);
      const float* xr = x + r * a.ldx;
      float* yr = y1 + static_cast<int64_t>(r) * n;
      int c = 0;
      for (; c + L <= n; c += L) S::store(yr + c, S::mul(sc, S::load(xr + c)));
      for (; c < n; ++c) yr[c] = a.x_scale[r0 + r] * xr[c];
    }
    auto g1 = packed_gemm_args<PackedGemmArgs>(a.g, n, a.fk, a.fa + r0 * a.ldfa, a.ldfa, a.fb_packed, y1, n);
    g1.epilogue.accumulate = true;
    G::run(g1, 1, 0, G::jobs(g1, 1));
  }
  static void conv2(const MaskUpscaleArgs& a, const float* y1, int px, float* buf, float* y2) {
    G::pack_b_nk(y1, px, a.c1, a.c1, buf);  // B = y1^T [C1, px]; channels become rows
    const auto g2 = packed_gemm_args<PackedGemmArgs>(4 * a.c2, px, a.c1, a.w2, a.c1, buf, y2, px);
    G::run(g2, 1, 0, G::jobs(g2, 1));
  }
};

// The bf16 policy: the same two products through *a.gemm_bf16 (bf16 inputs,
// f32 sums): ConvT1 against a.w1_packed_bf16 (packed by that table), ConvT2
// with W2 rounded while the GEMM packs it and y1^T packed per row.
struct MaskUpscaleBf16 {
  static size_t packed_y1_floats(const GemmBf16Kernels* k, int px, int c1) {
    return (k->gemm_bf16_packed_b_elems(px, c1) + 1) / 2;
  }
  template <class S>
  static void conv1(const MaskUpscaleArgs& a, int i, float* y1) {
    assert(!a.fa);  // the factored ConvT1 is f32 only
    const float* x = a.x + static_cast<int64_t>(i) * a.g * a.ldx;
    auto g1 = packed_gemm_args<PackedGemmBf16Args>(a.g, 4 * a.c1, a.d, x, a.ldx, a.w1_packed_bf16, y1, 4 * a.c1);
    g1.epilogue.bias = a.b1;
    a.gemm_bf16->gemm_bf16_run(g1, 1, 0, a.gemm_bf16->gemm_bf16_jobs(g1, 1));
  }
  static void conv2(const MaskUpscaleArgs& a, const float* y1, int px, float* buf, float* y2) {
    uint16_t* bp = reinterpret_cast<uint16_t*>(buf);
    a.gemm_bf16->gemm_bf16_pack_b_nk(y1, px, a.c1, a.c1, bp);
    const auto g2 = packed_gemm_args<PackedGemmBf16Args>(4 * a.c2, px, a.c1, a.w2, a.c1, bp, y2, px);
    a.gemm_bf16->gemm_bf16_run(g2, 1, 0, a.gemm_bf16->gemm_bf16_jobs(g2, 1));
  }
};

template <class S, class M>
struct MaskUpscale {
  using V = typename S::V;
  static constexpr int L = S::kLanes;

  static size_t round16(size_t f) { return (f + 15) / 16 * 16; }
  // gemm: the bf16 policy's GEMM table (unused by the f32 one).
  static size_t scratch_floats(int g, int d, int c1, int c2, int m, const GemmBf16Kernels* gemm = nullptr) {
    (void)d;
    const size_t px = static_cast<size_t>(4) * g;  // ConvT1 output pixels of one grid row
    return round16(px * c1) + round16(M::packed_y1_floats(gemm, static_cast<int>(px), c1)) +
           round16(static_cast<size_t>(4) * c2 * px) + round16(static_cast<size_t>(4) * m * px) + 64;
  }

  static void run(const MaskUpscaleArgs& a) {
    assert(a.g > 0 && a.c1 > 0 && a.c2 > 0 && a.row0 >= 0 && a.row1 <= a.g);
    const int g = a.g, px = 4 * g, c1 = a.c1, c2 = a.c2, side = 4 * g;
    float* y1 = a.scratch;
    float* bp = y1 + round16(static_cast<size_t>(px) * c1);
    float* y2 = bp + round16(M::packed_y1_floats(a.gemm_bf16, px, c1));
    float* ms = y2 + round16(static_cast<size_t>(4) * c2 * px);  // [4 sub-pixels, M, px]
    for (int i = a.row0; i < a.row1; ++i) {
      M::template conv1<S>(a, i, y1);
      layer_norm<S>(y1, c1, y1, c1, a.ln_weight, a.ln_bias, px, c1, a.ln_eps);
      gelu_inplace<S>(y1, static_cast<int64_t>(px) * c1);
      M::conv2(a, y1, px, bp, y2);
      for (int r = 0; r < 4 * c2; ++r) {
        float* row = y2 + static_cast<int64_t>(r) * px;
        const V bias = S::set1(a.b2[r % c2]);
        int col = 0;
        for (; col + L <= px; col += L) S::store(row + col, gelu<S>(S::add(S::load(row + col), bias)));
        if (col < px) {
          for (int k = col; k < px; ++k) row[k] += a.b2[r % c2];
          gelu_inplace<S>(row + col, px - col);
        }
      }

      // Hypernetwork products, vectorised over the px columns.
      for (int s2 = 0; s2 < 4; ++s2)
        for (int k = 0; k < a.m; ++k) {
          const float* h = a.hyper + static_cast<int64_t>(k) * a.ldh;
          const float* ys = y2 + static_cast<int64_t>(s2) * c2 * px;
          float* o = ms + (static_cast<int64_t>(s2) * a.m + k) * px;
          // Four column vectors at a time: four independent FMA chains (one
          // chain of C2 dependent FMAs ran at the FMA latency, not its rate);
          // each output's sum over c keeps its order.
          int col = 0;
          for (; col + 4 * L <= px; col += 4 * L) {
            V acc0 = S::zero(), acc1 = S::zero(), acc2 = S::zero(), acc3 = S::zero();
            for (int c = 0; c < c2; ++c) {
              const V hc = S::set1(h[c]);
              const float* yc = ys + static_cast<int64_t>(c) * px + col;
              acc0 = S::fmadd(hc, S::load(yc), acc0);
              acc1 = S::fmadd(hc, S::load(yc + L), acc1);
              acc2 = S::fmadd(hc, S::load(yc + 2 * L), acc2);
              acc3 = S::fmadd(hc, S::load(yc + 3 * L), acc3);
            }
            S::store(o + col, acc0);
            S::store(o + col + L, acc1);
            S::store(o + col + 2 * L, acc2);
            S::store(o + col + 3 * L, acc3);
          }
          for (; col + L <= px; col += L) {
            V acc = S::zero();
            for (int c = 0; c < c2; ++c) acc = S::fmadd(S::set1(h[c]), S::load(ys + static_cast<int64_t>(c) * px + col), acc);
            S::store(o + col, acc);
          }
          for (; col < px; ++col) {
            float acc = 0.f;
            for (int c = 0; c < c2; ++c) acc += h[c] * ys[static_cast<int64_t>(c) * px + col];
            o[col] = acc;
          }
        }
      // Scatter: output row 4i + 2*a1 + a2, column 4j + 2*b1 + b2.
      for (int k = 0; k < a.m; ++k)
        for (int r = 0; r < 4; ++r) {
          const int a1 = r >> 1, a2 = r & 1;
          float* orow = a.out + k * a.out_plane + static_cast<int64_t>(4 * i + r) * side;
          for (int q = 0; q < 4; ++q) {
            const int b1 = q >> 1, b2 = q & 1;
            const float* src = ms + (static_cast<int64_t>(2 * a2 + b2) * a.m + k) * px + (2 * a1 + b1);
            for (int j = 0; j < g; ++j) orow[4 * j + q] = src[4 * j];
          }
        }
    }
  }
};

}  // namespace kernels::simd
