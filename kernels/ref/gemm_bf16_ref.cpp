// The bf16 GEMM's oracle: the same bf16 inputs as every variant, summed in double.
#include <cassert>
#include <cmath>

#include "kernels/eltwise.h"
#include "kernels/gemm_bf16.h"

namespace kernels::ref {

void gemm_bf16(int m, int n, int k, const float* a, int64_t lda, const uint16_t* w, int64_t ldw, float* c,
               int64_t ldc, const GemmEpilogue& epilogue) {
  assert(m >= 0 && n >= 0 && k >= 0);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = 0;
      for (int p = 0; p < k; ++p)
        acc += static_cast<double>(bf16_to_f32(f32_to_bf16(a[i * lda + p]))) * bf16_to_f32(w[j * ldw + p]);
      if (epilogue.bias) acc += epilogue.bias[j];
      float& out = c[i * ldc + j];
      if (epilogue.accumulate) acc += out;
      out = static_cast<float>(acc);
      if (epilogue.activation == Activation::Gelu) gelu(&out, 1);
    }
  }
}

}  // namespace kernels::ref
