// ISA-generic element-wise math and row kernels, written once over a vector
// wrapper (VecAvx512 / VecAvx2) and instantiated in each ISA's translation
// unit. Row tails are handled by running one more full vector over a padded
// stack copy, so every element takes the same arithmetic path.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "erf_table.h"

namespace kernels::simd {

// n (< kLanes) floats from p into a vector, zero above; and the first n lanes of v to p.
// Through an aligned stack copy: no read or write past p + n.
template <class S>
inline typename S::V load_part(const float* p, int n) {
  alignas(64) float buf[S::kLanes] = {};
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
  return S::load(buf);
}
template <class S>
inline void store_part(float* p, typename S::V v, int n) {
  alignas(64) float buf[S::kLanes];
  S::store(buf, v);
  std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
}

// exp(x) for x <= 88: n = round(x / ln2), r = x - n ln2 (two-part ln2, |r| <= 0.35),
// e^r by its Taylor series to r^7 (relative error < 1e-8 before rounding), times 2^n.
// Inputs below -87.3 give 0 (exp underflows), -inf included.
template <class S>
inline typename S::V exp(typename S::V x) {
  using V = typename S::V;
  const V lo = S::set1(-87.33654f);
  const V xc = S::min(S::max(x, lo), S::set1(88.3762626647949f));
  const V n = S::round(S::mul(xc, S::set1(1.44269504088896341f)));
  V r = S::fmadd(n, S::set1(-0.693359375f), xc);
  r = S::fmadd(n, S::set1(2.12194440e-4f), r);
  V p = S::set1(1.f / 5040.f);
  p = S::fmadd(p, r, S::set1(1.f / 720.f));
  p = S::fmadd(p, r, S::set1(1.f / 120.f));
  p = S::fmadd(p, r, S::set1(1.f / 24.f));
  p = S::fmadd(p, r, S::set1(1.f / 6.f));
  p = S::fmadd(p, r, S::set1(0.5f));
  p = S::fmadd(p, r, S::set1(1.f));
  p = S::fmadd(p, r, S::set1(1.f));
  const V y = S::mul(p, S::pow2i(n));
  return S::select_lt(x, lo, S::zero(), y);
}

// |erf(z)| from s = 2|z| (s >= 0; NaN gives a finite value: callers carry NaN through
// another operand). Eight degree-7 pieces in t = s - floor(s) - 1/2 (erf_table.h), one
// table lookup per coefficient; error < 9e-8 absolute (scripts/fit_erf.py). s is clamped
// below 8 (z < 4), past which float erf is 1: the last piece gives 1 there.
template <class S>
inline typename S::V erf_from_twice_abs(typename S::V s) {
  using V = typename S::V;
  s = S::min(s, S::set1(7.99999952f));  // NaN s takes the bound: min returns its second operand
  const V whole = S::floor(s);
  const auto piece = S::cvtt_i32(whole);
  const V t = S::sub(S::sub(s, S::set1(0.5f)), whole);
  V r = S::lookup8(kErfPiece[7], piece);
  for (int k = 6; k >= 0; --k) r = S::fmadd(r, t, S::lookup8(kErfPiece[k], piece));
  return r;
}

// x/2 (1 + erf(x / sqrt 2)); for x < 0 the fused multiply-add keeps 1 + erf's cancellation exact.
template <class S>
inline typename S::V gelu(typename S::V x) {
  const auto half_x = S::mul(x, S::set1(0.5f));
  const auto e = erf_from_twice_abs<S>(S::mul(S::abs(x), S::set1(1.41421356237309505f)));
  return S::fmadd(half_x, S::copysign(e, x), half_x);
}

// Applies `op` to n floats in place, vector by vector, the tail through a padded copy.
template <class S, class Op>
inline void map_inplace(float* x, int64_t n, Op op) {
  constexpr int L = S::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) S::store(x + i, op(S::load(x + i)));
  if (i < n) {
    float buf[L] = {};
    std::memcpy(buf, x + i, static_cast<size_t>(n - i) * sizeof(float));
    S::store(buf, op(S::load(buf)));
    std::memcpy(x + i, buf, static_cast<size_t>(n - i) * sizeof(float));
  }
}

