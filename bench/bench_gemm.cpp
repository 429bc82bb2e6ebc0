// The packed GEMM against OpenBLAS sgemm on the image encoder's shapes
// (vit_b unless --dim), both on the same threads, same inputs. Each shape is
// first checked (relative L2 vs OpenBLAS), then timed: median ms, GFLOP/s,
// share of this machine's measured FMA peak, and the ratio to OpenBLAS.
// The two are timed in alternating rounds (3 warm calls of ours, 3 of
// OpenBLAS, ...; median over all), so that the slow spells of a shared
// machine fall on both sides alike.
//   bench_gemm [--threads N] [--runs N] [--dim C] [--only SUBSTRING]
#include <fmt/format.h>

#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "engine/runtime.h"
#include "engine/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/table.h"

namespace {

struct Shape {
  const char* name;
  int m, n, k;
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, runs = 7, dim = 768;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--dim") dim = std::stoi(argv[i + 1]);
    else if (a == "--only") only = argv[i + 1];
  }
  engine::runtime_options();  // SAM_ISA caps the kernel table (engine/runtime.h)
  engine::set_num_threads(threads);
  kernels::set_blas_threads(threads);
  // One CPU per thread of ours: with OpenBLAS's pool in the same process
  // (its threads spin for a while after each call) the scheduler otherwise
  // may wake our worker on the caller's CPU, and our two halves run in turn.
  const bool pinned = engine::thread_pool().pin_threads();
  const kernels::KernelTable& t = kernels::table();
  double peak1 = 0;
  if (kernels::best_isa() == kernels::Isa::Avx512)
    for (int i = 0; i < 5; ++i) peak1 = std::max(peak1, bench::peak_gflops_avx512(20'000'000));
  // All threads at once (each runs the loop at the same time).
  double peak = 0;
  if (kernels::best_isa() == kernels::Isa::Avx512) {
    std::vector<double> per(static_cast<size_t>(threads));
    engine::thread_pool().run([&](int i, int) { per[static_cast<size_t>(i)] = bench::peak_gflops_avx512(20'000'000); });
    for (double v : per) peak += v;
  }
  fmt::print(
      "packed GEMM ({} {}x{}) vs OpenBLAS, {} threads{}, median of {} rounds x 3; FMA peak {:.0f} GFLOP/s ({:.0f} per "
      "core)\n",
      kernels::isa_name(t.isa), t.gemm_mr(), t.gemm_nr(), threads, pinned ? " (ours pinned)" : "", runs, peak, peak1);
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
    if (!only.empty() && std::string(s.name).find(only) == std::string::npos) continue;
    // 64-byte aligned like the engine's tensors, for both sides.
    bench::AlignedVector<float> a(static_cast<size_t>(s.m) * s.k), w(static_cast<size_t>(s.n) * s.k), bias(s.n);
    for (auto& v : a) v = nd(rng);
    for (auto& v : w) v = nd(rng) * 0.03f;
    for (auto& v : bias) v = nd(rng);
    bench::AlignedVector<float> packed(t.gemm_packed_b_floats(s.n, s.k));
    t.gemm_pack_b_nk(w.data(), s.n, s.k, s.k, packed.data());
    bench::AlignedVector<float> c(static_cast<size_t>(s.m) * s.n), ref(c.size());
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
    // OpenBLAS's threads busy-wait for a while after each call (its
    // THREAD_TIMEOUT, ~0.1 s): time ours only once they have gone to sleep, or
    // one of our threads shares its core with a spinner.
    const auto pause = [&] {
      if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    };
    const auto [t_ours, t_blas] = bench::median_seconds_paired(runs, ours, blas, pause);
    const double flops = 2.0 * s.m * s.n * s.k;
    fmt::print("{:<20} {:>5} {:>5} {:>5} | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>6.2f}x {:>9.1e}{}\n",
               s.name, s.m, s.n, s.k, t_ours * 1e3, flops / t_ours / 1e9, peak > 0 ? 100 * flops / t_ours / 1e9 / peak : 0,
               t_blas * 1e3, flops / t_blas / 1e9, peak > 0 ? 100 * flops / t_blas / 1e9 / peak : 0, t_blas / t_ours,
               rel, rel < 1e-5 ? "" : "  MISMATCH");
  }
  return failures ? 1 : 0;
}
