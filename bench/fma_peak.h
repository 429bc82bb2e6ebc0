// The measured f32 FMA peak of this machine, one core and all pool threads at
// once, in the widest vectors the kernel table uses: the ceiling every
// GFLOP/s in the benchmarks is quoted against.
#pragma once

#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "engine/thread_pool.h"
#include "kernels/table.h"

namespace bench {

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

// The same with 256-bit vectors, for CPUs whose widest kernels are avx2 (e.g.
// AMD Zen 1/2: a 256-bit FMA issues as two 128-bit halves on 2 pipes, latency
// 5). Twelve chains, not sixteen: with the two constants that is 14 of the 16
// ymm registers; sixteen chains spill to the stack and measure ~40% low.
__attribute__((target("avx2,fma"))) inline double peak_gflops_avx2(int iters) {
  __m256 c0 = _mm256_set1_ps(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m256 c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int it = 0; it < iters; ++it) {
    c0 = _mm256_fmadd_ps(c0, a, b), c1 = _mm256_fmadd_ps(c1, a, b), c2 = _mm256_fmadd_ps(c2, a, b);
    c3 = _mm256_fmadd_ps(c3, a, b), c4 = _mm256_fmadd_ps(c4, a, b), c5 = _mm256_fmadd_ps(c5, a, b);
    c6 = _mm256_fmadd_ps(c6, a, b), c7 = _mm256_fmadd_ps(c7, a, b), c8 = _mm256_fmadd_ps(c8, a, b);
    c9 = _mm256_fmadd_ps(c9, a, b), c10 = _mm256_fmadd_ps(c10, a, b), c11 = _mm256_fmadd_ps(c11, a, b);
    asm volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5));
    asm volatile("" : "+x"(c6), "+x"(c7), "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
  sum = _mm256_add_ps(sum, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
  alignas(32) float out[8];
  _mm256_store_ps(out, sum);
  if (out[0] == 12345.f) std::printf(" ");
  return 12.0 * 8 * 2 * iters / s / 1e9;
}

// The f32 FMA peak of one core in the widest vectors the kernel table uses
// (0 where it is scalar: no peak worth quoting).
inline double fma_peak_gflops_one_core(int iters = 20'000'000) {
  switch (kernels::best_isa()) {
    case kernels::Isa::Avx512: return peak_gflops_avx512(iters);
    case kernels::Isa::Avx2: return peak_gflops_avx2(iters);
    default: return 0;
  }
}

// The FMA peak of `threads` pool threads running the loop at the same time (the
// sum of their rates): what a kernel on that many threads can reach at most.
inline double fma_peak_gflops(int threads, int iters = 20'000'000) {
  std::vector<double> per(static_cast<size_t>(threads));
  engine::thread_pool().run([&](int i, int) { per[static_cast<size_t>(i)] = fma_peak_gflops_one_core(iters); });
  double peak = 0;
  for (double v : per) peak += v;
  return peak;
}

}  // namespace bench
