// ISA-generic fused attention with bf16 products (contract:
// kernels/attention_bf16.h): the f32 kernel's structure (cpu/simd/attention_impl.h:
// key blocks of whole key rows, online softmax in log2 units, the rel-pos bias
// from the flipped tables in f32) with both products on pairs of bf16:
//
//   * K^T panels: [hd2][NRS] 32-bit words, hd2 = ceil(hd / 2); word (d2, c) holds
//     key c's bf16 pair (k[2 d2], k[2 d2 + 1]) (low half: the even element);
//     a tile of Q: [hd2][MRS] words the same way. One dot step multiplies a
//     broadcast Q word with NRS key words: 2 multiply-adds per lane.
//   * V of a key block: [bk2][hd_pad] words, bk2 = ceil(bk / 2); word (u2, c)
//     holds (v[2 u2][c], v[2 u2 + 1][c]) of the block's keys (zero past them).
//     P: per query row the block's bf16 probabilities in key order, read as
//     words: pairs of keys, the same pairing.
//   * The running max m is an integer (log2 units), so alpha = 2^(m_old - m) is
//     a power of two and rescaling commutes with the bf16 rounding of P.
//
// The ISA supplies an ops struct B (B::S the vector wrapper; every type
// TU-local, so no weak symbol is shared with another object):
//   W  load_w(const uint32_t*)                    L words
//   V  dot(V acc, W b, uint32_t a)                acc + a.lo b.lo + a.hi b.hi per lane, f32
//   V  round_store(uint16_t* dst, V e)            bf16(e) to dst[0..L), returns the rounded values
//   void pair_rows(const float* even, const float* odd, int n, uint32_t* dst)
//                                                 dst[i] = (bf16 even[i], bf16 odd[i]), odd null: 0
//   void pack_k_group(const float* const* src, int hd, uint32_t* dst, int ld)
//                                                 L keys (null: zero) -> dst[d2 * ld + r], d2 < hd2
#pragma once

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "attention_impl.h"
#include "kernels/attention_bf16.h"

namespace kernels::simd {

template <class B, int MRS_, int NVS_, int MRO_, int NVO_, int kQueryTiles, int kKeyTarget>
struct AttentionRelPosBf16 {
  using S = typename B::S;
  using V = typename S::V;
  using W = typename B::W;
  // The f32 kernel over the same (TU-local) S: its bias, table and Q packing helpers.
  using Base = AttentionRelPos<S, MRS_, NVS_, MRO_, NVO_, kQueryTiles, kKeyTarget>;
  using Rows = typename Base::Rows;
  static constexpr int L = S::kLanes;
  static constexpr int MRS = MRS_, NVS = NVS_, NRS = NVS * L;
  static constexpr int MRO = MRO_, NVO = NVO_;
  static_assert(NRS % 2 == 0, "key panels hold whole pairs of keys");

  static int round_up(int x, int m) { return (x + m - 1) / m * m; }
  static size_t cache_lines(size_t floats) { return (floats + 15) / 16 * 16; }

  // Sizes and scratch offsets (in floats; a word of two bf16 takes one float's place).
  struct Plan {
    int t = 0, hd = 0, hd2 = 0, hd_pad = 0, bq = 0;
    int kr = 0, bk = 0, bk2 = 0, bk_pad = 0, nkb = 0;
    int h_pad = 0, w_pad = 0, rh_ld = 0, rw_ld = 0;
    bool row_panels = false;
    size_t kt = 0, vp = 0, rh = 0, rw = 0, qp = 0, qb = 0, bh = 0, bw = 0, bias = 0, s = 0, pb = 0, o = 0, m = 0,
           l = 0, alpha = 0, sum = 0, tok = 0;
    size_t total = 0;
  };

