// window_partition / window_unpartition of the image encoder
// (segment_anything/modeling/image_encoder.py) as plain loops: the oracle for
// the CUDA versions (kernels/cuda/window.h, same contract; the CPU model path
// has its own threaded copies in sam/image_encoder.cpp).
#pragma once

#include <cstdint>

namespace kernels::ref {

// windows [nW, ws, ws, C] (token row stride ldw) from x [G, G, C] (token row
// stride ldx), nW = ceil(G / ws)^2 in row-major window order, zero padded.
void window_partition(const float* x, int64_t ldx, int grid, int c, int ws, float* windows, int64_t ldw);
// x[y, x] += windows[window of (y, x), position in window] for y, x < G.
void window_unpartition_add(const float* windows, int64_t ldw, int grid, int c, int ws, float* x, int64_t ldx);

}  // namespace kernels::ref
