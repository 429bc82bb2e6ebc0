// Plain-loop references for kernels/resample.h (and the scalar table's kernels).
#include "kernels/resample.h"

#include <algorithm>
#include <cmath>

namespace kernels {

// (In this translation unit FMA contraction is off, so the source index rounds
// as the plain float expression does everywhere.)
void bilinear_taps(int in_size, int out_size, int32_t* i0, int32_t* i1, float* w0, float* w1) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int o = 0; o < out_size; ++o) {
    const float src = std::max(scale * (static_cast<float>(o) + 0.5f) - 0.5f, 0.f);
    const int lo = std::min(static_cast<int>(std::floor(src)), in_size - 1);
    const float l1 = std::min(std::max(src - static_cast<float>(lo), 0.f), 1.f);
    i0[o] = lo;
    i1[o] = lo + (lo < in_size - 1 ? 1 : 0);
    w0[o] = 1.f - l1;
    w1[o] = l1;
  }
}

}  // namespace kernels

namespace kernels::ref {

void resample_row(const ResampleRowArgs& a) {
  for (int x = 0; x < a.n; ++x) a.out[x] = a.w0[x] * a.row[a.i0[x]] + a.w1[x] * a.row[a.i1[x]];
}

void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out) {
  for (int x = 0; x < n; ++x) out[x] = w0 * r0[x] + w1 * r1[x];
}

void blend_rows_threshold(const float* r0, const float* r1, float w0, float w1, int n, float threshold, uint8_t* out) {
  for (int x = 0; x < n; ++x) out[x] = (w0 * r0[x] + w1 * r1[x]) > threshold ? 1 : 0;
}

}  // namespace kernels::ref
