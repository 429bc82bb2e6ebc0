// ISA-generic window attention with a per-head bias (kernels/bias_attention.h)
// over a vector wrapper, instantiated in each ISA's translation unit.
// Per (window, head): K is transposed once into the thread's scratch ([head_dim, n_pad],
// zero padded; L x L blocks in registers); then kRows query rows at a time: their scores,
// L keys at a time (each K vector serving every row; the row maxima kept on the way),
// soft-maxed in place and multiplied into V (each V vector serving every row). The last
// n % kRows rows run with exactly that many accumulators.
#pragma once

#include <cmath>
#include <cstring>

#include "kernels/bias_attention.h"
#include "../thread_scratch.h"
#include "math_impl.h"

namespace kernels::simd {

template <class S>
struct BiasAttention {
  using V = typename S::V;
  static constexpr int L = S::kLanes;

  static V load_part(const float* p, int n) { return simd::load_part<S>(p, n); }

  // Query rows per step: each K / V vector load serves kRows rows (kRows accumulators).
  static constexpr int kRows = 8;

  // Scores of R rows from i0 against every key: sc[r * n_pad + j] = q_r . k_j * scale + bias,
  // -inf in the padding lanes j >= n (pad: 0 below n - (n_pad - L), -inf above, added to the
  // last vector). Each row's maximum goes to mx[r] on the way.
  template <int R>
  static void scores(const BiasAttentionArgs& a, const float* base, const float* kt, const float* bias, int i0,
                     int n_pad, V pad, float* sc, float* mx) {
    const int n = a.n, hd = a.head_dim;
    const long row = 3L * a.heads * hd;
    const float* q[R];
    for (int r = 0; r < R; ++r) q[r] = base + static_cast<long>(i0 + r) * row;
    const V scale = S::set1(a.scale);
    V vmax[R];
    for (int r = 0; r < R; ++r) vmax[r] = S::set1(-INFINITY);
    for (int j = 0; j < n_pad; j += L) {
      V s[R];
      for (int r = 0; r < R; ++r) s[r] = S::zero();
      for (int t = 0; t < hd; ++t) {
        const V k = S::load(kt + static_cast<long>(t) * n_pad + j);
        for (int r = 0; r < R; ++r) s[r] = S::fmadd(S::set1(q[r][t]), k, s[r]);
      }
      const bool whole = j + L <= n;
      for (int r = 0; r < R; ++r) {
        const float* brow = bias + static_cast<long>(i0 + r) * n + j;
        const V v = whole ? S::fmadd(s[r], scale, S::load(brow)) : S::add(S::fmadd(s[r], scale, load_part(brow, n - j)), pad);
        S::store(sc + static_cast<long>(r) * n_pad + j, v);
        vmax[r] = S::max(vmax[r], v);
      }
    }
    for (int r = 0; r < R; ++r) mx[r] = S::reduce_max(vmax[r]);
  }

  // In place: sc row -> exp(sc - max) (padding lanes, -inf, -> 0); returns 1 / sum.
  static float softmax_row(float* sc, float mx, int n_pad) {
    V vsum = S::zero();
    const V m = S::set1(mx);
    for (int j = 0; j < n_pad; j += L) {
      const V e = exp<S>(S::sub(S::load(sc + j), m));
      S::store(sc + j, e);
      vsum = S::add(vsum, e);
    }
    return 1.f / S::reduce_add(vsum);
  }

  // out rows [i0, i0 + R) = P V, scaled by each row's 1 / sum.
  template <int R>
  static void weighted_values(const BiasAttentionArgs& a, const float* v0, const float* sc, const float* inv, int i0,
                              int n_pad, float* out) {
    const int n = a.n, hd = a.head_dim;
    const long row = 3L * a.heads * hd, orow = static_cast<long>(a.heads) * hd;
    int t = 0;
    for (; t + L <= hd; t += L) {
      V acc[R];
      for (int r = 0; r < R; ++r) acc[r] = S::zero();
      for (int j = 0; j < n; ++j) {
        const V v = S::load(v0 + j * row + t);
        for (int r = 0; r < R; ++r) acc[r] = S::fmadd(S::set1(sc[static_cast<long>(r) * n_pad + j]), v, acc[r]);
      }
      for (int r = 0; r < R; ++r) S::store(out + static_cast<long>(i0 + r) * orow + t, S::mul(acc[r], S::set1(inv[r])));
    }
    for (; t < hd; ++t)
      for (int r = 0; r < R; ++r) {
        float acc = 0.f;
        for (int j = 0; j < n; ++j) acc += sc[static_cast<long>(r) * n_pad + j] * v0[j * row + t];
        out[static_cast<long>(i0 + r) * orow + t] = acc * inv[r];
      }
  }

