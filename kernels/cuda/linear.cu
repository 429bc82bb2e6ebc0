// Linear layers through cuBLAS (kernels/cuda/linear.h) plus the bias / GELU
// epilogue kernel. Row-major y[M, N] = x[M, K] w[N, K]^T is, read column-major,
// y^T[N, M] = w^T x^T: one cublasGemmEx with op(A) = T on w, op(B) = N on x.
#include <cublas_v2.h>

#include <stdexcept>
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/linear.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

// y[r][c] = act(y[r][c] + bias[c]) over [rows, cols], row stride ld.
__global__ void bias_act_kernel(float* y, int64_t ld, int64_t rows, int64_t cols, const float* bias, bool gelu) {
  const int64_t total = rows * cols, stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t r = i / cols, c = i - r * cols;
    float v = y[r * ld + c] + (bias ? bias[c] : 0.f);
    y[r * ld + c] = gelu ? detail::gelu_erf(v) : v;
  }
}

void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuda linear: ") + what + ": " + cublasGetStatusName(s) + ": " +
                             cublasGetStatusString(s));
}

cudaDataType_t data_type(MatType t) {
  switch (t) {
    case MatType::F16: return CUDA_R_16F;
    case MatType::BF16: return CUDA_R_16BF;
    case MatType::F32: break;
  }
  return CUDA_R_32F;
}

}  // namespace

void linear(cublasHandle_t handle, const LinearArgs& a, cudaStream_t stream) {
  const char* op = "linear";
  constexpr int64_t kMax = 0x7fffffff;  // cublasGemmEx takes int sizes and strides
  detail::require(a.m >= 0 && a.n >= 1 && a.k >= 1 && a.m <= kMax && a.n <= kMax && a.k <= kMax, op,
                  "M " + std::to_string(a.m) + " N " + std::to_string(a.n) + " K " + std::to_string(a.k));
  detail::require(a.ldx >= a.k && a.ldw >= a.k && a.ldy >= a.n && a.ldx <= kMax && a.ldw <= kMax && a.ldy <= kMax,
                  op,
                  "row strides x " + std::to_string(a.ldx) + " w " + std::to_string(a.ldw) + " y " +
                      std::to_string(a.ldy) + " for K " + std::to_string(a.k) + ", N " + std::to_string(a.n));
  detail::require(handle && a.w && (a.m == 0 || (a.x && a.y)), op, "null handle or pointer");
  if (a.m == 0) return;
  check_blas(cublasSetStream(handle, stream), "cublasSetStream");
  const cudaDataType_t t = data_type(a.type);
  const cublasComputeType_t compute =
      a.type == MatType::F32 && a.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const float one = 1.f, zero = 0.f;
  check_blas(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(a.n), static_cast<int>(a.m),
                          static_cast<int>(a.k), &one, a.w, t, static_cast<int>(a.ldw), a.x, t,
                          static_cast<int>(a.ldx), &zero, a.y, CUDA_R_32F, static_cast<int>(a.ldy), compute,
                          CUBLAS_GEMM_DEFAULT),
             "cublasGemmEx");
  if (a.bias || a.gelu) {
    bias_act_kernel<<<detail::grid_for(a.m * a.n, 256), 256, 0, stream>>>(a.y, a.ldy, a.m, a.n, a.bias, a.gelu);
    detail::check_launch(op);
  }
}

}  // namespace kernels::cuda
