// ISA-generic fused attention with SAM's decomposed relative-position bias
// (contract: kernels/attention.h), flash style: the [T, T] scores are never
// materialised. Written once over a vector wrapper S (L lanes) and instantiated
// in each ISA's translation unit.
//
// One call handles query rows [r0, r1) of one (window, head):
//   1. packs, into the caller's scratch, K^T as panels of NRS keys ([hd][NRS],
//      the B operand of the score micro-kernel), V as [T][hd_pad] (zero padded
//      to whole vectors), and both rel-pos tables flipped and transposed (below);
//   2. for each block of bq = MRS * kQueryTiles queries: packs Q ([hd][MRS]
//      micro-panels, as the GEMM packs A), computes each query's h + w bias
//      values, then streams key blocks of whole key rows (kr rows = kr * w keys,
//      ~kKeyTarget keys; a small window is one block):
//        S   = scale Q K^T + bias           [bq, keys]  MRS x NRS register tiles, bias in the epilogue
//        m   = max(m, row max of S); P = 2^(S - m); l = alpha l + row sum of P, alpha = 2^(m_old - m)
//        O   = alpha O + P V                [bq, hd]    MRO x (NV lanes) register tiles
//      and writes out = O / l.
// Scores are kept in log2 units (scale and the bias tables carry a factor
// log2(e)), so the softmax's exponential is a bare exp2. S/P and O stay in
// L1/L2; K and V blocks come from the packed copies (T * hd floats each).
//
// The bias: add_decomposed_rel_pos adds, to score (t, u) with t = (th, tw) and
// u = (uh, uw),  bh[t][uh] + bw[t][uw]  where
//   bh[t][uh] = q_t . rel_pos_h[th - uh + h - 1]   (get_rel_pos without interpolation)
//   bw[t][uw] = q_t . rel_pos_w[tw - uw + w - 1].
// With the table flipped and transposed, rt[d][j] = rel_pos_h[2h - 2 - j][d],
// rel_pos_h[th - uh + h - 1][d] = rt[d][h - 1 - th + uh]: for a fixed query the
// h values bh[t][0..h) are one forward, contiguous slice of each rt row, so
// they come out of vector FMAs (broadcast q_td x a slice of rt[d]) with no
// horizontal sums. A key block of whole key rows then adds, for key row uh, the
// scalar bh[t][uh] plus the contiguous vector bw[t][0..w): directly in the
// score tile's epilogue when every panel lies inside one key row (w a multiple
// of NRS: SAM's 64 x 64 global grids), else from a bias tile built per block.
#pragma once

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "gemm_impl.h"
#include "kernels/attention.h"

namespace kernels::simd {

// 2^x for x <= 0 (any magnitude; below -126 the result underflows towards 0):
// n = round(x), r = x - n in [-0.5, 0.5] (exact), 2^r by the degree-6
// polynomial interpolating it at the Chebyshev nodes of [-0.5, 0.5] (relative
// error 2.5e-9 before rounding), times 2^n. The scores are kept in log2 units
// (scale and bias tables multiplied by log2(e)) so that softmax needs no
// ln 2 reduction and no range select.
template <class S>
inline typename S::V exp2_nonpositive(typename S::V x) {
  using V = typename S::V;
  const V n = S::round(x);
  const V r = S::sub(x, n);
  V p = S::set1(1.546144485e-4f);
  p = S::fmadd(p, r, S::set1(1.340042800e-3f));
  p = S::fmadd(p, r, S::set1(9.618056938e-3f));
  p = S::fmadd(p, r, S::set1(5.550327152e-2f));
  p = S::fmadd(p, r, S::set1(2.402265072e-1f));
  p = S::fmadd(p, r, S::set1(6.931471825e-1f));
  p = S::fmadd(p, r, S::set1(1.f));
  return S::ldexp(p, n);
}

constexpr float kLog2e = 1.44269504088896341f;
// Score of the lanes past a block's last key: exp2 of it minus any real score is 0.
constexpr float kNoKey = -1e30f;

// Starts loading the n floats at p into the cache (rows of q, k, v are
// 3 * dim floats apart in SAM's qkv buffer: too far for the hardware prefetcher).
inline void prefetch_floats(const float* p, int n) {
  for (int i = 0; i < n; i += 16) __builtin_prefetch(p + i);
}

// MRS x NVS vectors: the score tile; MRO x (up to NVO) vectors: the output
// tile; MRS * kQueryTiles queries per block; kKeyTarget: keys per block.
template <class S, int MRS_, int NVS_, int MRO_, int NVO_, int kQueryTiles, int kKeyTarget>
struct AttentionRelPos {
  using V = typename S::V;
  static constexpr int L = S::kLanes;
  static constexpr int MRS = MRS_, NVS = NVS_, NRS = NVS * L;
  static constexpr int MRO = MRO_, NVO = NVO_;
  static_assert(MRS % MRO == 0, "the score tiles' row padding must cover whole output tiles");
  static_assert(MRS * kQueryTiles % L == 0, "the per-query state is updated in whole vectors");
  static constexpr int kPrefetchRows = 8;
  static constexpr int64_t kPrefetchQueryFloats = 64 * 1024;

