// Bilinear resampling of rows, the two halves of ATen's separable
// upsample_bilinear2d (align_corners=False) as sam/postprocess.cpp uses it:
//   horizontal: out[x] = w0[x] * row[i0[x]] + w1[x] * row[i1[x]]
//               (taps precomputed per size pair; i1[x] is i0[x] or i0[x] + 1)
//   vertical:   out[x] = w0 * r0[x] + w1 * r1[x]   (two rows blended)
// and the vertical blend fused with the mask threshold (out[x] = blend > t,
// as 0 / 1 bytes), so a binary mask row is never stored as floats.
#pragma once

#include <cstdint>

#include "kernels/variant.h"

namespace kernels {

struct ResampleRowArgs {
  const float* row = nullptr;  // in_size floats
  int in_size = 0;
  const int32_t* i0 = nullptr;  // n source indices each, 0 <= i0 <= i1 <= i0 + 1 < in_size + 1
  const int32_t* i1 = nullptr;
  const float* w0 = nullptr;  // n weights each
  const float* w1 = nullptr;
  int n = 0;
  float* out = nullptr;  // n floats
};

// The taps of a bilinear resize from in_size to out_size samples, as ATen's
// upsample_bilinear2d computes them for align_corners=False
// (area_pixel_compute_source_index + guard_index_and_lambda), in float:
// i0 / i1 / w0 / w1 receive out_size values each.
void bilinear_taps(int in_size, int out_size, int32_t* i0, int32_t* i1, float* w0, float* w1);

namespace ref {
void resample_row(const ResampleRowArgs& a);
void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out);
void blend_rows_threshold(const float* r0, const float* r1, float w0, float w1, int n, float threshold, uint8_t* out);
}  // namespace ref

// The resample family's slots in the kernel table (kernels/table.h); its
// variants: kernels/cpu/resample_variants.cpp.
struct ResampleKernels {
  static constexpr const char* family = "resample";
  static VariantList<ResampleKernels> variants();  // best first
  void (*resample_row)(const ResampleRowArgs& a) = nullptr;
  void (*blend_rows)(const float* r0, const float* r1, float w0, float w1, int n, float* out) = nullptr;
  void (*blend_rows_threshold)(const float* r0, const float* r1, float w0, float w1, int n, float threshold,
                               uint8_t* out) = nullptr;
};

}  // namespace kernels
