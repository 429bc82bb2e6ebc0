// LayerNorm over rows on the device (kernels/cuda/norm.h): one warp per row.
// Pass 1 sums the row (mean), pass 2 the squared deviations (a centred
// variance: no cancellation for rows with a large mean, as the CPU kernels),
// pass 3 writes. A lane writes only the columns it read, after the warp's
// reductions, so y may alias x.
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/norm.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

constexpr int kWarps = 8;  // rows per block

__global__ void layer_norm_kernel(const float* x, int64_t ldx, float* y, int64_t ldy, const float* weight,
                                  const float* bias, int64_t rows, int64_t cols, float eps) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_total = int64_t{gridDim.x} * kWarps;
  const float inv_cols = 1.f / static_cast<float>(cols);
  for (int64_t r = int64_t{blockIdx.x} * kWarps + (threadIdx.x >> 5); r < rows; r += warps_total) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    float s = 0.f;
    for (int64_t c = lane; c < cols; c += 32) s += xr[c];
    const float mean = detail::warp_sum(s) * inv_cols;
    float v = 0.f;
    for (int64_t c = lane; c < cols; c += 32) {
      const float dlt = xr[c] - mean;
      v += dlt * dlt;
    }
    const float rstd = rsqrtf(detail::warp_sum(v) * inv_cols + eps);
    for (int64_t c = lane; c < cols; c += 32) {
      const float n = (xr[c] - mean) * rstd;
      yr[c] = n * (weight ? weight[c] : 1.f) + (bias ? bias[c] : 0.f);
    }
  }
}

}  // namespace

void layer_norm(const LayerNormArgs& a, cudaStream_t stream) {
  detail::require(a.rows >= 0 && a.cols >= 1 && a.ldx >= a.cols && a.ldy >= a.cols && (a.rows == 0 || (a.x && a.y)),
                  "layer_norm",
                  "rows " + std::to_string(a.rows) + " cols " + std::to_string(a.cols) + " ldx " +
                      std::to_string(a.ldx) + " ldy " + std::to_string(a.ldy) + " (or a null pointer)");
  if (a.rows == 0) return;
  layer_norm_kernel<<<detail::grid_for(a.rows, kWarps), 32 * kWarps, 0, stream>>>(a.x, a.ldx, a.y, a.ldy, a.weight,
                                                                                  a.bias, a.rows, a.cols, a.eps);
  detail::check_launch("layer_norm");
}

}  // namespace kernels::cuda