  static int round_up(int x, int m) { return (x + m - 1) / m * m; }
  static size_t cache_lines(size_t floats) { return (floats + 15) / 16 * 16; }  // 64-byte multiples

  // The argument rules of kernels/attention.h (checked in debug builds).
  static void check_args([[maybe_unused]] const AttentionRelPosArgs& a, [[maybe_unused]] const AttentionLayout& lay) {
    assert(a.h >= 1 && a.w >= 1 && a.hd >= 1);
    assert(0 <= a.r0 && a.r0 <= a.r1 && a.r1 <= lay.queries() && lay.vh <= a.h && lay.vw <= a.w);
    assert(a.q && a.k && a.v && a.rel_pos_h && a.rel_pos_w && a.out);
    assert((lay.vh == a.h && lay.vw == a.w) || (a.k_pad && a.v_pad));
    assert(a.ldq >= a.hd && a.ldk >= a.hd && a.ldv >= a.hd && a.ldo >= a.hd);
  }

  // After a key block's softmax, for bq queries (whole vectors): alpha (holding
  // the old max) = 2^(m_old - m), l = alpha l + sum.
  static void rescale(int bq, float* alpha, const float* m, float* l, const float* sum) {
    for (int r = 0; r < bq; r += L) {
      const typename S::V al = exp2_nonpositive<S>(S::sub(S::load(alpha + r), S::load(m + r)));
      S::store(alpha + r, al);
      S::store(l + r, S::fmadd(S::load(l + r), al, S::load(sum + r)));
    }
  }

  // out rows of queries [q0, q0 + nq) = O / l, only the hd columns (O rows ldo_pad apart).
  static void write_out(const AttentionRelPosArgs& a, const AttentionLayout& lay, int q0, int nq, const float* o,
                        int ldo_pad, const float* l) {
    for (int r = 0; r < nq; ++r) {
      const float inv = 1.f / l[r];
      const typename S::V vinv = S::set1(inv);
      const float* src = o + static_cast<size_t>(r) * ldo_pad;
      float* dst = a.out + lay.out_row(q0 + r) * a.ldo;
      int c = 0;
      for (; c + L <= a.hd; c += L) S::store(dst + c, S::mul(S::load(src + c), vinv));
      for (; c < a.hd; ++c) dst[c] = src[c] * inv;
    }
  }

  // Sizes and scratch offsets (in floats) for one (h, w, hd).
  struct Plan {
    int t = 0, hd = 0, hd_pad = 0;            // tokens, head dim, head dim rounded up to L
    int bq = 0;                               // queries per block (a multiple of MRS)
    int kr = 0, bk = 0, bk_pad = 0, nkb = 0;  // key rows per key block, keys per block, rounded up to NRS, blocks
    int h_pad = 0, w_pad = 0;                 // h, w rounded up to L (per-query bias rows)
    int rh_ld = 0, rw_ld = 0;                 // row length of the flipped, transposed tables
    bool row_panels = false;                  // w % NRS == 0: every K^T panel lies in one key row
    size_t kt = 0, vp = 0, rh = 0, rw = 0, qp = 0, bh = 0, bw = 0, bias = 0, s = 0, o = 0, m = 0, l = 0, alpha = 0, sum = 0, tok = 0;
    size_t total = 0;
  };

