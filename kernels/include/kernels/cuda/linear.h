// Linear layers on the device through cuBLAS: y[M, N] = x[M, K] w[N, K]^T
// (+ bias) (+ GELU), row-major as torch stores them, accumulated in float.
// x and w are both f32, or both f16 / bf16 (weights uploaded once in that
// type, activations converted by kernels/cuda/eltwise.h); y is always f32.
// With f32 inputs TF32 is off unless allow_tf32 (the tests compare with a
// double reference).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace kernels::cuda {

enum class MatType : uint8_t { F32, F16, BF16 };

struct LinearArgs {
  MatType type = MatType::F32;  // storage type of x and w
  const void* x = nullptr;      // [M, K], row stride ldx (elements)
  int64_t ldx = 0;
  const void* w = nullptr;      // [N, K], row stride ldw
  int64_t ldw = 0;
  const float* bias = nullptr;  // [N] or null
  bool gelu = false;            // GELU after the bias (MLP lin1)
  bool allow_tf32 = false;
  float* y = nullptr;           // [M, N], row stride ldy
  int64_t ldy = 0;
  int64_t m = 0, n = 0, k = 0;
};

// Runs on `stream` (set on the handle for the call). Throws std::invalid_argument
// on bad sizes, std::runtime_error with cuBLAS's status on failure.
void linear(cublasHandle_t handle, const LinearArgs& a, cudaStream_t stream);

}  // namespace kernels::cuda
