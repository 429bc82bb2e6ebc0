// Host-side argument and launch checks of the CUDA kernels (launch_check.h).
#include "launch_check.h"

#include <array>
#include <mutex>
#include <stdexcept>

namespace kernels::cuda::detail {

void require(bool ok, const char* op, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string("cuda ") + op + ": " + message);
}

void check(cudaError_t e, const char* op, const char* what) {
  if (e == cudaSuccess) return;
  throw std::runtime_error(std::string("cuda ") + op + ": " + what + ": " + cudaGetErrorName(e) + ": " +
                           cudaGetErrorString(e));
}

void check_launch(const char* op) { check(cudaGetLastError(), op, "launch failed"); }

size_t max_smem_per_block() {
  // Asked once per device (launches are many; the attribute never changes).
  static std::mutex mu;
  static std::array<int, 64> cache{};  // 0: not asked yet
  int dev = 0;
  check(cudaGetDevice(&dev), "shared memory limit", "cudaGetDevice");
  auto ask = [dev] {
    int v = 0;
    check(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "shared memory limit",
          "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
    return v;
  };
  if (dev < 0 || dev >= static_cast<int>(cache.size())) return static_cast<size_t>(ask());
  std::lock_guard<std::mutex> lock(mu);
  int& v = cache[static_cast<size_t>(dev)];
  if (v == 0) v = ask();
  return static_cast<size_t>(v);
}

}  // namespace kernels::cuda::detail
