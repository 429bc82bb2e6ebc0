// window_partition / window_unpartition_add on the device (kernels/cuda/window.h).
// One thread per element, consecutive threads along the channels (coalesced
// rows); the window index arithmetic is per element, cheap next to the traffic.
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/window.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

// windows row r = ((wy * nw + wx) * ws + iy) * ws + ix  <-  x row (wy*ws + iy) * G + wx*ws + ix, or 0 past G.
__global__ void partition_kernel(const float* x, int64_t ldx, int grid, int c, int ws, int nw, float* win,
                                 int64_t ldw, int64_t total) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t r = i / c;
    const int k = static_cast<int>(i - r * c);
    const int ix = static_cast<int>(r % ws), iy = static_cast<int>((r / ws) % ws);
    const int64_t wi = r / (int64_t{ws} * ws);
    const int wy = static_cast<int>(wi / nw), wx = static_cast<int>(wi % nw);
    const int y = wy * ws + iy, xx = wx * ws + ix;
    win[r * ldw + k] = (y < grid && xx < grid) ? x[(int64_t{y} * grid + xx) * ldx + k] : 0.f;
  }
}

// x row y*G + xx  +=  windows row ((y/ws * nw + xx/ws) * ws + y%ws) * ws + xx%ws.
__global__ void unpartition_add_kernel(const float* win, int64_t ldw, int grid, int c, int ws, int nw, float* x,
                                       int64_t ldx, int64_t total) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t t = i / c;
    const int k = static_cast<int>(i - t * c);
    const int y = static_cast<int>(t / grid), xx = static_cast<int>(t % grid);
    const int64_t r = ((int64_t{y / ws} * nw + xx / ws) * ws + y % ws) * ws + xx % ws;
    x[t * ldx + k] += win[r * ldw + k];
  }
}

void check_args(const char* op, int grid, int c, int ws, int64_t ldx, int64_t ldw, const void* a, const void* b) {
  detail::require(grid >= 1 && c >= 1 && ws >= 1 && ldx >= c && ldw >= c && a && b, op,
                  "grid " + std::to_string(grid) + " channels " + std::to_string(c) + " window " + std::to_string(ws) +
                      " ldx " + std::to_string(ldx) + " ldw " + std::to_string(ldw) + " (or a null pointer)");
}

}  // namespace

void window_partition(const float* x, int64_t ldx, int grid, int c, int ws, float* windows, int64_t ldw,
                      cudaStream_t stream) {
  check_args("window_partition", grid, c, ws, ldx, ldw, x, windows);
  const int nw = (grid + ws - 1) / ws;
  const int64_t total = int64_t{nw} * nw * ws * ws * c;
  partition_kernel<<<detail::grid_for(total, 256), 256, 0, stream>>>(x, ldx, grid, c, ws, nw, windows, ldw, total);
  detail::check_launch("window_partition");
}

void window_unpartition_add(const float* windows, int64_t ldw, int grid, int c, int ws, float* x, int64_t ldx,
                            cudaStream_t stream) {
  check_args("window_unpartition_add", grid, c, ws, ldx, ldw, x, windows);
  const int nw = (grid + ws - 1) / ws;
  const int64_t total = int64_t{grid} * grid * c;
  unpartition_add_kernel<<<detail::grid_for(total, 256), 256, 0, stream>>>(windows, ldw, grid, c, ws, nw, x, ldx,
                                                                           total);
  detail::check_launch("window_unpartition_add");
}

}  // namespace kernels::cuda
