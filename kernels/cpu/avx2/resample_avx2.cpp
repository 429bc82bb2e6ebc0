// Bilinear row resampling for avx2: cpu/simd/resample_impl.h over VecAvx2.
#include "kernels/resample.h"
#include "../simd/resample_impl.h"
#include "../simd/vec_avx2.h"

namespace kernels::avx2 {
namespace {

using R = simd::Resample<simd::VecAvx2>;

void resample_row(const ResampleRowArgs& a) { R::resample_row(a); }
void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out) {
  R::blend_rows(r0, r1, w0, w1, n, out);
}
void blend_rows_threshold(const float* r0, const float* r1, float w0, float w1, int n, float threshold, uint8_t* out) {
  R::blend_rows_threshold(r0, r1, w0, w1, n, threshold, out);
}

}  // namespace

// The slots of this variant (listed in cpu/resample_variants.cpp): constant data, no code runs to make it.
extern constinit const ResampleKernels resample_kernels{
    .resample_row = resample_row,
    .blend_rows = blend_rows,
    .blend_rows_threshold = blend_rows_threshold,
};

}  // namespace kernels::avx2