template <class S>
void gelu_inplace(float* x, int64_t n) {
  map_inplace<S>(x, n, [](typename S::V v) { return gelu<S>(v); });
}

template <class S>
void add_inplace(float* y, const float* x, int64_t n) {
  constexpr int L = S::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) S::store(y + i, S::add(S::load(y + i), S::load(x + i)));
  for (; i < n; ++i) y[i] += x[i];
}

// Softmax of each row in place: max, exp(x - max) with the sum, scale by 1/sum.
template <class S>
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t full = cols / L * L;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * ld;
    V vmax = S::set1(-INFINITY);
    for (int64_t c = 0; c < full; c += L) vmax = S::max(vmax, S::load(row + c));
    float m = S::reduce_max(vmax);
    for (int64_t c = full; c < cols; ++c) m = std::max(m, row[c]);
    const V vm = S::set1(m);
    V vsum = S::zero();
    for (int64_t c = 0; c < full; c += L) {
      const V e = exp<S>(S::sub(S::load(row + c), vm));
      S::store(row + c, e);
      vsum = S::add(vsum, e);
    }
    float tail_sum = 0;
    if (full < cols) {
      float buf[L];
      std::fill(buf, buf + L, -INFINITY);
      std::memcpy(buf, row + full, static_cast<size_t>(cols - full) * sizeof(float));
      S::store(buf, exp<S>(S::sub(S::load(buf), vm)));
      for (int64_t c = full; c < cols; ++c) {
        row[c] = buf[c - full];
        tail_sum += buf[c - full];
      }
    }
    const float inv_s = 1.f / (S::reduce_add(vsum) + tail_sum);
    const V inv = S::set1(inv_s);
    for (int64_t c = 0; c < full; c += L) S::store(row + c, S::mul(S::load(row + c), inv));
    for (int64_t c = full; c < cols; ++c) row[c] *= inv_s;
  }
}

// LayerNorm over rows: two passes (mean, then centred variance), as torch.
template <class S>
void layer_norm(const float* x, int64_t ldx, float* y, int64_t ldy, const float* w, const float* b, int64_t rows,
                int64_t cols, float eps, float* stats = nullptr) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t full = cols / L * L;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    V vs = S::zero();
    for (int64_t c = 0; c < full; c += L) vs = S::add(vs, S::load(xr + c));
    float sum = S::reduce_add(vs);
    for (int64_t c = full; c < cols; ++c) sum += xr[c];
    const float mean = sum / static_cast<float>(cols);
    const V vmean = S::set1(mean);
    V vq = S::zero();
    for (int64_t c = 0; c < full; c += L) {
      const V d = S::sub(S::load(xr + c), vmean);
      vq = S::fmadd(d, d, vq);
    }
    float sq = S::reduce_add(vq);
    for (int64_t c = full; c < cols; ++c) sq += (xr[c] - mean) * (xr[c] - mean);
    const float rstd = 1.f / std::sqrt(sq / static_cast<float>(cols) + eps);
    if (stats) stats[2 * r] = mean, stats[2 * r + 1] = rstd;  // row r: mean, 1/sqrt(var + eps)
    const V vr = S::set1(rstd);
    for (int64_t c = 0; c < full; c += L) {
      const V n = S::mul(S::sub(S::load(xr + c), vmean), vr);
      S::store(yr + c, S::fmadd(n, S::load(w + c), S::load(b + c)));
    }
    for (int64_t c = full; c < cols; ++c) yr[c] = (xr[c] - mean) * rstd * w[c] + b[c];
  }
}

}  // namespace kernels::simd
