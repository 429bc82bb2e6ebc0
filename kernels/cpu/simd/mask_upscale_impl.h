// ISA-generic fused output upscaling + mask product of the mask decoder
// (contract in kernels/mask_upscale.h) over a vector wrapper S and the packed
// GEMM G of the same ISA. Per input grid row i (G tokens):
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
#include "kernels/mask_upscale.h"
#include "math_impl.h"

namespace kernels::simd {

template <class S, class G>
struct MaskUpscale {
  using V = typename S::V;
  static constexpr int L = S::kLanes;

  static size_t round16(size_t f) { return (f + 15) / 16 * 16; }
  static size_t scratch_floats(int g, int d, int c1, int c2, int m) {
    (void)d;
    const size_t px = static_cast<size_t>(4) * g;  // ConvT1 output pixels of one grid row
    return round16(px * c1) + round16(G::packed_b_floats(static_cast<int>(px), c1)) +
           round16(static_cast<size_t>(4) * c2 * px) + round16(static_cast<size_t>(4) * m * px) + 64;
  }

  static void run(const MaskUpscaleArgs& a) {
    assert(a.g > 0 && a.c1 > 0 && a.c2 > 0 && a.row0 >= 0 && a.row1 <= a.g);
    const int g = a.g, px = 4 * g, c1 = a.c1, c2 = a.c2, side = 4 * g;
    float* y1 = a.scratch;
    float* bp = y1 + round16(static_cast<size_t>(px) * c1);
    float* y2 = bp + round16(G::packed_b_floats(px, c1));
    float* ms = y2 + round16(static_cast<size_t>(4) * c2 * px);  // [4 sub-pixels, M, px]
    for (int i = a.row0; i < a.row1; ++i) {
      PackedGemmArgs g1;  // ConvT1 of the row's G tokens, bias in the epilogue
      g1.m = g;
      g1.n = 4 * c1;
      g1.k = a.d;
      g1.a = a.x + static_cast<int64_t>(i) * g * a.ldx;
      g1.lda = a.ldx;
      g1.b_packed = a.w1_packed;
      g1.c = y1;
      g1.ldc = 4 * c1;
      g1.epilogue.bias = a.b1;
      G::run(g1, 1, 0, G::jobs(g1, 1));
      layer_norm<S>(y1, c1, y1, c1, a.ln_weight, a.ln_bias, px, c1, a.ln_eps);
      gelu_inplace<S>(y1, static_cast<int64_t>(px) * c1);

      G::pack_b_nk(y1, px, c1, c1, bp);  // B = y1^T [C1, px]
      PackedGemmArgs g2;                 // ConvT2, transposed: channels become rows
      g2.m = 4 * c2;
      g2.n = px;
      g2.k = c1;
      g2.a = a.w2;
      g2.lda = c1;
      g2.b_packed = bp;
      g2.c = y2;
      g2.ldc = px;
      G::run(g2, 1, 0, G::jobs(g2, 1));
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
          int col = 0;
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
