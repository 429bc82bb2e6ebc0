// GELU, add, row softmax and LayerNorm for avx2: cpu/simd/math_impl.h over VecAvx2.
#include "kernels/eltwise.h"
#include "../simd/math_impl.h"
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

}  // namespace

// The slots of this variant (listed in cpu/eltwise_variants.cpp): constant data, no code runs to make it.
extern constinit const EltwiseKernels eltwise_kernels{
    .gelu = gelu,
    .add = add,
    .softmax_rows = softmax_rows,
    .layer_norm = layer_norm,
};

}  // namespace kernels::avx2
