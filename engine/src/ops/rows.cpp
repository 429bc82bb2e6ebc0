#include "engine/ops/rows.h"
#include "../kernel_table.h"

#include "engine/thread_pool.h"
#include "kernels/norm.h"
#include "kernels/table.h"

namespace engine::ops {

void layer_norm_rows(const float* x, float* y, int64_t rows, int64_t cols, const Tensor& weight, const Tensor& bias,
                     float eps) {
  thread_pool().parallel_for(0, rows, 32, [&](int64_t lo, int64_t hi) {
    kernels::LayerNormArgs a;
    a.x = x + lo * cols;
    a.ldx = cols;
    a.y = y + lo * cols;
    a.ldy = cols;
    a.weight = weight.data<float>();
    a.bias = bias.data<float>();
    a.rows = hi - lo;
    a.cols = cols;
    a.eps = eps;
    kernel_table().layer_norm(a);
  });
}

void gelu_rows(float* x, int64_t n) {
  thread_pool().parallel_for(0, n, 16384, [&](int64_t lo, int64_t hi) { kernel_table().gelu(x + lo, hi - lo); });
}

void add_rows(float* y, const float* x, int64_t n) {
  thread_pool().parallel_for(0, n, 16384,
                             [&](int64_t lo, int64_t hi) { kernel_table().add(y + lo, x + lo, hi - lo); });
}

void add_serial(float* y, const float* x, int64_t n) { kernel_table().add(y, x, n); }

void softmax_rows_serial(float* x, int64_t rows, int64_t cols, int64_t ld) {
  kernel_table().softmax_rows(x, rows, cols, ld);
}

}  // namespace engine::ops
