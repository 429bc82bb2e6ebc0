// GELU on the device (kernels/cuda/eltwise.h): in place, grid-stride.
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/eltwise.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

__global__ void gelu_kernel(float* x, int64_t n) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    x[i] = detail::gelu_erf(x[i]);
}

}  // namespace

void gelu(float* x, int64_t n, cudaStream_t stream) {
  detail::require(n >= 0 && (n == 0 || x), "gelu", "n " + std::to_string(n) + " with a null pointer or negative");
  if (n == 0) return;
  gelu_kernel<<<detail::grid_for(n, 256), 256, 0, stream>>>(x, n);
  detail::check_launch("gelu");
}

}  // namespace kernels::cuda