  static Plan plan(int h, int w, int hd) {
    Plan p;
    p.t = h * w;
    p.hd = hd;
    p.hd_pad = round_up(hd, L);
    p.bq = MRS * kQueryTiles;
    // Key blocks of ~kKeyTarget keys, whole key rows; a window of up to twice that is one block.
    p.kr = p.t <= 2 * kKeyTarget ? h : std::clamp(kKeyTarget / w, 1, h);
    p.bk = p.kr * w;
    p.bk_pad = round_up(p.bk, NRS);
    p.nkb = (h + p.kr - 1) / p.kr;
    p.h_pad = round_up(h, L);
    p.w_pad = round_up(w, L);
    // A query's slice starts at h - 1 - th <= h - 1 and is read in whole vectors: h_pad floats.
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
    p.kt = take(static_cast<size_t>(p.nkb) * p.bk_pad * hd);  // K^T panels, per key block
    p.vp = take(static_cast<size_t>(p.t) * p.hd_pad);         // V [T, hd_pad]
    p.rh = take(static_cast<size_t>(hd) * p.rh_ld);           // flipped rel_pos_h^T [hd, rh_ld]
    p.rw = take(static_cast<size_t>(hd) * p.rw_ld);           // flipped rel_pos_w^T [hd, rw_ld]
    p.qp = take(bq * hd);                                     // Q tiles [bq / MRS][hd][MRS]
    p.bh = take(bq * p.h_pad);                                // per query: bh[uh], uh < h
    p.bw = take(bq * p.w_pad);                                // per query: bw[uw], uw < w
    p.bias = take(p.row_panels ? 0 : bq * p.bk_pad + L);      // [bq, bk_pad] bias of a key block (+ spill)
    p.s = take(bq * p.bk_pad);                                // S / P [bq, bk_pad]
    p.o = take(bq * p.hd_pad);                                // O [bq, hd_pad]
    p.m = take(bq);
    p.l = take(bq);
    p.alpha = take(bq);
    p.sum = take(bq);
    p.tok = take(2 * static_cast<size_t>(p.t));                // int64 row of each token in q / k / v (-1: padding)
    p.total = off;
    return p;
  }

  static size_t scratch_floats(int h, int w, int hd) { return plan(h, w, hd).total; }

  // --- packing (once per call) -------------------------------------------------------

  // Where token u's k / v rows are: row u (the plain layout), or a table filled
  // once per call (a window read in place; -1 for padding tokens, which use
  // k_pad / v_pad): no divisions per key in the packing loops.
  struct Rows {
    const int64_t* row;  // null: the plain layout
    const float* k(const AttentionRelPosArgs& a, int u) const {
      if (!row) return a.k + static_cast<int64_t>(u) * a.ldk;
      return row[u] >= 0 ? a.k + row[u] * a.ldk : a.k_pad;
    }
    const float* v(const AttentionRelPosArgs& a, int u) const {
      if (!row) return a.v + static_cast<int64_t>(u) * a.ldv;
      return row[u] >= 0 ? a.v + row[u] * a.ldv : a.v_pad;
    }
  };
  static Rows token_rows(const AttentionRelPosArgs& a, const AttentionLayout& lay, const Plan& p, float* sc) {
    if (lay.vh == a.h && lay.vw == a.w && lay.step == a.w) return Rows{nullptr};
    int64_t* row = reinterpret_cast<int64_t*>(sc + p.tok);
    for (int th = 0, u = 0; th < a.h; ++th)
      for (int tw = 0; tw < a.w; ++tw, ++u) row[u] = th < lay.vh && tw < lay.vw ? th * lay.step + tw : -1;
    return Rows{row};
  }

