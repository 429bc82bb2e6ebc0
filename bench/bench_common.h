// Shared helpers for the benchmarks: median timing and a measured bandwidth
// peak (a large memcpy), so that every number is reported against this
// machine (the FMA peak: fma_peak.h).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <utility>
#include <cstdlib>
#include <new>
#include <vector>

namespace bench {

// The integer value of `--name VALUE` among argv (the last one given), or `fallback`.
inline int int_option(int argc, char** argv, const char* name, int fallback) {
  int v = fallback;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) v = std::atoi(argv[i + 1]);
  return v;
}

// Median wall time in seconds of `runs` calls (after one warm-up call).
// std::vector storage on 64-byte boundaries, as the engine's tensors and arena
// are. (Large plain std::vector buffers start 16 bytes past a page boundary,
// so every 16-float row of a matrix would straddle two cache lines.)
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) {
    const size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
};
template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

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

// Medians of two functions timed in alternating rounds: each round runs a once
// untimed, then `per_round` timed calls of a back to back, then `between`,
// then the same for b. A slow spell of a noisy machine thus falls on both
// sides alike, while each side is still timed warm (its threads awake, its
// data in cache). `between` (optional) is e.g. a pause that lets a peer's
// spinning threads go to sleep.
inline std::pair<double, double> median_seconds_paired(int rounds, const std::function<void()>& a,
                                                       const std::function<void()>& b,
                                                       const std::function<void()>& between = {},
                                                       int per_round = 3) {
  std::vector<double> ta, tb;
  const auto timed = [&](const std::function<void()>& fn, std::vector<double>& out) {
    fn();
    for (int i = 0; i < per_round; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      out.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    if (between) between();
  };
  for (int r = 0; r < rounds; ++r) {
    timed(a, ta);
    timed(b, tb);
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

// Single-thread copy bandwidth in GB/s (read + write bytes) over `bytes`.
inline double memcpy_peak_gbs(size_t bytes, int runs) {
  std::vector<char> a(bytes, 1), b(bytes, 0);
  const double s = median_seconds(runs, [&] { std::memcpy(b.data(), a.data(), bytes); });
  return 2.0 * static_cast<double>(bytes) / s / 1e9;
}

}  // namespace bench
