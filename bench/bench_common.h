// Shared helpers for the benchmarks: median timing, a measured bandwidth peak
// (a large memcpy) and a measured FMA peak, so that every number is reported
// against this machine.
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

// Peak single-precision FLOP/s of one core: 16 independent FMA chains in
// named registers (enough to cover a 4-cycle latency on 2 FMA ports).
__attribute__((target("avx512f"))) inline double peak_gflops_avx512(int iters) {
  __m512 c0 = _mm512_set1_ps(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m512 c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int it = 0; it < iters; ++it) {
    c0 = _mm512_fmadd_ps(c0, a, b), c1 = _mm512_fmadd_ps(c1, a, b), c2 = _mm512_fmadd_ps(c2, a, b);
    c3 = _mm512_fmadd_ps(c3, a, b), c4 = _mm512_fmadd_ps(c4, a, b), c5 = _mm512_fmadd_ps(c5, a, b);
    c6 = _mm512_fmadd_ps(c6, a, b), c7 = _mm512_fmadd_ps(c7, a, b), c8 = _mm512_fmadd_ps(c8, a, b);
    c9 = _mm512_fmadd_ps(c9, a, b), c10 = _mm512_fmadd_ps(c10, a, b), c11 = _mm512_fmadd_ps(c11, a, b);
    c12 = _mm512_fmadd_ps(c12, a, b), c13 = _mm512_fmadd_ps(c13, a, b), c14 = _mm512_fmadd_ps(c14, a, b);
    c15 = _mm512_fmadd_ps(c15, a, b);
    // keep every chain in a register and every iteration in the loop
    asm volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));
    asm volatile("" : "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12), "+v"(c13), "+v"(c14), "+v"(c15));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
  sum = _mm512_add_ps(sum, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
                                         _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
  alignas(64) float out[16];
  _mm512_store_ps(out, sum);
  if (out[0] == 12345.f) std::printf(" ");
  return 16.0 * 16 * 2 * iters / s / 1e9;
}

}  // namespace bench