  static Plan plan(int h, int w, int hd) {
    Plan p;
    p.t = h * w;
    p.hd = hd;
    p.hd2 = (hd + 1) / 2;
    p.hd_pad = round_up(hd, L);
    p.bq = MRS * kQueryTiles;
    p.kr = p.t <= 2 * kKeyTarget ? h : std::clamp(kKeyTarget / w, 1, h);
    p.bk = p.kr * w;
    p.bk2 = (p.bk + 1) / 2;
    p.bk_pad = round_up(p.bk, NRS);
    p.nkb = (h + p.kr - 1) / p.kr;
    p.h_pad = round_up(h, L);
    p.w_pad = round_up(w, L);
    p.rh_ld = h - 1 + p.h_pad;
    p.rw_ld = w - 1 + p.w_pad;
    p.row_panels = w % NRS == 0;
    size_t off = 0;
    auto take = [&](size_t n) {
      const size_t at = off;
      off += cache_lines(n);
      return at;
    };
    const size_t bq = static_cast<size_t>(p.bq);
    p.kt = take(static_cast<size_t>(p.nkb) * p.bk_pad * p.hd2);   // K^T word panels, per key block
    p.vp = take(static_cast<size_t>(p.nkb) * p.bk2 * p.hd_pad);   // V word rows, per key block
    p.rh = take(static_cast<size_t>(hd) * p.rh_ld);
    p.rw = take(static_cast<size_t>(hd) * p.rw_ld);
    p.qp = take(bq * hd);                                          // f32 Q tiles (the bias)
    p.qb = take(bq * p.hd2);                                       // bf16 Q tiles [bq / MRS][hd2][MRS]
    p.bh = take(bq * p.h_pad);
    p.bw = take(bq * p.w_pad);
    p.bias = take(p.row_panels ? 0 : bq * p.bk_pad + L);
    p.s = take(bq * p.bk_pad);                                     // S [bq, bk_pad] f32
    p.pb = take(bq * p.bk_pad / 2);                                // P [bq, bk_pad] bf16
    p.o = take(bq * p.hd_pad);
    p.m = take(bq);
    p.l = take(bq);
    p.alpha = take(bq);
    p.sum = take(bq);
    p.tok = take(2 * static_cast<size_t>(p.t));
    p.total = off;
    return p;
  }

  static size_t scratch_floats(int h, int w, int hd) { return plan(h, w, hd).total; }

  static uint32_t* words(float* p) { return reinterpret_cast<uint32_t*>(p); }

  // --- packing -------------------------------------------------------------------------

  static Rows token_rows(const AttentionRelPosArgs& a, const AttentionLayout& lay, const Plan& p, float* sc) {
    if (lay.vh == a.h && lay.vw == a.w && lay.step == a.w) return Rows{nullptr};
    int64_t* row = reinterpret_cast<int64_t*>(sc + p.tok);
    for (int th = 0, u = 0; th < a.h; ++th)
      for (int tw = 0; tw < a.w; ++tw, ++u) row[u] = th < lay.vh && tw < lay.vw ? th * lay.step + tw : -1;
    return Rows{row};
  }

  // Key block b, panel n: kt[(b * bk_pad + n * NRS) * hd2 + d2 * NRS + c] = the pair d2 of
  // key b * bk + n * NRS + c; zero past the block's keys.
  static void pack_k(const AttentionRelPosArgs& a, const Rows& rows, const Plan& p, uint32_t* kt) {
    for (int b = 0; b < p.nkb; ++b) {
      const int u0 = b * p.bk, keys = std::min(p.bk, p.t - u0);
      for (int c0 = 0; c0 < p.bk_pad; c0 += L) {
        const float* src[L];
        for (int r = 0; r < L; ++r) {
          src[r] = c0 + r < keys ? rows.k(a, u0 + c0 + r) : nullptr;
          if (c0 + L + r < keys) prefetch_floats(rows.k(a, u0 + c0 + L + r), p.hd);
        }
        B::pack_k_group(src, p.hd, kt + (static_cast<size_t>(b) * p.bk_pad + c0 / NRS * NRS) * p.hd2 + c0 % NRS, NRS);
      }
    }
  }

  // Key block b: vp[(b * bk2 + u2) * hd_pad + c] = (v[2 u2][c], v[2 u2 + 1][c]) of its keys, zero elsewhere.
  static void pack_v(const AttentionRelPosArgs& a, const Rows& rows, const Plan& p, uint32_t* vp) {
    for (int b = 0; b < p.nkb; ++b) {
      const int u0 = b * p.bk, keys = std::min(p.bk, p.t - u0);
      for (int u2 = 0; u2 < p.bk2; ++u2) {
        uint32_t* dst = vp + (static_cast<size_t>(b) * p.bk2 + u2) * p.hd_pad;
        const int u = 2 * u2;
        if (u + 2 < keys) prefetch_floats(rows.v(a, u0 + u + 2), p.hd);
        if (u + 3 < keys) prefetch_floats(rows.v(a, u0 + u + 3), p.hd);
        int c = 0;
        if (u < keys) {
          B::pair_rows(rows.v(a, u0 + u), u + 1 < keys ? rows.v(a, u0 + u + 1) : nullptr, p.hd, dst);
          c = p.hd;
        }
        std::fill(dst + c, dst + p.hd_pad, 0u);
      }
    }
  }

