// Bilinear resampling rows (the masks' upscaling to the image size: ATen's
// align_corners=False taps, kernels/resample.h; argument block re-exported).
#pragma once

#include <cstdint>

#include "kernels/resample.h"

namespace engine::ops {

using ResampleRowArgs = kernels::ResampleRowArgs;

// The taps of a bilinear resize from in_size to out_size samples (one per output).
void bilinear_taps(int in_size, int out_size, int32_t* i0, int32_t* i1, float* w0, float* w1);
// out[x] = w0[x] * row[i0[x]] + w1[x] * row[i1[x]]
void resample_row(const ResampleRowArgs& a);
// out = w0 * r0 + w1 * r1 (n values); the thresholded form writes out = (... > threshold) as 0/1 bytes.
void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out);
void blend_rows_threshold(const float* r0, const float* r1, float w0, float w1, int n, float threshold, uint8_t* out);

}  // namespace engine::ops