  // Key block b, panel n: kt[(b * bk_pad + n * NRS) * hd + d * NRS + c] = key(b * bk + n * NRS + c)[d];
  // columns past the block's keys are zero. Whole groups of L keys x L head
  // dims go through an in-register transpose.
  static void pack_k(const AttentionRelPosArgs& a, const Rows& rows, const Plan& p, float* kt) {
    const auto key = [&](int u) { return rows.k(a, u); };
    for (int b = 0; b < p.nkb; ++b) {
      const int u0 = b * p.bk, keys = std::min(p.bk, p.t - u0);
      for (int c0 = 0; c0 < p.bk_pad; c0 += L) {
        float* dst = kt + (static_cast<size_t>(b) * p.bk_pad + c0 / NRS * NRS) * p.hd + c0 % NRS;
        int d0 = 0;
        if constexpr (L > 1) {
          if (c0 + L <= keys) {
            for (int r = 0; r < L; ++r)  // the next group's rows (3 * dim floats apart: no hardware prefetch)
              if (u0 + c0 + L + r < p.t) prefetch_floats(key(u0 + c0 + L + r), p.hd);
            const float* src[L];
            for (int r = 0; r < L; ++r) src[r] = key(u0 + c0 + r);
            for (; d0 + L <= p.hd; d0 += L) {
              V blk[L];
#pragma GCC unroll 16
              for (int r = 0; r < L; ++r) blk[r] = S::load(src[r] + d0);
              S::transpose(blk);
#pragma GCC unroll 16
              for (int d = 0; d < L; ++d) S::store(dst + (d0 + d) * NRS, blk[d]);
            }
          }
        }
        for (int c = c0; c < c0 + L; ++c) {
          float* col = dst + (c - c0);
          if (c < keys) {
            const float* src = key(u0 + c);
            if (d0 == 0 && u0 + c + kPrefetchRows < p.t) prefetch_floats(key(u0 + c + kPrefetchRows), p.hd);
            for (int d = d0; d < p.hd; ++d) col[d * NRS] = src[d];
          } else {
            for (int d = d0; d < p.hd; ++d) col[d * NRS] = 0.f;
          }
        }
      }
    }
  }

  // Also starts loading this call's query rows when they all fit in L2 (a
  // window): pack_q reads them next.
  static void pack_v(const AttentionRelPosArgs& a, const AttentionLayout& lay, const Rows& rows, const Plan& p,
                     float* vp) {
    const bool fetch_q = static_cast<int64_t>(a.r1 - a.r0) * a.hd <= kPrefetchQueryFloats;
    const auto value = [&](int u) { return rows.v(a, u); };
    for (int u = 0; u < p.t; ++u) {
      const float* src = value(u);
      if (u + kPrefetchRows < p.t) prefetch_floats(value(u + kPrefetchRows), p.hd);
      if (fetch_q && a.r0 + u < a.r1) prefetch_floats(a.q + lay.row(lay.query_token(a.r0 + u)) * a.ldq, p.hd);
      float* dst = vp + static_cast<size_t>(u) * p.hd_pad;
      int c = 0;
      for (; c + L <= p.hd; c += L) S::store(dst + c, S::load(src + c));
      for (; c < p.hd; ++c) dst[c] = src[c];
      std::fill(dst + p.hd, dst + p.hd_pad, 0.f);
    }
  }

  // rt[d * ld + j] = log2(e) table[n - 1 - j][d] for j < n (n = 2 * size - 1 rows), zero up to ld.
  static void pack_rel(const float* table, int size, int hd, int ld, float* rt) {
    const int n = 2 * size - 1;
    for (int j = 0; j < n; ++j) {
      const float* src = table + static_cast<int64_t>(n - 1 - j) * hd;
      for (int d = 0; d < hd; ++d) rt[static_cast<size_t>(d) * ld + j] = kLog2e * src[d];
    }
    for (int d = 0; d < hd; ++d) std::fill(rt + static_cast<size_t>(d) * ld + n, rt + static_cast<size_t>(d + 1) * ld, 0.f);
  }

  // Queries [q0, q0 + nq) -> micro-panels qp[tile][d][r] (as the GEMM packs A;
  // zero rows up to a whole tile). Read in place instead, a tile's MRS rows lie
  // 3 * dim floats apart (SAM's qkv buffer): at that stride a block's query
  // rows share a few L1 sets and come from L2 on every key panel.
  static void pack_q(const AttentionRelPosArgs& a, const AttentionLayout& lay, int q0, int nq, float* qp) {
    for (int i = 0; i < nq; i += MRS) {
      const int valid = std::min(MRS, nq - i);
      const float* src[MRS] = {};
      for (int r = 0; r < valid; ++r) src[r] = a.q + lay.row(lay.query_token(q0 + i + r)) * a.ldq;
      Gemm<S, MRS, 1>::pack_panel(src, valid, a.hd, qp + static_cast<size_t>(i) * a.hd);
    }
  }

