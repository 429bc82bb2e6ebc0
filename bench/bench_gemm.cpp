// The packed GEMM against OpenBLAS sgemm on the image encoder's shapes
// (vit_b unless --dim), both on the same threads, same inputs. Each shape is
// first checked (relative L2 vs OpenBLAS), then timed: median ms, GFLOP/s,
// share of this machine's measured FMA peak, and the ratio to OpenBLAS.
//   bench_gemm [--threads N] [--runs N] [--dim C]
#include <immintrin.h>
#include <fmt/format.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/table.h"

namespace {

// Peak single-precision FLOP/s of one core: 16 independent FMA chains in
// named registers (enough to cover a 4-cycle latency on 2 FMA ports).
__attribute__((target("avx512f"))) double peak_gflops_avx512(int iters) {
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
  if (out[0] == 12345.f) fmt::print(" ");
  return 16.0 * 16 * 2 * iters / s / 1e9;
}

struct Shape {
  const char* name;
  int m, n, k;
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, runs = 7, dim = 768;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--dim") dim = std::stoi(argv[i + 1]);
  }
  engine::set_num_threads(threads);
  kernels::set_blas_threads(threads);
  const kernels::KernelTable& t = kernels::table();
  double peak1 = 0;
  if (kernels::best_isa() == kernels::Isa::Avx512)
    for (int i = 0; i < 5; ++i) peak1 = std::max(peak1, peak_gflops_avx512(20'000'000));
  // All threads at once (each runs the loop at the same time).
  double peak = 0;
  if (kernels::best_isa() == kernels::Isa::Avx512) {
    std::vector<double> per(static_cast<size_t>(threads));
    engine::thread_pool().run([&](int i, int) { per[static_cast<size_t>(i)] = peak_gflops_avx512(20'000'000); });
    for (double v : per) peak += v;
  }
  fmt::print("packed GEMM ({} {}x{}) vs OpenBLAS, {} threads, median of {}; FMA peak {:.0f} GFLOP/s ({:.0f} per core)\n",
             kernels::isa_name(t.isa), t.gemm_mr(), t.gemm_nr(), threads, runs, peak, peak1);
  // Encoder GEMMs: global blocks run on 64*64 tokens, windowed ones on 25 windows of 14*14.
  const Shape shapes[] = {
      {"qkv (global)", 4096, 3 * dim, dim},   {"qkv (windowed)", 4900, 3 * dim, dim},
      {"attn.proj", 4096, dim, dim},           {"mlp.lin1", 4096, 4 * dim, dim},
      {"mlp.lin2", 4096, dim, 4 * dim},        {"neck 1x1", 4096, 256, dim},
      {"neck 3x3 (im2col)", 4096, 256, 9 * 256}, {"decoder k/v proj", 4096, 128, 256},
  };
  fmt::print("{:<20} {:>5} {:>5} {:>5} | {:>9} {:>8} {:>6} | {:>9} {:>8} {:>6} | {:>7} {:>9}\n", "shape", "M", "N", "K",
             "ours ms", "GFLOP/s", "%peak", "BLAS ms", "GFLOP/s", "%peak", "ratio", "rel err");
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  int failures = 0;
  for (const Shape& s : shapes) {
    std::vector<float> a(static_cast<size_t>(s.m) * s.k), w(static_cast<size_t>(s.n) * s.k), bias(s.n);
    for (auto& v : a) v = nd(rng);
    for (auto& v : w) v = nd(rng) * 0.03f;
    for (auto& v : bias) v = nd(rng);
    std::vector<float> packed(t.gemm_packed_b_floats(s.n, s.k));
    t.gemm_pack_b_nk(w.data(), s.n, s.k, s.k, packed.data());
    std::vector<float> c(static_cast<size_t>(s.m) * s.n), ref(c.size());
    kernels::PackedGemmArgs g;
    g.m = s.m;
    g.n = s.n;
    g.k = s.k;
    g.a = a.data();
    g.lda = s.k;
    g.b_packed = packed.data();
    g.c = c.data();
    g.ldc = s.n;
    g.epilogue.bias = bias.data();
    auto ours = [&] {
      const int64_t jobs = t.gemm_jobs(g, threads);
      engine::thread_pool().parallel_for(0, jobs, 1, [&](int64_t j0, int64_t j1) { t.gemm_run(g, threads, j0, j1); });
    };
    auto blas = [&] {
      for (int i = 0; i < s.m; ++i) std::copy(bias.begin(), bias.end(), ref.begin() + static_cast<int64_t>(i) * s.n);
      kernels::GemmArgs b;
      b.trans_b = true;
      b.m = s.m;
      b.n = s.n;
      b.k = s.k;
      b.a = a.data();
      b.lda = s.k;
      b.b = w.data();
      b.ldb = s.k;
      b.beta = 1.f;
      b.c = ref.data();
      b.ldc = s.n;
      kernels::sgemm_openblas(b);
    };
    ours();
    blas();
    double err = 0, norm = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      err += double(c[i] - ref[i]) * (c[i] - ref[i]);
      norm += double(ref[i]) * ref[i];
    }
    const double rel = std::sqrt(err / norm);
    if (!(rel < 1e-5)) ++failures;
    const double t_ours = bench::median_seconds(runs, ours), t_blas = bench::median_seconds(runs, blas);
    const double flops = 2.0 * s.m * s.n * s.k;
    fmt::print("{:<20} {:>5} {:>5} {:>5} | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>6.2f}x {:>9.1e}{}\n",
               s.name, s.m, s.n, s.k, t_ours * 1e3, flops / t_ours / 1e9, peak > 0 ? 100 * flops / t_ours / 1e9 / peak : 0,
               t_blas * 1e3, flops / t_blas / 1e9, peak > 0 ? 100 * flops / t_blas / 1e9 / peak : 0, t_blas / t_ours,
               rel, rel < 1e-5 ? "" : "  MISMATCH");
  }
  return failures ? 1 : 0;
}
