// ISA-generic cores of the two-way transformer's cross attentions (contracts
// in kernels/two_way_attention.h), over a vector wrapper S. Image tokens are
// processed in blocks of kBlock rows; everything a block needs (q + qpe, its
// scores, their exponentials) lives in the caller's scratch, in L1/L2.
#pragma once

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>

#include "kernels/two_way_attention.h"
#include "math_impl.h"

namespace kernels::simd {

template <class S>
struct TwoWay {
  using V = typename S::V;
  static constexpr int L = S::kLanes;
  static constexpr int kBlock = 32;  // image tokens per block: 32 x 256 floats = 32 KB of q + qpe
  static constexpr int MR = 6;       // rows per register tile
  // Vectors per register tile row: MR x NV accumulators + NV loads + one
  // broadcast must fit the register file (32 zmm: 6 x 4; 16 ymm: 6 x 2; 6 x 4
  // there spilled accumulators to the stack every k step: 37-45 GFLOP/s, ~50%
  // of an AMD Zen 1's FMA peak).
  static constexpr int NV = L >= 16 ? 4 : 2;
  static_assert(MR * NV + NV + 1 <= (L >= 16 ? 32 : 16));

  static int columns(int j) { return (j + L - 1) / L * L; }
  // block input [kBlock, width] + scores [kBlock, Jp] + their transpose [Jp, kBlock] + three [Jp] rows.
  static size_t scratch_floats(int width, int jp) {
    const size_t w = static_cast<size_t>((width + 15) / 16 * 16);
    return kBlock * w + static_cast<size_t>(2 * kBlock + 3) * static_cast<size_t>(jp) + 64;
  }

  // c[MR_ x NV_*L] (=, or += with acc) sum_k a[r*ars + k*acs] * b[k*ldb + v*L].
  template <int MR_, int NV_>
  static inline void tile(int k, const float* a, int64_t ars, int64_t acs, const float* b, int64_t ldb, float* c,
                          int64_t ldc, bool acc) {
    V cc[MR_][NV_];
    for (int r = 0; r < MR_; ++r)
      for (int v = 0; v < NV_; ++v) cc[r][v] = S::zero();
    for (int kk = 0; kk < k; ++kk) {
      V bv[NV_];
      for (int v = 0; v < NV_; ++v) bv[v] = S::load(b + kk * ldb + v * L);
      for (int r = 0; r < MR_; ++r) {
        const V av = S::set1(a[r * ars + kk * acs]);
        for (int v = 0; v < NV_; ++v) cc[r][v] = S::fmadd(av, bv[v], cc[r][v]);
      }
    }
    for (int r = 0; r < MR_; ++r)
      for (int v = 0; v < NV_; ++v) {
        float* p = c + r * ldc + v * L;
        S::store(p, acc ? S::add(S::load(p), cc[r][v]) : cc[r][v]);
      }
  }

  template <int MR_>
  static void row_block(int n, int k, const float* a, int64_t ars, int64_t acs, const float* b, int64_t ldb, float* c,
                        int64_t ldc, bool acc) {
    const int nv = n / L;
    int v = 0;
    for (; v + NV <= nv; v += NV) tile<MR_, NV>(k, a, ars, acs, b + v * L, ldb, c + v * L, ldc, acc);
    switch (nv - v) {
      case 3: tile<MR_, 3>(k, a, ars, acs, b + v * L, ldb, c + v * L, ldc, acc); break;
      case 2: tile<MR_, 2>(k, a, ars, acs, b + v * L, ldb, c + v * L, ldc, acc); break;
      case 1: tile<MR_, 1>(k, a, ars, acs, b + v * L, ldb, c + v * L, ldc, acc); break;
      default: break;
    }
    for (int col = nv * L; col < n; ++col)  // columns past the last full vector
      for (int r = 0; r < MR_; ++r) {
        float s = 0.f;
        for (int kk = 0; kk < k; ++kk) s += a[r * ars + kk * acs] * b[kk * ldb + col];
        c[r * ldc + col] = acc ? c[r * ldc + col] + s : s;
      }
  }

