// The finite-values scan (kernels/eltwise.h: find_nonfinite) over a Vec type
// (VecAvx2 / VecAvx512): four vectors per step, one branch per step; the tail
// after the last full vector is read with a masked load (zeros above n are
// finite), so nothing past x[n - 1] is touched.
#pragma once

#include <bit>
#include <cstdint>

namespace kernels::simd {

template <class S>
int64_t find_nonfinite(const float* x, int64_t n) {
  constexpr int64_t L = S::kLanes;
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    const uint32_t m[4] = {S::nonfinite_lanes(S::load(x + i)), S::nonfinite_lanes(S::load(x + i + L)),
                           S::nonfinite_lanes(S::load(x + i + 2 * L)), S::nonfinite_lanes(S::load(x + i + 3 * L))};
    if ((m[0] | m[1] | m[2] | m[3]) == 0) continue;
    for (int k = 0; k < 4; ++k)
      if (m[k] != 0) return i + k * L + std::countr_zero(m[k]);
  }
  for (; i < n; i += L) {
    const uint32_t m = S::nonfinite_lanes(S::load_first(x + i, static_cast<int>(n - i < L ? n - i : L)));
    if (m != 0) return i + std::countr_zero(m);
  }
  return n;
}

}  // namespace kernels::simd
