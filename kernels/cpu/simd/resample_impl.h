// ISA-generic bilinear row resampling (kernels/resample.h) over a vector
// wrapper S with L = S::kLanes lanes.
//
// Horizontal taps: each group of L outputs reads source elements
// [i0[x], i1[x + L - 1]]. When that window fits in L elements (every upscaling
// by more than ~L/(L-1)) it is one load and each tap one single-register
// permute; when it fits in 2L (down to half the width) two loads and a
// two-register permute; wider groups fall back to scalar taps. No gathers.
// Plain loads wherever the window lies inside the row; masked loads (never
// past the row) only for the last groups: on AMD Zen 1 a masked ymm load costs
// more than the rest of the group (2.1x slower rows when every load was masked).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/resample.h"

namespace kernels::simd {

template <class S>
struct Resample {
  using V = typename S::V;
  static constexpr int L = S::kLanes;

  static void resample_row(const ResampleRowArgs& a) {
    int x = 0;
    for (; x + L <= a.n; x += L) {
      const int base = a.i0[x];
      const int span = a.i1[x + L - 1] - base;  // the window is [base, base + span]
      const auto vb = S::set1_i32(base);
      const auto t0 = S::sub_i32(S::load_i32(a.i0 + x), vb), t1 = S::sub_i32(S::load_i32(a.i1 + x), vb);
      V v0, v1;  // the taps row[i0[x..]], row[i1[x..]]
      if (span < L && base + L <= a.in_size) {
        const V w = S::load(a.row + base);
        v0 = S::lookup1(w, t0), v1 = S::lookup1(w, t1);
      } else if (span < 2 * L) {
        V lo, hi;
        if (base + 2 * L <= a.in_size) {
          lo = S::load(a.row + base), hi = S::load(a.row + base + L);
        } else {
          const int n_lo = std::min(L, a.in_size - base), n_hi = std::min(L, a.in_size - base - L);
          lo = S::load_first(a.row + base, n_lo);
          hi = n_hi > 0 ? S::load_first(a.row + base + L, n_hi) : S::zero();
        }
        v0 = S::lookup2(lo, hi, t0), v1 = S::lookup2(lo, hi, t1);
      } else {
        for (int j = x; j < x + L; ++j) a.out[j] = a.w0[j] * a.row[a.i0[j]] + a.w1[j] * a.row[a.i1[j]];
        continue;
      }
      S::store(a.out + x, S::add(S::mul(S::load(a.w0 + x), v0), S::mul(S::load(a.w1 + x), v1)));
    }
    for (; x < a.n; ++x) a.out[x] = a.w0[x] * a.row[a.i0[x]] + a.w1[x] * a.row[a.i1[x]];
  }

  static void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out) {
    const V a = S::set1(w0), b = S::set1(w1);
    int x = 0;
    for (; x + L <= n; x += L) S::store(out + x, S::add(S::mul(a, S::load(r0 + x)), S::mul(b, S::load(r1 + x))));
    for (; x < n; ++x) out[x] = w0 * r0[x] + w1 * r1[x];
  }

  static void blend_rows_threshold(const float* r0, const float* r1, float w0, float w1, int n, float threshold,
                                   uint8_t* out) {
    const V a = S::set1(w0), b = S::set1(w1), t = S::set1(threshold);
    int x = 0;
    for (; x + L <= n; x += L)
      S::store_gt_u8(out + x, S::add(S::mul(a, S::load(r0 + x)), S::mul(b, S::load(r1 + x))), t);
    for (; x < n; ++x) out[x] = (w0 * r0[x] + w1 * r1[x]) > threshold ? 1 : 0;
  }
};

}  // namespace kernels::simd
