#include "thread_scratch.h"

#include <cstdlib>
#include <memory>
#include <new>

namespace kernels::detail {
namespace {

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

}  // namespace

float* thread_scratch_floats(size_t floats) {
  thread_local std::unique_ptr<float, FreeDeleter> buf;
  thread_local size_t capacity = 0;
  if (floats > capacity) {
    const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (p == nullptr) throw std::bad_alloc();
    buf.reset(p);
    capacity = bytes / sizeof(float);
  }
  return buf.get();
}

}  // namespace kernels::detail