  // The f32 Q tiles (qp, as the f32 kernel packs them) as bf16 pair tiles:
  // qb[tile][d2][r] = (qp[tile][2 d2][r], qp[tile][2 d2 + 1][r]).
  static void pack_q_pairs(int hd, int tiles, const float* qp, uint32_t* qb) {
    const int hd2 = (hd + 1) / 2;
    for (int i = 0; i < tiles; ++i) {
      const float* q = qp + static_cast<size_t>(i) * MRS * hd;
      uint32_t* dst = qb + static_cast<size_t>(i) * MRS * hd2;
      for (int d2 = 0; d2 < hd2; ++d2)
        B::pair_rows(q + 2 * d2 * MRS, 2 * d2 + 1 < hd ? q + (2 * d2 + 1) * MRS : nullptr, MRS, dst + d2 * MRS);
    }
  }

  // --- micro-kernels -------------------------------------------------------------------

  // s[MRS][NRS] = scale * (Q tile)(K^T panel) + bias[r][0..NRS) + bh[r] (as the f32 kernel's), over hd2 pairs.
  [[gnu::noinline]] static void score_tile(int hd2, const uint32_t* q, const uint32_t* kp, float* s, int lds,
                                           V vscale, const float* bias, int ldbias, const float* bh, int ldbh,
                                           const uint32_t* next) {
    V acc[MRS][NVS];
#pragma GCC unroll 16
    for (int r = 0; r < MRS; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NVS; ++v) acc[r][v] = S::zero();
    for (int d = 0; d < hd2; ++d) {
      if (next)
        for (int f = 0; f < NRS; f += 16) __builtin_prefetch(next + d * NRS + f);
      W b[NVS];
#pragma GCC unroll 4
      for (int v = 0; v < NVS; ++v) b[v] = B::load_w(kp + d * NRS + v * L);
#pragma GCC unroll 16
      for (int r = 0; r < MRS; ++r) {
        const uint32_t x = q[d * MRS + r];
#pragma GCC unroll 4
        for (int v = 0; v < NVS; ++v) acc[r][v] = B::dot(acc[r][v], b[v], x);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MRS; ++r) {
      const V brow = S::set1(bh[r * ldbh]);
#pragma GCC unroll 4
      for (int v = 0; v < NVS; ++v)
        S::store(s + r * lds + v * L, S::fmadd(acc[r][v], vscale, S::add(S::load(bias + r * ldbias + v * L), brow)));
    }
  }

  // o[MRO][NV lanes] = alpha[r] * o + p[MRO][pairs] vb[pairs][NV lanes] (words; rows ldp / ldv words apart).
  template <int NV>
  [[gnu::noinline]] static void pv_tile(int pairs, const uint32_t* p, int ldp, const uint32_t* vb, int ldv, float* o,
                                        int ldo, const float* alpha, bool first) {
    V acc[MRO][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MRO; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
    for (int u = 0; u < pairs; ++u) {
      W b[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) b[v] = B::load_w(vb + static_cast<size_t>(u) * ldv + v * L);
#pragma GCC unroll 16
      for (int r = 0; r < MRO; ++r) {
        const uint32_t x = p[r * ldp + u];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = B::dot(acc[r][v], b[v], x);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MRO; ++r) {
      const V al = S::set1(alpha[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        float* dst = o + r * ldo + v * L;
        S::store(dst, first ? acc[r][v] : S::fmadd(S::load(dst), al, acc[r][v]));
      }
    }
  }

  template <int NV>
  static void pv_dispatch(int nv, int pairs, const uint32_t* p, int ldp, const uint32_t* vb, int ldv, float* o,
                          int ldo, const float* alpha, bool first) {
    if constexpr (NV >= 1) {
      if (nv == NV)
        pv_tile<NV>(pairs, p, ldp, vb, ldv, o, ldo, alpha, first);
      else
        pv_dispatch<NV - 1>(nv, pairs, p, ldp, vb, ldv, o, ldo, alpha, first);
    }
  }

  // The f32 kernel's online softmax for R rows, with the running max rounded up
  // to an integer and P written as bf16 (pb rows ldpb uint16 apart, zero up to an
  // even count); sum receives the sum of the rounded values.
  template <int R>
  static void softmax_rows(float* s, int lds, uint16_t* pb, int ldpb, int keys, float* m, float* sum) {
    const int keys_v = round_up(keys, L);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      for (int j = keys; j < keys_v; ++j) s[r * lds + j] = kNoKey;
    V mx[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) mx[r] = S::set1(kNoKey);
    for (int j = 0; j < keys_v; j += L)
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) mx[r] = S::max(mx[r], S::load(s + r * lds + j));
    V vm[R], acc[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      m[r] = std::max(m[r], std::ceil(S::reduce_max(mx[r])));
      vm[r] = S::set1(m[r]);
      acc[r] = S::zero();
    }
    for (int j = 0; j < keys_v; j += L)
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        acc[r] = S::add(acc[r], B::round_store(pb + r * ldpb + j, exp2_nonpositive<S>(S::sub(S::load(s + r * lds + j), vm[r]))));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      if (keys_v % 2) pb[r * ldpb + keys_v] = 0;
      sum[r] = S::reduce_add(acc[r]);
    }
  }

  // --- driver --------------------------------------------------------------------------

  struct Block {  // one query block's scratch
    float *qp, *bh, *bw, *bias, *s, *o, *m, *l, *alpha, *sum;
    uint32_t* qb;
    uint16_t* pb;
  };

  // S = scale Q K^T + bias (log2 units) for key block b (kr_b key rows from kh0), panel-outer.
  static void scores(const AttentionRelPosArgs& a, const Plan& p, const float* sc, const Block& k, int tiles_s, int b,
                     int kh0, int keys, V vscale) {
    static constexpr float zero = 0.f;
    const int panels = (keys + NRS - 1) / NRS;
    for (int n = 0; n < panels; ++n) {
      const uint32_t* kp =
          reinterpret_cast<const uint32_t*>(sc + p.kt) + (static_cast<size_t>(b) * p.bk_pad + static_cast<size_t>(n) * NRS) * p.hd2;
      const uint32_t* next = b + 1 < p.nkb || n + 1 < panels ? kp + static_cast<size_t>(NRS) * p.hd2 : nullptr;
      for (int i = 0; i < tiles_s; ++i) {
        const size_t r0 = static_cast<size_t>(i) * MRS;
        float* st = k.s + r0 * p.bk_pad + n * NRS;
        const float* tb = p.row_panels ? k.bw + r0 * p.w_pad + n * NRS % a.w : k.bias + r0 * p.bk_pad + n * NRS;
        const int ldtb = p.row_panels ? p.w_pad : p.bk_pad;
        const float* tbh = p.row_panels ? k.bh + r0 * p.h_pad + kh0 + n * NRS / a.w : &zero;
        const int ldtbh = p.row_panels ? p.h_pad : 0;
        score_tile(p.hd2, k.qb + r0 * p.hd2, kp, st, p.bk_pad, vscale, tb, ldtb, tbh, ldtbh, i == 0 ? next : nullptr);
      }
    }
  }

  // Queries [q0, q0 + nq), nq <= bq, against all keys.
  static void query_block(const AttentionRelPosArgs& a, const AttentionLayout& lay, const Plan& p, float* sc, int q0,
                          int nq) {
    const Block k{sc + p.qp, sc + p.bh, sc + p.bw, sc + p.bias, sc + p.s, sc + p.o, sc + p.m, sc + p.l, sc + p.alpha,
                  sc + p.sum, words(sc + p.qb), reinterpret_cast<uint16_t*>(sc + p.pb)};
    const int tiles_s = (nq + MRS - 1) / MRS, tiles_o = (nq + MRO - 1) / MRO;
    Base::pack_q(a, lay, q0, nq, k.qp);
    pack_q_pairs(a.hd, tiles_s, k.qp, k.qb);
    for (int i = 0; i < tiles_s; ++i) {
      int off_h[MRS], off_w[MRS];
      for (int r = 0; r < MRS; ++r) {
        const int t = lay.query_token(q0 + std::min(i * MRS + r, nq - 1));
        off_h[r] = a.h - 1 - t / a.w;
        off_w[r] = a.w - 1 - t % a.w;
      }
      const float* qt = k.qp + static_cast<size_t>(i) * MRS * a.hd;
      Base::template bias_tile<true>(a.hd, qt, 0, sc + p.rh, p.rh_ld, off_h, p.h_pad, k.bh + static_cast<size_t>(i) * MRS * p.h_pad, p.h_pad);
      Base::template bias_tile<true>(a.hd, qt, 0, sc + p.rw, p.rw_ld, off_w, p.w_pad, k.bw + static_cast<size_t>(i) * MRS * p.w_pad, p.w_pad);
    }
    std::fill(k.m, k.m + p.bq, kNoKey);
    std::fill(k.l, k.l + p.bq, 0.f);
    std::fill(k.sum, k.sum + p.bq, 0.f);
    const V vscale = S::set1(a.scale * kLog2e);
    const int nvt = p.hd_pad / L, chunks = (nvt + NVO - 1) / NVO;
    const int ldpb = p.bk_pad;  // uint16 per P row
    for (int b = 0; b < p.nkb; ++b) {
      const int kh0 = b * p.kr, kr_b = std::min(p.kr, a.h - kh0), keys = kr_b * a.w;
      if (!p.row_panels)
        for (int r = 0; r < tiles_s * MRS; ++r)
          Base::fill_bias_row(k.bh + static_cast<size_t>(r) * p.h_pad, k.bw + static_cast<size_t>(r) * p.w_pad, kh0,
                              kr_b, a.w, k.bias + static_cast<size_t>(r) * p.bk_pad);
      scores(a, p, sc, k, tiles_s, b, kh0, keys, vscale);
      // Online softmax per query; padding rows (>= nq) have no P: P V on them reads stale
      // words, discarded (their O rows are never written out).
      std::copy(k.m, k.m + p.bq, k.alpha);
      int r = 0;
      for (; r + 4 <= nq; r += 4)
        softmax_rows<4>(k.s + static_cast<size_t>(r) * p.bk_pad, p.bk_pad, k.pb + static_cast<size_t>(r) * ldpb, ldpb,
                        keys, k.m + r, k.sum + r);
      for (; r < nq; ++r)
        softmax_rows<1>(k.s + static_cast<size_t>(r) * p.bk_pad, p.bk_pad, k.pb + static_cast<size_t>(r) * ldpb, ldpb,
                        keys, k.m + r, k.sum + r);
      Base::rescale(p.bq, k.alpha, k.m, k.l, k.sum);  // 2^(integer - integer): exact
      // O = alpha O + P V over the block's pairs of keys
      const uint32_t* vb = reinterpret_cast<const uint32_t*>(sc + p.vp) + static_cast<size_t>(b) * p.bk2 * p.hd_pad;
      const uint32_t* pw = reinterpret_cast<const uint32_t*>(k.pb);
      const int pairs = (keys + 1) / 2;
      for (int ch = 0; ch < chunks; ++ch) {
        const int c0 = nvt * ch / chunks, nv = nvt * (ch + 1) / chunks - c0;
        for (int i = 0; i < tiles_o; ++i)
          pv_dispatch<NVO>(nv, pairs, pw + static_cast<size_t>(i) * MRO * ldpb / 2, ldpb / 2, vb + c0 * L, p.hd_pad,
                           k.o + static_cast<size_t>(i) * MRO * p.hd_pad + c0 * L, p.hd_pad, k.alpha + i * MRO, b == 0);
      }
    }
    Base::write_out(a, lay, q0, nq, k.o, p.hd_pad, k.l);
  }

  static void run(const AttentionRelPosArgs& a) {
    const AttentionLayout lay(a);
    Base::check_args(a, lay);
    if (a.r0 == a.r1) return;
    const Plan p = plan(a.h, a.w, a.hd);
    assert(a.scratch != nullptr && a.scratch_floats >= p.total);
    float* sc = a.scratch;
    const Rows rows = token_rows(a, lay, p, sc);
    pack_k(a, rows, p, words(sc + p.kt));
    pack_v(a, rows, p, words(sc + p.vp));
    Base::pack_rel(a.rel_pos_h, a.h, a.hd, p.rh_ld, sc + p.rh);
    Base::pack_rel(a.rel_pos_w, a.w, a.hd, p.rw_ld, sc + p.rw);
    for (int q0 = a.r0; q0 < a.r1; q0 += p.bq) query_block(a, lay, p, sc, q0, std::min(p.bq, a.r1 - q0));
  }
};

}  // namespace kernels::simd
