// The image encoder's window_partition / window_unpartition on the device
// (segment_anything/modeling/image_encoder.py; CPU: sam/image_encoder.cpp,
// reference: kernels/window.h). Channels-last token grids, device pointers.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace kernels::cuda {

// windows [nW, ws, ws, C] (row stride ldw per token, >= C) from x [G, G, C]
// (row stride ldx per token), nW = ceil(G / ws)^2, window (wy, wx) at index
// wy * ceil(G / ws) + wx; tokens past the grid (F.pad) are zeros.
void window_partition(const float* x, int64_t ldx, int grid, int c, int ws, float* windows, int64_t ldw,
                      cudaStream_t stream);

// x[y, x] += windows[window of (y, x), position in window] for y, x < G: the
// unpartition's crop fused with Block's residual add.
void window_unpartition_add(const float* windows, int64_t ldw, int grid, int c, int ws, float* x, int64_t ldx,
                            cudaStream_t stream);

}  // namespace kernels::cuda
