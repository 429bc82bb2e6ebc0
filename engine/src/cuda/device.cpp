// The CUDA device layer (engine/cuda_device.h): availability, error checks,
// streams, buffers, copies, weight upload, the cuBLAS handle. Host code only
// (compiled by the C++ compiler against the CUDA runtime): no kernels here.
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <vector>

#include "engine/cuda_device.h"
#include "../kernel_table.h"
#include "engine/error.h"
#include "kernels/table.h"

namespace engine::cuda {
namespace {

struct Availability {
  bool ok = false;
  std::string reason;
};

Availability probe() noexcept {
  Availability a;
  const char* off = std::getenv("SAM_NO_CUDA");
  if (off && std::string_view(off) == "1") {
    a.reason = "SAM_NO_CUDA=1";
    return a;
  }
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    // cudaErrorNoDevice, cudaErrorInsufficientDriver (no libcuda), ...: not an error here.
    a.reason = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    (void)cudaGetLastError();  // leave no error behind for the next runtime call
    return a;
  }
  if (n < 1) {
    a.reason = "no CUDA device";
    return a;
  }
  a.ok = true;
  return a;
}

const Availability& availability() noexcept {
  static const Availability a = probe();  // thread-safe, once
  return a;
}

}  // namespace

bool cuda_available() noexcept { return availability().ok; }

std::string cuda_unavailable_reason() { return availability().reason; }

void check(cudaError_t e, std::string_view what) {
  if (e == cudaSuccess) return;
  (void)cudaGetLastError();  // clear a non-sticky error so that the next call starts clean
  fail("cuda: {}: {}: {}", what, cudaGetErrorName(e), cudaGetErrorString(e));
}

void check(cublasStatus_t s, std::string_view what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  fail("cublas: {}: {}: {}", what, cublasGetStatusName(s), cublasGetStatusString(s));
}

void rethrow_launch_failure(std::string_view what) {
  try {
    throw;
  } catch (const Error& e) {
    throw e.with_context(std::string(what));
  } catch (const std::exception& e) {
    fail("{}: {}", what, e.what());
  }
}

DeviceInfo device_info() {
  DeviceInfo info;
  check(cudaGetDevice(&info.index), "cudaGetDevice");
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, info.index), "cudaGetDeviceProperties");
  info.name = p.name;
  info.cc_major = p.major;
  info.cc_minor = p.minor;
  info.sm_count = p.multiProcessorCount;
  info.total_bytes = p.totalGlobalMem;
  info.smem_per_block_optin = p.sharedMemPerBlockOptin;
  return info;
}

// --- Stream ------------------------------------------------------------------------

Stream::Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }

Stream::~Stream() {
  if (s_) (void)cudaStreamDestroy(s_);  // destructors do not throw; pending work still completes
}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (s_) (void)cudaStreamDestroy(s_);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

void Stream::synchronize() const { check(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

// --- DeviceBuffer ------------------------------------------------------------------

DeviceBuffer::DeviceBuffer(size_t bytes, std::string_view what) {
  if (bytes == 0) return;
  check(cudaMalloc(&p_, bytes), fmt::format("cudaMalloc of {} bytes ({})", bytes, what));
  bytes_ = bytes;
}

DeviceBuffer::~DeviceBuffer() {
  if (p_) (void)cudaFree(p_);
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (p_) (void)cudaFree(p_);
    p_ = o.p_;
    bytes_ = o.bytes_;
    o.p_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

// --- copies ------------------------------------------------------------------------

void upload(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return;
  if (stream) {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream), fmt::format("upload of {} bytes", bytes));
    return;
  }
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), fmt::format("upload of {} bytes", bytes));
  // From pageable memory cudaMemcpy may return once the data is staged, before
  // the DMA lands, and kernels on non-blocking streams (engine::cuda::Stream) do
  // not wait for the legacy stream the copy ran on: wait for it here.
  check(cudaStreamSynchronize(nullptr), fmt::format("upload of {} bytes (synchronize)", bytes));
}

void download(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return;
  if (stream)
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), fmt::format("download of {} bytes", bytes));
  else check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), fmt::format("download of {} bytes", bytes));
}

// --- weights -----------------------------------------------------------------------

const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::F16: return "f16";
    case WeightType::BF16: return "bf16";
    case WeightType::F32: break;
  }
  return "f32";
}

size_t weight_type_size(WeightType t) { return t == WeightType::F32 ? 4 : 2; }

DeviceBuffer upload_weights(const float* src, size_t n, WeightType t, std::string_view what) {
  const std::string name = fmt::format("weights {} ({} x {})", what, n, weight_type_name(t));
  DeviceBuffer b(n * weight_type_size(t), name);
  if (n == 0) return b;
  if (t == WeightType::F32) {
    upload(b.data(), src, n * sizeof(float));
    return b;
  }
  std::vector<uint16_t> half(n);
  const kernels::KernelTable& kt = kernel_table();
  if (t == WeightType::F16) kt.convert_f32_to_f16(src, half.data(), n);
  else kt.convert_f32_to_bf16(src, half.data(), n);
  with_context(name, [&] { upload(b.data(), half.data(), n * sizeof(uint16_t)); });
  return b;
}

// --- cuBLAS ------------------------------------------------------------------------

BlasHandle::BlasHandle() { check(cublasCreate(&h_), "cublasCreate"); }

BlasHandle::~BlasHandle() {
  if (h_) (void)cublasDestroy(h_);
}

}  // namespace engine::cuda
