// window_partition / window_unpartition (kernels/window.h) as plain loops.
#include "kernels/window.h"

namespace kernels::ref {

void window_partition(const float* x, int64_t ldx, int grid, int c, int ws, float* windows, int64_t ldw) {
  const int nw_side = (grid + ws - 1) / ws;
  for (int wy = 0; wy < nw_side; ++wy)
    for (int wx = 0; wx < nw_side; ++wx)
      for (int iy = 0; iy < ws; ++iy)
        for (int ix = 0; ix < ws; ++ix) {
          const int y = wy * ws + iy, xx = wx * ws + ix;
          const int64_t row = ((int64_t{wy} * nw_side + wx) * ws + iy) * ws + ix;
          for (int k = 0; k < c; ++k)
            windows[row * ldw + k] = (y < grid && xx < grid) ? x[(int64_t{y} * grid + xx) * ldx + k] : 0.f;
        }
}

void window_unpartition_add(const float* windows, int64_t ldw, int grid, int c, int ws, float* x, int64_t ldx) {
  const int nw_side = (grid + ws - 1) / ws;
  for (int y = 0; y < grid; ++y)
    for (int xx = 0; xx < grid; ++xx) {
      const int64_t row = ((int64_t{y / ws} * nw_side + xx / ws) * ws + y % ws) * ws + xx % ws;
      for (int k = 0; k < c; ++k) x[(int64_t{y} * grid + xx) * ldx + k] += windows[row * ldw + k];
    }
}

}  // namespace kernels::ref
