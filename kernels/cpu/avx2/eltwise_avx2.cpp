// GELU, add, row softmax and LayerNorm (cpu/simd/math_impl.h) and the finite scan
// (cpu/simd/scan_impl.h) for avx2, over VecAvx2.
#include "kernels/eltwise.h"
#include "../simd/math_impl.h"
#include "../simd/scan_impl.h"
#include "../simd/vec_avx2.h"

namespace kernels::avx2 {
namespace {

using S = simd::VecAvx2;

void gelu(float* x, int64_t n) { simd::gelu_inplace<S>(x, n); }
void add(float* y, const float* x, int64_t n) { simd::add_inplace<S>(y, x, n); }
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld) { simd::softmax_rows<S>(x, rows, cols, ld); }
void layer_norm(const LayerNormArgs& a) {
  simd::layer_norm<S>(a.x, a.ldx, a.y, a.ldy, a.weight, a.bias, a.rows, a.cols, a.eps);
}
int64_t find_nonfinite(const float* x, int64_t n) { return simd::find_nonfinite<S>(x, n); }

}  // namespace

// The slots of this variant (listed in cpu/eltwise_variants.cpp): constant data, no code runs to make it.
extern constinit const EltwiseKernels eltwise_kernels{
    .gelu = gelu,
    .add = add,
    .softmax_rows = softmax_rows,
    .layer_norm = layer_norm,
    .find_nonfinite = find_nonfinite,
};

}  // namespace kernels::avx2
