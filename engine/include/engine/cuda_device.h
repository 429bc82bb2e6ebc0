// The device-memory layer of the CUDA backend (docs/cuda.md): device buffers,
// a device activation arena, streams, host <-> device copies, weights uploaded
// once (optionally converted to f16 / bf16), and the cuBLAS handle.
//
// Only in SAM_CUDA=ON builds (SAM_HAS_CUDA). Every failing CUDA / cuBLAS call
// throws engine::Error naming the operation and CUDA's own error text, e.g.
//   "cuda: cudaMalloc of 1073741824 bytes (device arena): cudaErrorMemoryAllocation: out of memory"
// except cuda_available(), which answers false instead (no device, no driver).
#pragma once

#ifndef SAM_HAS_CUDA
#error "engine/cuda_device.h needs a SAM_CUDA=ON build (target kernels_cuda defines SAM_HAS_CUDA)"
#endif

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace engine::cuda {

// True when a CUDA device can be used: the runtime finds a driver and at least
// one device. Never throws; asked once per process. SAM_NO_CUDA=1 in the
// environment forces false (to exercise the CPU-only paths on a GPU machine).
bool cuda_available() noexcept;
// Why cuda_available() is false ("" when it is true), for skip messages and logs.
std::string cuda_unavailable_reason();

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;  // compute capability (8.0 A100, 9.0 H100)
  int sm_count = 0;
  size_t total_bytes = 0;
  size_t smem_per_block_optin = 0;
};
// The current device; throws engine::Error without one.
DeviceInfo device_info();

// Throws engine::Error("cuda: <what>: <cudaGetErrorName>: <cudaGetErrorString>") unless e == cudaSuccess.
void check(cudaError_t e, std::string_view what);
void check(cublasStatus_t s, std::string_view what);
// Runs `fn` (a kernels::cuda launch, which throws std::exception on bad sizes or
// a failed launch) and rethrows any failure as engine::Error with `what` in front.
template <typename Fn>
void launch(std::string_view what, Fn&& fn);

// A non-blocking stream (does not synchronise with the legacy default stream).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stream& operator=(Stream&& o) noexcept;

  cudaStream_t get() const { return s_; }
  // Waits for everything enqueued; asynchronous kernel faults surface here.
  void synchronize() const;

 private:
  cudaStream_t s_ = nullptr;
};

// Owning device allocation (cudaMalloc / cudaFree), move-only. Empty when
// default-constructed or of 0 bytes.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // `what` names the allocation in the out-of-memory message.
  explicit DeviceBuffer(size_t bytes, std::string_view what = "device buffer");
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), bytes_(o.bytes_) {
    o.p_ = nullptr;
    o.bytes_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;

  void* data() const { return p_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }
  bool empty() const { return p_ == nullptr; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// Device activation arena: one cudaMalloc up front, bump allocation during a
// forward pass, reset between passes (engine::Arena's rules on the device:
// it never grows silently; exhaustion throws). Not thread-safe.
class DeviceArena {
 public:
  static constexpr size_t kDefaultAlignment = 256;  // cudaMalloc's own alignment; enough for float4 / TMA

  DeviceArena() = default;
  explicit DeviceArena(size_t capacity_bytes) { reserve(capacity_bytes); }
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // Allocates the block. Only while empty; a larger size replaces the block.
  void reserve(size_t capacity_bytes);
  // Bump-allocates over a block the caller owns (a slice of a DeviceBuffer, say),
  // which must outlive the arena's use. Only while empty.
  void adopt(void* base, size_t capacity_bytes);

  // `bytes` aligned to `alignment` (a power of two <= 4096). Throws engine::Error when exhausted.
  void* allocate(size_t bytes, size_t alignment = kDefaultAlignment);
  template <typename T>
  T* allocate_n(size_t n) {
    return static_cast<T*>(allocate(n * sizeof(T), alignof(T) > kDefaultAlignment ? alignof(T) : kDefaultAlignment));
  }

  void reset() { used_ = 0; }
  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }
  size_t high_water() const { return high_water_; }

 private:
  DeviceBuffer owned_;
  std::byte* base_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
  size_t high_water_ = 0;
};

// Host <-> device copies. Without a stream they are synchronous: the data has
// arrived when they return, so kernels on any stream (non-blocking ones too)
// see it. With a stream they are ordered on it (from pageable host memory the
// host buffer may be reused on return; the device side completes in stream order).
void upload(void* dst, const void* src, size_t bytes, cudaStream_t stream = nullptr);
void download(void* dst, const void* src, size_t bytes, cudaStream_t stream = nullptr);

// A new device buffer holding `host` (synchronous).
template <typename T>
DeviceBuffer upload_vector(const std::vector<T>& host, std::string_view what = "upload") {
  DeviceBuffer b(host.size() * sizeof(T), what);
  if (!host.empty()) upload(b.data(), host.data(), host.size() * sizeof(T));
  return b;
}
// `n` elements of type T from the device (synchronous).
template <typename T>
std::vector<T> download_vector(const void* src, size_t n) {
  std::vector<T> host(n);
  if (n) download(host.data(), src, n * sizeof(T));
  return host;
}

// Storage type of weights on the device.
enum class WeightType { F32, F16, BF16 };
const char* weight_type_name(WeightType t);
size_t weight_type_size(WeightType t);
// Uploads n floats once, converted on the host (kernels::table() converts:
// round to nearest even) when t is F16 / BF16. `what` names the tensor in errors.
DeviceBuffer upload_weights(const float* src, size_t n, WeightType t, std::string_view what);

// Owning cuBLAS handle (cublasCreate / cublasDestroy), bound to the current device.
class BlasHandle {
 public:
  BlasHandle();
  ~BlasHandle();
  BlasHandle(const BlasHandle&) = delete;
  BlasHandle& operator=(const BlasHandle&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

// ---------------------------------------------------------------------------

[[noreturn]] void rethrow_launch_failure(std::string_view what);  // inside a catch block only

template <typename Fn>
void launch(std::string_view what, Fn&& fn) {
  try {
    fn();
  } catch (...) {
    rethrow_launch_failure(what);
  }
}

}  // namespace engine::cuda