  // c[m, n] (=, or +=) a[m, k] b[k, n], a element (r, k) at a[r*ars + k*acs].
  static void small_mm(int m, int n, int k, const float* a, int64_t ars, int64_t acs, const float* b, int64_t ldb,
                       float* c, int64_t ldc, bool acc) {
    int r = 0;
    for (; r + MR <= m; r += MR) row_block<MR>(n, k, a + r * ars, ars, acs, b, ldb, c + r * ldc, ldc, acc);
    const float* ar = a + r * ars;
    float* cr = c + r * ldc;
    switch (m - r) {
      case 5: row_block<5>(n, k, ar, ars, acs, b, ldb, cr, ldc, acc); break;
      case 4: row_block<4>(n, k, ar, ars, acs, b, ldb, cr, ldc, acc); break;
      case 3: row_block<3>(n, k, ar, ars, acs, b, ldb, cr, ldc, acc); break;
      case 2: row_block<2>(n, k, ar, ars, acs, b, ldb, cr, ldc, acc); break;
      case 1: row_block<1>(n, k, ar, ars, acs, b, ldb, cr, ldc, acc); break;
      default: break;
    }
  }

  // The score input of a block: q rows, or q + qpe into `buf` ([rows, dq], row stride ldb).
  static const float* block_input(const float* q, int64_t ldq, const float* qpe, int64_t ldqpe, int dq, int rows,
                                  float* buf, int64_t ldb, int64_t* ld) {
    if (!qpe) {
      *ld = ldq;
      return q;
    }
    for (int r = 0; r < rows; ++r) {
      const float* a = q + r * ldq;
      const float* e = qpe + r * ldqpe;
      float* o = buf + r * ldb;
      int c = 0;
      for (; c + L <= dq; c += L) S::store(o + c, S::add(S::load(a + c), S::load(e + c)));
      for (; c < dq; ++c) o[c] = a[c] + e[c];
    }
    *ld = ldb;
    return buf;
  }

  static void tokens_to_image(const TokensToImageArgs& a) {
    assert(a.jp % L == 0 && a.jp >= a.j && a.p1 >= a.p0);
    const int jp = a.jp, J = a.j;
    const int64_t ldb = (std::max(a.dq, a.d) + 15) / 16 * 16;
    float* in_buf = a.scratch;                      // [kBlock, dq]
    float* s = in_buf + kBlock * ldb;               // [kBlock, Jp] scores, then exponentials
    float* mv = s + static_cast<int64_t>(kBlock) * jp;  // [Jp] running max (0 past J)
    float* bm = mv + jp;                            // [Jp] block max / column sums
    for (int j = 0; j < J; ++j) {
      a.m[j] = -INFINITY;
      a.l[j] = 0.f;
      std::fill(a.y + j * a.ldy, a.y + j * a.ldy + a.d, 0.f);
    }
    std::fill(mv, mv + jp, 0.f);
    for (int64_t p = a.p0; p < a.p1; p += kBlock) {
      const int rows = static_cast<int>(std::min<int64_t>(kBlock, a.p1 - p));
      int64_t ldi = 0;
      const float* in = block_input(a.q + p * a.ldq, a.ldq, a.qpe ? a.qpe + p * a.ldqpe : nullptr, a.ldqpe, a.dq,
                                    rows, in_buf, ldb, &ldi);
      small_mm(rows, jp, a.dq, in, ldi, 1, a.at, jp, s, jp, false);  // s [rows, Jp]
      // Online softmax over p, per column j: new maxima rescale what came before.
      for (int c = 0; c < jp; c += L) {
        V vmax = S::load(s + c);
        for (int r = 1; r < rows; ++r) vmax = S::max(vmax, S::load(s + r * jp + c));
        S::store(bm + c, vmax);
      }
      for (int j = 0; j < J; ++j) {
        if (!(bm[j] > a.m[j])) continue;
        if (a.m[j] != -INFINITY) {
          const float alpha = std::exp(a.m[j] - bm[j]);
          a.l[j] *= alpha;
          float* yr = a.y + j * a.ldy;
          int c = 0;
          for (; c + L <= a.d; c += L) S::store(yr + c, S::mul(S::load(yr + c), S::set1(alpha)));
          for (; c < a.d; ++c) yr[c] *= alpha;
        }
        a.m[j] = bm[j];
        mv[j] = bm[j];
      }
      for (int c = 0; c < jp; c += L) {
        const V vm = S::load(mv + c);
        V sum = S::zero();
        for (int r = 0; r < rows; ++r) {
          const V e = exp<S>(S::sub(S::load(s + r * jp + c), vm));
          S::store(s + r * jp + c, e);
          sum = S::add(sum, e);
        }
        S::store(bm + c, sum);
      }
      for (int j = 0; j < J; ++j) a.l[j] += bm[j];
      // y[J, D] += e^T x_block: element (j, r) of e^T at s[r*Jp + j].
      small_mm(J, a.d, rows, s, 1, jp, a.x + p * a.ldx, a.ldx, a.y, a.ldy, true);
    }
  }

