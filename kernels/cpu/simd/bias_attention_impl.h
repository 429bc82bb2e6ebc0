// ISA-generic window attention with a per-head bias (kernels/bias_attention.h)
// over a vector wrapper, instantiated in each ISA's translation unit.
// Per (window, head): K is transposed once into the thread's scratch
// ([head_dim, n_pad], zero padded); then kRows query rows at a time: their scores,
// L keys at a time (each K vector serving every row), soft-maxed in place and
// multiplied into V (each V vector serving every row).
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

  // Scores of rows [i0, i0 + rows) against every key: sc[r * n_pad + j] = q_r . k_j * scale + bias.
  static void scores(const BiasAttentionArgs& a, const float* base, const float* kt, const float* bias, int i0,
                     int rows, int n_pad, float* sc) {
    const int n = a.n, hd = a.head_dim;
    const long row = 3L * a.heads * hd;
    const float* q[kRows];
    for (int r = 0; r < kRows; ++r) q[r] = base + static_cast<long>(i0 + (r < rows ? r : 0)) * row;
    const V scale = S::set1(a.scale);
    for (int j = 0; j < n_pad; j += L) {
      V s[kRows];
      for (int r = 0; r < kRows; ++r) s[r] = S::zero();
      for (int t = 0; t < hd; ++t) {
        const V k = S::load(kt + static_cast<long>(t) * n_pad + j);
        for (int r = 0; r < kRows; ++r) s[r] = S::fmadd(S::set1(q[r][t]), k, s[r]);
      }
      for (int r = 0; r < rows; ++r) {
        const float* brow = bias + static_cast<long>(i0 + r) * n + j;
        const V b = j + L <= n ? S::load(brow) : load_part(brow, n - j);
        S::store(sc + static_cast<long>(r) * n_pad + j, S::fmadd(s[r], scale, b));
      }
    }
  }

  // In place: sc row -> exp(sc - max) (padding lanes -> 0); returns 1 / sum.
  static float softmax_row(float* sc, int n, int n_pad) {
    V vmax = S::set1(-INFINITY);
    for (int j = 0; j + L <= n; j += L) vmax = S::max(vmax, S::load(sc + j));
    float mx = S::reduce_max(vmax);
    for (int j = n / L * L; j < n; ++j) mx = sc[j] > mx ? sc[j] : mx;
    for (int j = n; j < n_pad; ++j) sc[j] = -INFINITY;
    V vsum = S::zero();
    const V m = S::set1(mx);
    for (int j = 0; j < n_pad; j += L) {
      const V e = exp<S>(S::sub(S::load(sc + j), m));
      S::store(sc + j, e);
      vsum = S::add(vsum, e);
    }
    return 1.f / S::reduce_add(vsum);
  }

  // out rows [i0, i0 + rows) = P V, scaled by each row's 1 / sum.
  static void weighted_values(const BiasAttentionArgs& a, const float* v0, const float* sc, const float* inv, int i0,
                              int rows, int n_pad, float* out) {
    const int n = a.n, hd = a.head_dim;
    const long row = 3L * a.heads * hd, orow = static_cast<long>(a.heads) * hd;
    int t = 0;
    for (; t + L <= hd; t += L) {
      V acc[kRows];
      for (int r = 0; r < kRows; ++r) acc[r] = S::zero();
      for (int j = 0; j < n; ++j) {
        const V v = S::load(v0 + j * row + t);
        for (int r = 0; r < kRows; ++r) acc[r] = S::fmadd(S::set1(sc[static_cast<long>(r) * n_pad + j]), v, acc[r]);
      }
      for (int r = 0; r < rows; ++r) S::store(out + static_cast<long>(i0 + r) * orow + t, S::mul(acc[r], S::set1(inv[r])));
    }
    for (; t < hd; ++t)
      for (int r = 0; r < rows; ++r) {
        float acc = 0.f;
        for (int j = 0; j < n; ++j) acc += sc[static_cast<long>(r) * n_pad + j] * v0[j * row + t];
        out[static_cast<long>(i0 + r) * orow + t] = acc * inv[r];
      }
  }

  static void run(const BiasAttentionArgs& a) {
    const int n = a.n, hd = a.head_dim, n_pad = (n + L - 1) / L * L;
    const long row = 3L * a.heads * hd, orow = static_cast<long>(a.heads) * hd;
    // [hd, n_pad] K^T, then kRows score rows of n_pad (rows past the last query stay zero).
    float* kt = detail::thread_scratch_floats(static_cast<size_t>(hd + kRows) * n_pad);
    float* sc = kt + static_cast<long>(hd) * n_pad;
    for (int job = a.job_begin; job < a.job_end; ++job) {
      const long win = job / a.heads, h = job % a.heads;
      const float* base = a.qkv + win * n * row + h * 3 * hd;
      const float* bias = a.bias + h * n * n;
      for (int t = 0; t < hd; ++t) {
        float* dst = kt + static_cast<long>(t) * n_pad;
        for (int j = 0; j < n; ++j) dst[j] = base[j * row + hd + t];
        for (int j = n; j < n_pad; ++j) dst[j] = 0.f;
      }
      for (long i = 0; i < static_cast<long>(kRows) * n_pad; ++i) sc[i] = 0.f;
      float* out = a.out + win * n * orow + h * hd;
      for (int i0 = 0; i0 < n; i0 += kRows) {
        const int rows = n - i0 < kRows ? n - i0 : kRows;
        scores(a, base, kt, bias, i0, rows, n_pad, sc);
        float inv[kRows];
        for (int r = 0; r < rows; ++r) inv[r] = softmax_row(sc + static_cast<long>(r) * n_pad, n, n_pad);
        weighted_values(a, base + 2 * hd, sc, inv, i0, rows, n_pad, out);
      }
    }
  }
};

}  // namespace kernels::simd
