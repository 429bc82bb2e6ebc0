// Helpers of the CUDA tests (tests/cuda): the skip on machines without a
// device, typed device buffers filled from host vectors, random data.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/cuda_device.h"

// Every CUDA test starts with this: without a usable device (CI, laptops) the
// test passes with a visible warning instead of failing.
#define SAM_CUDA_TEST_OR_SKIP()                                                                 \
  do {                                                                                          \
    if (!engine::cuda::cuda_available()) {                                                      \
      WARN("skipped: no CUDA device (" << engine::cuda::cuda_unavailable_reason() << ")");      \
      return;                                                                                   \
    }                                                                                           \
  } while (0)

namespace cuda_test {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A device copy of a host vector; back() downloads the current contents.
template <typename T>
struct Dev {
  explicit Dev(const std::vector<T>& host) : n(host.size()), buf(engine::cuda::upload_vector(host, "test data")) {}
  T* get() const { return buf.as<T>(); }
  std::vector<T> back() const { return engine::cuda::download_vector<T>(buf.data(), n); }
  size_t n;
  engine::cuda::DeviceBuffer buf;
};

// rows x cols normal values (standard deviation sd) with row stride ld; the
// padding past cols is NaN, so a kernel that reads it poisons its output.
inline std::vector<float> random_matrix(int64_t rows, int64_t cols, int64_t ld, std::mt19937& rng, float sd = 1.f) {
  std::normal_distribution<float> nd(0.f, sd);
  std::vector<float> m(static_cast<size_t>(rows * ld), kNaN);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m[static_cast<size_t>(r * ld + c)] = nd(rng);
  return m;
}

inline float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v)
    if (!std::isnan(x)) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace cuda_test