  // Query element (r, d) of a tile: packed (qp[d][r]) or in place (rows ldq apart).
  template <bool kPacked>
  static inline float q_at(const float* q, int64_t ldq, int r, int d) {
    return kPacked ? q[d * MRS + r] : q[r * ldq + d];
  }

  // --- micro-kernels ---------------------------------------------------------------
  // The score and P V tiles stay out of line: inlined into query_block, GCC
  // allocates their accumulators worse (the global shape ran 20% slower).

  // One query tile's bias values: out[r][j] = sum_d q[r][d] * rt[d][off[r] + j], j < n_pad,
  // one vector of j for all MRS rows at a time (MRS independent FMA chains).
  template <bool kPacked>
  static void bias_tile(int hd, const float* q, int64_t ldq, const float* rt, int ld, const int* off, int n_pad,
                        float* out, int ldout) {
    for (int j = 0; j < n_pad; j += L) {
      V acc[MRS];
#pragma GCC unroll 16
      for (int r = 0; r < MRS; ++r) acc[r] = S::zero();
      for (int d = 0; d < hd; ++d) {
        const float* row = rt + static_cast<size_t>(d) * ld + j;
#pragma GCC unroll 16
        for (int r = 0; r < MRS; ++r)
          acc[r] = S::fmadd(S::set1(q_at<kPacked>(q, ldq, r, d)), S::load(row + off[r]), acc[r]);
      }
#pragma GCC unroll 16
      for (int r = 0; r < MRS; ++r) S::store(out + r * ldout + j, acc[r]);
    }
  }

