// Shared helpers for the benchmarks: median timing and a measured bandwidth
// peak (a large memcpy), so that every number is reported against this machine.
#pragma once

#include <algorithm>
#include <chrono>
#include <chrono>
#include <cstring>
#include <functional>
#include <vector>

namespace bench {

// Median wall time in seconds of `runs` calls (after one warm-up call).
inline double median_seconds(int runs, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto a = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Single-thread copy bandwidth in GB/s (read + write bytes) over `bytes`.
inline double memcpy_peak_gbs(size_t bytes, int runs) {
  std::vector<char> a(bytes, 1), b(bytes, 0);
  const double s = median_seconds(runs, [&] { std::memcpy(b.data(), a.data(), bytes); });
  return 2.0 * static_cast<double>(bytes) / s / 1e9;
}

}  // namespace bench
