// Plain-loop references for kernels/resample.h (and the scalar table's kernels).
#include "kernels/resample.h"

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
