// Element-wise and row kernels on the device (the CUDA versions of
// kernels/eltwise.h and the f32 -> f16 / bf16 conversions of kernels/convert.h).
// All pointers are device pointers; every call is enqueued on `stream` and
// returns at once. Bad sizes throw std::invalid_argument, a failed launch
// std::runtime_error (kernels/cuda/launch_check.cpp), both naming the kernel.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace kernels::cuda {

// x = 0.5 x (1 + erf(x / sqrt(2))) for x [n], in place (torch.nn.GELU()).
void gelu(float* x, int64_t n, cudaStream_t stream);

// Softmax over each of `rows` rows of `cols` elements (row stride ld >= cols),
// in place, max-subtracted as torch does. Columns [cols, ld) are not touched.
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld, cudaStream_t stream);

// dst [n] = src rounded to nearest-even half / bfloat16 (bit patterns as
// uint16_t), bit-exact with kernels/convert.h (NaN patterns included):
// activations for the f16 / bf16 matrix products of kernels/cuda/linear.h.
void convert_f32_to_f16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream);
void convert_f32_to_bf16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream);

}  // namespace kernels::cuda
