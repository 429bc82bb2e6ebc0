// Row softmax on the device (kernels/cuda/eltwise.h): one warp per row, three
// passes over the row (max, sum of exp, scale), in place, as the CPU reference
// (kernels/ref/eltwise_ref.cpp) orders them.
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/eltwise.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

constexpr int kWarps = 8;  // rows per block

__global__ void softmax_rows_kernel(float* x, int64_t rows, int64_t cols, int64_t ld) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_total = int64_t{gridDim.x} * kWarps;
  for (int64_t r = int64_t{blockIdx.x} * kWarps + (threadIdx.x >> 5); r < rows; r += warps_total) {
    float* row = x + r * ld;
    float m = -INFINITY;
    for (int64_t c = lane; c < cols; c += 32) m = fmaxf(m, row[c]);
    m = detail::warp_max(m);
    float sum = 0.f;
    for (int64_t c = lane; c < cols; c += 32) {
      const float e = expf(row[c] - m);
      row[c] = e;
      sum += e;
    }
    sum = detail::warp_sum(sum);  // (also orders this lane's writes before the reads below)
    const float inv = 1.f / sum;
    for (int64_t c = lane; c < cols; c += 32) row[c] *= inv;
  }
}

}  // namespace

void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld, cudaStream_t stream) {
  detail::require(rows >= 0 && cols >= 1 && ld >= cols && (rows == 0 || x), "softmax_rows",
                  "rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " ld " + std::to_string(ld));
  if (rows == 0) return;
  softmax_rows_kernel<<<detail::grid_for(rows, kWarps), 32 * kWarps, 0, stream>>>(x, rows, cols, ld);
  detail::check_launch("softmax_rows");
}

}  // namespace kernels::cuda
