// LayerNorm over the last dimension on the device: the contract of
// kernels/norm.h (LayerNormArgs, pointers on the device). One warp per row,
// two-pass mean / variance in float. x and y may alias (row by row in place).
// LayerNorm2d on channels-last [H, W, C] activations is this over H*W rows.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/norm.h"

namespace kernels::cuda {

void layer_norm(const LayerNormArgs& a, cudaStream_t stream);

}  // namespace kernels::cuda