  // R query rows from i0: scores, softmax, P V.
  template <int R>
  static void rows_step(const BiasAttentionArgs& a, const float* base, const float* kt, const float* bias, int i0,
                        int n_pad, V pad, float* sc, float* out) {
    float mx[R], inv[R];
    scores<R>(a, base, kt, bias, i0, n_pad, pad, sc, mx);
    for (int r = 0; r < R; ++r) inv[r] = softmax_row(sc + static_cast<long>(r) * n_pad, mx[r], n_pad);
    weighted_values<R>(a, base + 2 * a.head_dim, sc, inv, i0, n_pad, out);
  }

  // The last n % kRows rows with exactly that many accumulators (7x7 windows: 49 = 6 x 8 + 1).
  template <int R = kRows - 1>
  static void tail_step(int rows, const BiasAttentionArgs& a, const float* base, const float* kt, const float* bias,
                        int i0, int n_pad, V pad, float* sc, float* out) {
    if constexpr (R >= 1) {
      if (rows == R) return rows_step<R>(a, base, kt, bias, i0, n_pad, pad, sc, out);
      tail_step<R - 1>(rows, a, base, kt, bias, i0, n_pad, pad, sc, out);
    }
  }

  // kt [hd, n_pad] = K^T of the n keys k (row stride `row`), zero in the columns j >= n:
  // L x L blocks transposed in registers (a 7x7 window's 49 x 32 keys were 1568 scalar
  // copies, ~18% of its operations); dimensions past the last whole vector one at a time.
  static void transpose_keys(const float* k, long row, int n, int hd, int n_pad, float* kt) {
    const int hd_full = hd / L * L;
    if constexpr (L > 1) {
      for (int j0 = 0; j0 < n_pad; j0 += L)
        for (int t0 = 0; t0 < hd_full; t0 += L) {
          V r[L];
          for (int i = 0; i < L; ++i) r[i] = j0 + i < n ? S::load(k + (j0 + i) * row + t0) : S::zero();
          S::transpose(r);
          for (int c = 0; c < L; ++c) S::store(kt + static_cast<long>(t0 + c) * n_pad + j0, r[c]);
        }
    }
    for (int t = L > 1 ? hd_full : 0; t < hd; ++t) {
      float* dst = kt + static_cast<long>(t) * n_pad;
      for (int j = 0; j < n; ++j) dst[j] = k[j * row + t];
      for (int j = n; j < n_pad; ++j) dst[j] = 0.f;
    }
  }

  static void run(const BiasAttentionArgs& a) {
    const int n = a.n, hd = a.head_dim, n_pad = (n + L - 1) / L * L;
    const long row = 3L * a.heads * hd, orow = static_cast<long>(a.heads) * hd;
    // [hd, n_pad] K^T, then kRows score rows of n_pad (rows past the last query stay zero).
    float* kt = detail::thread_scratch_floats(static_cast<size_t>(hd + kRows) * n_pad);
    float* sc = kt + static_cast<long>(hd) * n_pad;
    // Added to the last score vector: 0 on keys, -inf on its padding lanes (none when n % L == 0).
    alignas(64) float pad_lanes[L];
    for (int l = 0; l < L; ++l) pad_lanes[l] = n_pad - L + l < n ? 0.f : -INFINITY;
    const V pad = S::load(pad_lanes);
    for (int job = a.job_begin; job < a.job_end; ++job) {
      const long win = job / a.heads, h = job % a.heads;
      const float* base = a.qkv + win * n * row + h * 3 * hd;
      const float* bias = a.bias + h * n * n;
      transpose_keys(base + hd, row, n, hd, n_pad, kt);
      float* out = a.out + win * n * orow + h * hd;
      int i0 = 0;
      for (; i0 + kRows <= n; i0 += kRows) rows_step<kRows>(a, base, kt, bias, i0, n_pad, pad, sc, out);
      if (i0 < n) tail_step(n - i0, a, base, kt, bias, i0, n_pad, pad, sc, out);
    }
  }
};

}  // namespace kernels::simd
