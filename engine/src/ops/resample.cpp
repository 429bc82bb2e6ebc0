#include "engine/ops/resample.h"
#include "../kernel_table.h"

#include "kernels/table.h"

namespace engine::ops {

void bilinear_taps(int in_size, int out_size, int32_t* i0, int32_t* i1, float* w0, float* w1) {
  kernels::bilinear_taps(in_size, out_size, i0, i1, w0, w1);
}

void resample_row(const ResampleRowArgs& a) { kernel_table().resample_row(a); }

void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out) {
  kernel_table().blend_rows(r0, r1, w0, w1, n, out);
}

void blend_rows_threshold(const float* r0, const float* r1, float w0, float w1, int n, float threshold, uint8_t* out) {
  kernel_table().blend_rows_threshold(r0, r1, w0, w1, n, threshold, out);
}

}  // namespace engine::ops