  // s[MRS][NRS] = scale * (Q tile)(K^T panel) + bias[r][0..NRS) + bh[r]: q (q_at), kp [hd][NRS];
  // the bias rows are ldbias apart, the scalars bh[r] ldbh apart.
  template <bool kPacked>
  [[gnu::noinline]] static void score_tile(int hd, const float* q, int64_t ldq, const float* kp, float* s, int lds, V vscale,
                                const float* bias, int ldbias, const float* bh, int ldbh, const float* next) {
    V acc[MRS][NVS];
#pragma GCC unroll 16
    for (int r = 0; r < MRS; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NVS; ++v) acc[r][v] = S::zero();
    for (int d = 0; d < hd; ++d) {
      if (next)  // the next K^T panel, into L1 while this one is in use
        for (int f = 0; f < NRS; f += 16) __builtin_prefetch(next + d * NRS + f);
      V b[NVS];
#pragma GCC unroll 4
      for (int v = 0; v < NVS; ++v) b[v] = S::load(kp + d * NRS + v * L);
#pragma GCC unroll 16
      for (int r = 0; r < MRS; ++r) {
        const V x = S::set1(q_at<kPacked>(q, ldq, r, d));
#pragma GCC unroll 4
        for (int v = 0; v < NVS; ++v) acc[r][v] = S::fmadd(x, b[v], acc[r][v]);
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

  // o[MRO][NV lanes] = alpha[r] * o + p[MRO][keys] vb[keys][NV lanes]; on the first key block
  // (first) o is written without being read (it holds garbage then).
  template <int NV>
  [[gnu::noinline]] static void pv_tile(int keys, const float* p, int ldp, const float* vb, int ldv, float* o, int ldo,
                             const float* alpha, bool first) {
    V acc[MRO][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MRO; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
    for (int u = 0; u < keys; ++u) {
      V b[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) b[v] = S::load(vb + static_cast<size_t>(u) * ldv + v * L);
#pragma GCC unroll 16
      for (int r = 0; r < MRO; ++r) {
        const V x = S::set1(p[r * ldp + u]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(x, b[v], acc[r][v]);
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
  static void pv_dispatch(int nv, int keys, const float* p, int ldp, const float* vb, int ldv, float* o, int ldo,
                          const float* alpha, bool first) {
    if constexpr (NV >= 1) {
      if (nv == NV)
        pv_tile<NV>(keys, p, ldp, vb, ldv, o, ldo, alpha, first);
      else
        pv_dispatch<NV - 1>(nv, keys, p, ldp, vb, ldv, o, ldo, alpha, first);
    }
  }

  // The bias of a key block (kr_b key rows from kh0) for query row r, where a
  // K^T panel may straddle key rows: out[kk * w + uw] = bh[kh0 + kk] + bw[uw].
  // The vector stores of key row kk spill past its w keys into key row kk + 1,
  // which is written afterwards (and past the last one into the next query's
  // row, written afterwards, or the buffer's padding), so any w works unmasked.
  static void fill_bias_row(const float* bh, const float* bw, int kh0, int kr_b, int w, float* out) {
    for (int kk = 0; kk < kr_b; ++kk) {
      const V b = S::set1(bh[kh0 + kk]);
      float* dst = out + kk * w;
      for (int c = 0; c < w; c += L) S::store(dst + c, S::add(S::load(bw + c), b));
    }
  }

  // Online softmax for R consecutive queries (rows lds apart) over a key block
  // of `keys` scores (log2 units): m = max(m, max s), s -> 2^(s - m), sum = the
  // row sum. The rows go through each pass together: one row alone is a chain of
  // dependent steps (max, reduce, exp's polynomial) that leaves the FMA ports
  // idle. The rescaling of earlier blocks (alpha = 2^(m_old - m)) is done for
  // all queries at once by the caller.
  template <int R>
  static void softmax_rows(float* s, int lds, int keys, float* m, float* sum) {
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
      m[r] = std::max(m[r], S::reduce_max(mx[r]));
      vm[r] = S::set1(m[r]);
      acc[r] = S::zero();
    }
    for (int j = 0; j < keys_v; j += L)
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        float* x = s + r * lds + j;
        const V e = exp2_nonpositive<S>(S::sub(S::load(x), vm[r]));
        S::store(x, e);
        acc[r] = S::add(acc[r], e);
      }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) sum[r] = S::reduce_add(acc[r]);
  }

  // --- driver ----------------------------------------------------------------------

  // Queries [q0, q0 + nq), nq <= bq, against all keys.
  static void query_block(const AttentionRelPosArgs& a, const AttentionLayout& lay, const Plan& p, float* sc, int q0,
                          int nq) {
    float* qp = sc + p.qp;
    float* bh = sc + p.bh;
    float* bw = sc + p.bw;
    float* bias = sc + p.bias;
    float* s = sc + p.s;
    float* o = sc + p.o;
    float* m = sc + p.m;
    float* l = sc + p.l;
    float* alpha = sc + p.alpha;
    float* sum = sc + p.sum;
    const int tiles_s = (nq + MRS - 1) / MRS, tiles_o = (nq + MRO - 1) / MRO;
    pack_q(a, lay, q0, nq, qp);
    auto q_tile = [&](int i) { return qp + static_cast<size_t>(i) * MRS * a.hd; };
    for (int i = 0; i < tiles_s; ++i) {
      int off_h[MRS], off_w[MRS];
      for (int r = 0; r < MRS; ++r) {
        const int t = lay.query_token(q0 + std::min(i * MRS + r, nq - 1));  // padding rows: any valid query
        off_h[r] = a.h - 1 - t / a.w;
        off_w[r] = a.w - 1 - t % a.w;
      }
      float* out_h = bh + static_cast<size_t>(i) * MRS * p.h_pad;
      float* out_w = bw + static_cast<size_t>(i) * MRS * p.w_pad;
      bias_tile<true>(a.hd, q_tile(i), 0, sc + p.rh, p.rh_ld, off_h, p.h_pad, out_h, p.h_pad);
      bias_tile<true>(a.hd, q_tile(i), 0, sc + p.rw, p.rw_ld, off_w, p.w_pad, out_w, p.w_pad);
    }
    // Running max (kNoKey before the first block: alpha = 2^(kNoKey - m) = 0 then), sum, row sums.
    std::fill(m, m + p.bq, kNoKey);
    std::fill(l, l + p.bq, 0.f);
    std::fill(sum, sum + p.bq, 0.f);
    const V vscale = S::set1(a.scale * kLog2e);
    const float zero = 0.f;
    const int nvt = p.hd_pad / L, chunks = (nvt + NVO - 1) / NVO;  // head-dim vectors, split in near-equal chunks
    for (int b = 0; b < p.nkb; ++b) {
      const int kh0 = b * p.kr, kr_b = std::min(p.kr, a.h - kh0), keys = kr_b * a.w;
      const int panels = (keys + NRS - 1) / NRS;
      if (!p.row_panels)
        for (int r = 0; r < tiles_s * MRS; ++r)
          fill_bias_row(bh + static_cast<size_t>(r) * p.h_pad, bw + static_cast<size_t>(r) * p.w_pad, kh0, kr_b, a.w,
                        bias + static_cast<size_t>(r) * p.bk_pad);
      // S = scale Q K^T + bias (log2 units); panel-outer so that one K^T panel serves all query tiles from L1.
      for (int n = 0; n < panels; ++n) {
        const float* kp = sc + p.kt + (static_cast<size_t>(b) * p.bk_pad + static_cast<size_t>(n) * NRS) * p.hd;
        // K^T panels are consecutive over key blocks; the first tile fetches the next one.
        const float* next = b + 1 < p.nkb || n + 1 < panels ? kp + static_cast<size_t>(NRS) * p.hd : nullptr;
        for (int i = 0; i < tiles_s; ++i) {
          const size_t r0 = static_cast<size_t>(i) * MRS;
          float* st = s + r0 * p.bk_pad + n * NRS;
          // The bias: with row panels, keys [kw, kw + NRS) of key row kh, else the block's bias tile.
          const float* tb = p.row_panels ? bw + r0 * p.w_pad + n * NRS % a.w : bias + r0 * p.bk_pad + n * NRS;
          const int ldtb = p.row_panels ? p.w_pad : p.bk_pad;
          const float* tbh = p.row_panels ? bh + r0 * p.h_pad + kh0 + n * NRS / a.w : &zero;
          const int ldtbh = p.row_panels ? p.h_pad : 0;
          const float* pf = i == 0 ? next : nullptr;
          score_tile<true>(a.hd, q_tile(i), 0, kp, st, p.bk_pad, vscale, tb, ldtb, tbh, ldtbh, pf);
        }
      }
      // Online softmax per query (padding rows >= nq keep their finite S: P V on them is
      // discarded), then for all queries alpha = 2^(m_old - m), l = alpha l + sum.
      std::copy(m, m + p.bq, alpha);
      int r = 0;
      for (; r + 4 <= nq; r += 4) softmax_rows<4>(s + static_cast<size_t>(r) * p.bk_pad, p.bk_pad, keys, m + r, sum + r);
      for (; r < nq; ++r) softmax_rows<1>(s + static_cast<size_t>(r) * p.bk_pad, p.bk_pad, keys, m + r, sum + r);
      rescale(p.bq, alpha, m, l, sum);
      // O = alpha O + P V
      const float* vb = sc + p.vp + static_cast<size_t>(b) * p.bk * p.hd_pad;
      for (int ch = 0; ch < chunks; ++ch) {
        const int c0 = nvt * ch / chunks, nv = nvt * (ch + 1) / chunks - c0;
        for (int i = 0; i < tiles_o; ++i)
          pv_dispatch<NVO>(nv, keys, s + static_cast<size_t>(i) * MRO * p.bk_pad, p.bk_pad, vb + c0 * L, p.hd_pad,
                           o + static_cast<size_t>(i) * MRO * p.hd_pad + c0 * L, p.hd_pad, alpha + i * MRO, b == 0);
      }
    }
    // out = O / l, only the hd columns of the rows asked for.
    write_out(a, lay, q0, nq, o, p.hd_pad, l);
  }

  static void run(const AttentionRelPosArgs& a) {
    const AttentionLayout lay(a);
    check_args(a, lay);
    if (a.r0 == a.r1) return;
    const Plan p = plan(a.h, a.w, a.hd);
    assert(a.scratch != nullptr && a.scratch_floats >= p.total);
    float* sc = a.scratch;
    const Rows rows = token_rows(a, lay, p, sc);
    pack_k(a, rows, p, sc + p.kt);
    pack_v(a, lay, rows, p, sc + p.vp);
    pack_rel(a.rel_pos_h, a.h, a.hd, p.rh_ld, sc + p.rh);
    pack_rel(a.rel_pos_w, a.w, a.hd, p.rw_ld, sc + p.rw);
    for (int q0 = a.r0; q0 < a.r1; q0 += p.bq) query_block(a, lay, p, sc, q0, std::min(p.bq, a.r1 - q0));
  }
};

}  // namespace kernels::simd