  static void image_to_tokens(const ImageToTokensArgs& a) {
    assert(a.jp % L == 0 && a.jp >= a.heads * a.t && a.t > 0 && a.p1 >= a.p0 && kBlock % L == 0);
    const int jp = a.jp, T = a.t, J = a.heads * a.t;
    const int64_t ldb = (std::max(a.dq, a.d) + 15) / 16 * 16;
    float* in_buf = a.scratch;                          // [kBlock, dq]; later the attention output [kBlock, D]
    float* s = in_buf + kBlock * ldb;                   // [kBlock, Jp] scores
    float* st = s + static_cast<int64_t>(kBlock) * jp;  // [Jp, kBlock] the same, transposed: softmax over rows
    for (int64_t p = a.p0; p < a.p1; p += kBlock) {
      const int rows = static_cast<int>(std::min<int64_t>(kBlock, a.p1 - p));
      int64_t ldi = 0;
      const float* in = block_input(a.q + p * a.ldq, a.ldq, a.qpe ? a.qpe + p * a.ldqpe : nullptr, a.ldqpe, a.dq,
                                    rows, in_buf, ldb, &ldi);
      small_mm(rows, jp, a.dq, in, ldi, 1, a.bt, jp, s, jp, false);  // s [rows, Jp]
      // Transposed (rows past `rows` zero) with the column bias: st[j, r] = s[r, j] + cb[j].
      for (int j = 0; j < J; ++j) {
        float* o = st + static_cast<int64_t>(j) * kBlock;
        for (int r = 0; r < rows; ++r) o[r] = s[r * jp + j] + a.cb[j];
        for (int r = rows; r < kBlock; ++r) o[r] = 0.f;
      }
      // Softmax over each head's T rows of st, kBlock image tokens per vector pass.
      for (int h = 0; h < a.heads; ++h) {
        float* g = st + static_cast<int64_t>(h) * T * kBlock;
        for (int c = 0; c < kBlock; c += L) {
          V mx = S::load(g + c);
          for (int k = 1; k < T; ++k) mx = S::max(mx, S::load(g + k * kBlock + c));
          V sum = S::zero();
          for (int k = 0; k < T; ++k) {
            const V e = exp<S>(S::sub(S::load(g + k * kBlock + c), mx));
            S::store(g + k * kBlock + c, e);
            sum = S::add(sum, e);
          }
          const V inv = S::div(S::set1(1.f), sum);
          for (int k = 0; k < T; ++k) S::store(g + k * kBlock + c, S::mul(S::load(g + k * kBlock + c), inv));
        }
      }
      if (a.probs)
        for (int r = 0; r < rows; ++r) {
          float* pr = a.probs + (p + r) * a.ldprobs;
          for (int j = 0; j < J; ++j) pr[j] = st[static_cast<int64_t>(j) * kBlock + r];
        }
      // out [rows, D] = e u (element (r, j) of e at st[j * kBlock + r]); then x += out + ob and the LayerNorm.
      float* out = in_buf;
      small_mm(rows, a.d, J, st, 1, kBlock, a.u, a.d, out, ldb, false);
      float* xb = a.x + p * a.ldx;
      for (int r = 0; r < rows; ++r) {
        float* xr = xb + r * a.ldx;
        const float* o = out + r * ldb;
        int c = 0;
        for (; c + L <= a.d; c += L)
          S::store(xr + c, S::add(S::load(xr + c), S::add(S::load(o + c), S::load(a.ob + c))));
        for (; c < a.d; ++c) xr[c] = xr[c] + (o[c] + a.ob[c]);
      }
      if (a.ln_weight)
        layer_norm<S>(xb, a.ldx, xb, a.ldx, a.ln_weight, a.ln_bias, rows, a.d, a.ln_eps,
                      a.ln_stats ? a.ln_stats + 2 * p : nullptr);
    }
  }
};

}  // namespace kernels::simd
