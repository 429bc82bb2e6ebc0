// The packed GEMM against OpenBLAS sgemm on the image encoder's shapes
// (vit_b unless --dim), both on the same threads, same inputs. Each shape is
// first checked (relative L2 vs OpenBLAS), then timed: median ms, GFLOP/s,
// share of this machine's measured FMA peak, and the ratio to OpenBLAS.
// The two are timed in alternating rounds (3 warm calls of ours, 3 of
// OpenBLAS, ...; median over all), so that the slow spells of a shared
// machine fall on both sides alike.
// The bf16 table (kernels/gemm_bf16.h, the variant the kernel table picked) puts
// our bf16 GEMM next to our f32 one and OpenBLAS sgemm on the encoder's shapes,
// timed in alternating rounds of the three, against the measured VDPBF16PS peak
// (where the CPU has AVX512_BF16). Its error column is the relative L2 distance
// to OpenBLAS's f32 result: bf16's input rounding (at most 2^-9 relative per
// input), ~1.5e-3 on these random data; above 1e-2 counts as a mismatch.
// oneDNN (libdnnl, when the build found it: bench/CMakeLists.txt) is the
// baseline the way OpenBLAS is for f32: a dnnl::matmul with bf16 src and
// weights, f32 bias and f32 dst, on the bench's thread count (its OpenMP
// threads). Its weights are reordered once into the primitive's preferred
// layout, outside the timing, as ours are packed; the f32 -> bf16 conversion
// of the activations (a dnnl::reorder) is inside its timing, as it is inside
// ours ("oneDNN ms"); "mm ms" is its matmul alone on an already-bf16 src. Its
// error column is the relative L2 distance of its output to ours (same bf16
// inputs, so only the summation order differs). The f32 table gets a oneDNN
// f32 matmul column too.
//   bench_gemm [--threads N] [--runs N] [--dim C] [--only SUBSTRING] [--precision f32|bf16|all]
#include <fmt/format.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "fma_peak.h"
#include "engine/runtime.h"
#include "engine/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/table.h"

#ifdef SAM_HAVE_DNNL
#include <dnnl.hpp>

#include "kernels/gemm_onednn.h"
#if defined(_OPENMP)
#include <omp.h>
#endif
#endif

namespace {

std::string dnnl_info;  // oneDNN's version and threads, for the table headers

#ifdef SAM_HAVE_DNNL
// C[m,n] = A[m,k] * W[n,k]^T + bias as one dnnl::matmul. `dt` is the type of
// src and weights (bf16 or f32); bias and dst are f32. A and C are the caller's
// f32 row-major buffers; W is reordered once (at construction) into the layout
// the primitive asks for. run() converts A to `dt` (when bf16) and multiplies;
// run_matmul() multiplies the already-converted src alone.
struct DnnlMatmul {
  using md = dnnl::memory::desc;
  using dt_t = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::memory a_user, src, wei, bias, dst;
  dnnl::reorder to_src;
  dnnl::matmul mm;
  bool convert = false;
  std::string impl;

  DnnlMatmul(int m, int n, int k, const float* a, const float* w_nk, const float* bias_n, float* c, dt_t dt) {
    const md a_md({m, k}, dt_t::f32, tag::ab), src_md({m, k}, dt, tag::ab);
    const md w_user_md({k, n}, dt_t::f32, tag::ba);  // W[n][k]: K x N with N outer
    const md bias_md({1, n}, dt_t::f32, tag::ab), dst_md({m, n}, dt_t::f32, tag::ab);
    const dnnl::matmul::primitive_desc pd(
        dnnl::matmul::desc(src_md, md({k, n}, dt, tag::any), bias_md, dst_md), eng);
    impl = pd.impl_info_str();
    mm = dnnl::matmul(pd);
    a_user = dnnl::memory(a_md, eng, const_cast<float*>(a));
    convert = dt != dt_t::f32;
    if (convert) {
      src = dnnl::memory(src_md, eng);
      to_src = dnnl::reorder(a_user, src);
    } else {
      src = a_user;
    }
    dnnl::memory w_user(w_user_md, eng, const_cast<float*>(w_nk));
    wei = dnnl::memory(pd.weights_desc(), eng);
    dnnl::reorder(w_user, wei).execute(strm, w_user, wei);
    bias = dnnl::memory(bias_md, eng, const_cast<float*>(bias_n));
    dst = dnnl::memory(dst_md, eng, c);
    strm.wait();
  }
  void run_matmul() {
    mm.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
    strm.wait();
  }
  void run() {
    if (convert) to_src.execute(strm, a_user, src);
    run_matmul();
  }
};

// oneDNN's thread count: its OpenMP threads follow the calling thread's
// omp_set_num_threads. Call before our threads are pinned: OpenMP starts its
// workers here, and a worker inherits the CPU mask of the thread that starts it.
std::string dnnl_setup(int threads) {
  const dnnl_version_t* v = dnnl_version();
  std::string s = fmt::format("oneDNN {}.{}.{}", v->major, v->minor, v->patch);
#if defined(_OPENMP)
  omp_set_num_threads(threads);
  std::vector<int> seen(static_cast<size_t>(threads), 0);
#pragma omp parallel
  seen[static_cast<size_t>(omp_get_thread_num()) % seen.size()] = omp_get_num_threads();
  s += fmt::format(" ({} OpenMP threads)", seen[0]);
#else
  (void)threads;
  s += " (thread count not set: bench_gemm built without OpenMP)";
#endif
  if (v->cpu_runtime != DNNL_RUNTIME_OMP) s += " (warning: not an OpenMP build, its threads are its default)";
  return s;
}
#endif

// oneDNN's implementation per shape ("shape: impl"), on one line when they agree.
void print_impls(const std::vector<std::string>& impls) {
  if (impls.empty()) return;
  const auto impl_of = [](const std::string& s) { return s.substr(s.find(": ") + 2); };
  const bool same = std::all_of(impls.begin(), impls.end(),
                                [&](const std::string& s) { return impl_of(s) == impl_of(impls[0]); });
  if (same) {
    fmt::print("  oneDNN implementation (all shapes): {}\n", impl_of(impls[0]));
    return;
  }
  for (const std::string& i : impls) fmt::print("  oneDNN implementation, {}\n", i);
}

double rel_l2(const float* x, const float* ref, size_t n) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < n; ++i) {
    err += double(x[i] - ref[i]) * (x[i] - ref[i]);
    norm += double(ref[i]) * ref[i];
  }
  return std::sqrt(err / norm);
}

struct Shape {
  const char* name;
  int m, n, k;
};

// Peak FLOP/s of one core's VDPBF16PS: 16 independent chains, 64 flops each
// (16 lanes x 2 products x multiply + add).
__attribute__((target("avx512f,avx512bf16"))) double peak_gflops_avx512_bf16(int iters) {
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m512 c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3F803F80), b = (__m512bh)_mm512_set1_epi32(0x38D138D1);
  const auto t0 = std::chrono::steady_clock::now();
  for (int it = 0; it < iters; ++it) {
    c0 = _mm512_dpbf16_ps(c0, a, b), c1 = _mm512_dpbf16_ps(c1, a, b), c2 = _mm512_dpbf16_ps(c2, a, b);
    c3 = _mm512_dpbf16_ps(c3, a, b), c4 = _mm512_dpbf16_ps(c4, a, b), c5 = _mm512_dpbf16_ps(c5, a, b);
    c6 = _mm512_dpbf16_ps(c6, a, b), c7 = _mm512_dpbf16_ps(c7, a, b), c8 = _mm512_dpbf16_ps(c8, a, b);
    c9 = _mm512_dpbf16_ps(c9, a, b), c10 = _mm512_dpbf16_ps(c10, a, b), c11 = _mm512_dpbf16_ps(c11, a, b);
    c12 = _mm512_dpbf16_ps(c12, a, b), c13 = _mm512_dpbf16_ps(c13, a, b), c14 = _mm512_dpbf16_ps(c14, a, b);
    c15 = _mm512_dpbf16_ps(c15, a, b);
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
  return 16.0 * 64 * iters / s / 1e9;
}

// Medians of three functions timed in alternating rounds (bench::median_seconds_paired, for three).
std::vector<double> median_seconds_rounds(int rounds, const std::vector<std::function<void()>>& fns,
                                          const std::function<void()>& between, int per_round = 3) {
  std::vector<std::vector<double>> t(fns.size());
  for (int r = 0; r < rounds; ++r)
    for (size_t f = 0; f < fns.size(); ++f) {
      fns[f]();
      for (int i = 0; i < per_round; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        fns[f]();
        t[f].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      if (between) between();
    }
  std::vector<double> out;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    out.push_back(v[v.size() / 2]);
  }
  return out;
}

const char* selected(const kernels::KernelTable& t, const char* family) {
  for (size_t i = 0; i < kernels::KernelTable::family_count; ++i)
    if (std::string(kernels::KernelTable::family_names[i]) == family) return t.variant_names[i];
  return "?";
}

}  // namespace

// Our bf16 GEMM vs our f32 one vs OpenBLAS on the encoder's big GEMMs; returns the failure count.
int bench_bf16(const kernels::KernelTable& t, int threads, int runs, int dim, const std::string& only, double peak,
               double peak1) {
  double bpeak1 = 0, bpeak = 0;
  if (kernels::cpu_feature_set().has(kernels::Feature::avx512_bf16)) {
    for (int i = 0; i < 5; ++i) bpeak1 = std::max(bpeak1, peak_gflops_avx512_bf16(10'000'000));
    std::vector<double> per(static_cast<size_t>(threads));
    engine::thread_pool().run([&](int i, int) { per[static_cast<size_t>(i)] = peak_gflops_avx512_bf16(10'000'000); });
    for (double v : per) bpeak += v;
  }
  fmt::print(
      "\nbf16 packed GEMM (variant {}) vs our f32 packed GEMM ({}) vs OpenBLAS sgemm, {} threads, median of {} rounds x 3;\n"
      "VDPBF16PS peak {:.0f} GFLOP/s ({:.0f} per core), FMA peak {:.0f} ({:.0f} per core); epilogue: bias\n",
      selected(t, "gemm_bf16"), selected(t, "gemm"), threads, runs, bpeak, bpeak1, peak, peak1);
#ifdef SAM_HAVE_DNNL
  // oneDNN 2.x has no bf16 matmul without AVX-512: the column is left out then.
  const bool dnnl = kernels::onednn_bf16_available();
  if (dnnl)
    fmt::print("{} bf16 matmul: bf16 src (converted from f32 inside its time) and weights (reordered once), f32 dst\n",
               dnnl_info);
  else
    fmt::print("(no oneDNN column: this oneDNN has no bf16 matmul on this CPU, which lacks AVX-512)\n");
#else
  const bool dnnl = false;
  fmt::print("(no oneDNN column: bench_gemm was built without oneDNN; apt-get install libdnnl-dev and re-run cmake)\n");
#endif
  fmt::print("{:<16} {:>5} {:>5} {:>5} | {:>8} {:>8} {:>6} | {:>8} {:>8} | {:>8} {:>8} | {:>9} {:>9} | {:>9}", "shape",
             "M", "N", "K", "bf16 ms", "GFLOP/s", "%peak", "f32 ms", "GFLOP/s", "BLAS ms", "GFLOP/s", "vs f32", "vs BLAS",
             "bf16 err");
  if (dnnl)
    fmt::print(" | {:>10} {:>8} {:>7} {:>10} {:>9}", "oneDNN ms", "GFLOP/s", "mm ms", "vs oneDNN", "vs ours");
  fmt::print("\n");
  std::vector<std::string> impls;
  const Shape shapes[] = {
      {"qkv (global)", 4096, 3 * dim, dim},
      {"attn.proj", 4096, dim, dim},
      {"mlp.lin1", 4096, 4 * dim, dim},
      {"mlp.lin2", 4096, dim, 4 * dim},
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  int failures = 0;
  for (const Shape& s : shapes) {
    if (!only.empty() && std::string(s.name).find(only) == std::string::npos) continue;
    bench::AlignedVector<float> a(static_cast<size_t>(s.m) * s.k), w(static_cast<size_t>(s.n) * s.k), bias(s.n);
    for (auto& v : a) v = nd(rng);
    for (auto& v : w) v = nd(rng) * 0.03f;
    for (auto& v : bias) v = nd(rng);
    bench::AlignedVector<float> packed(t.gemm_packed_b_floats(s.n, s.k));
    t.gemm_pack_b_nk(w.data(), s.n, s.k, s.k, packed.data());
    bench::AlignedVector<uint16_t> packed16(t.gemm_bf16_packed_b_elems(s.n, s.k));
    t.gemm_bf16_pack_b_nk(w.data(), s.n, s.k, s.k, packed16.data());
    bench::AlignedVector<float> c(static_cast<size_t>(s.m) * s.n), c16(c.size()), ref(c.size());
    kernels::PackedGemmArgs g;
    g.m = s.m, g.n = s.n, g.k = s.k, g.a = a.data(), g.lda = s.k, g.b_packed = packed.data(), g.c = c.data();
    g.ldc = s.n;
    g.epilogue.bias = bias.data();
    kernels::PackedGemmBf16Args g16;
    g16.m = s.m, g16.n = s.n, g16.k = s.k, g16.a = a.data(), g16.lda = s.k, g16.b_packed = packed16.data();
    g16.c = c16.data(), g16.ldc = s.n;
    g16.epilogue.bias = bias.data();
    auto ours16 = [&] {
      const int64_t jobs = t.gemm_bf16_jobs(g16, threads);
      engine::thread_pool().parallel_for(0, jobs, 1,
                                         [&](int64_t j0, int64_t j1) { t.gemm_bf16_run(g16, threads, j0, j1); });
    };
    auto ours = [&] {
      const int64_t jobs = t.gemm_jobs(g, threads);
      engine::thread_pool().parallel_for(0, jobs, 1, [&](int64_t j0, int64_t j1) { t.gemm_run(g, threads, j0, j1); });
    };
    auto blas = [&] {
      for (int i = 0; i < s.m; ++i) std::copy(bias.begin(), bias.end(), ref.begin() + static_cast<int64_t>(i) * s.n);
      kernels::GemmArgs b;
      b.trans_b = true;
      b.m = s.m, b.n = s.n, b.k = s.k, b.a = a.data(), b.lda = s.k, b.b = w.data(), b.ldb = s.k, b.beta = 1.f;
      b.c = ref.data(), b.ldc = s.n;
      kernels::sgemm_openblas(b);
    };
    ours16();
    blas();
    const double rel = rel_l2(c16.data(), ref.data(), c16.size());
    if (!(rel < 1e-2)) ++failures;  // bf16 inputs: ~3e-3 expected
    const auto pause = [&] {
      if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    };
    std::vector<std::function<void()>> fns = {ours16, ours, blas};
#ifdef SAM_HAVE_DNNL
    bench::AlignedVector<float> cd(c.size());
    std::optional<DnnlMatmul> dm;
    double rel_dnnl = 0;
    if (dnnl) {
      dm.emplace(s.m, s.n, s.k, a.data(), w.data(), bias.data(), cd.data(), dnnl::memory::data_type::bf16);
      impls.push_back(fmt::format("{}: {}", s.name, dm->impl));
      dm->run();
      rel_dnnl = rel_l2(cd.data(), c16.data(), cd.size());
      if (!(rel_dnnl < 1e-2)) ++failures;  // same bf16 inputs: ~1e-6 expected
      fns.push_back([&] { dm->run(); });
      fns.push_back([&] { dm->run_matmul(); });
    }
#else
    const double rel_dnnl = 0;
#endif
    const std::vector<double> ts = median_seconds_rounds(runs, fns, pause);
    const double flops = 2.0 * s.m * s.n * s.k;
    const auto gf = [&](double sec) { return flops / sec / 1e9; };
    fmt::print("{:<16} {:>5} {:>5} {:>5} | {:>8.2f} {:>8.1f} {:>5.0f}% | {:>8.2f} {:>8.1f} | {:>8.2f} {:>8.1f} | {:>8.2f}x {:>8.2f}x | {:>9.1e}",
               s.name, s.m, s.n, s.k, ts[0] * 1e3, gf(ts[0]), bpeak > 0 ? 100 * gf(ts[0]) / bpeak : 0, ts[1] * 1e3,
               gf(ts[1]), ts[2] * 1e3, gf(ts[2]), ts[1] / ts[0], ts[2] / ts[0], rel);
    if (dnnl)
      fmt::print(" | {:>10.2f} {:>8.1f} {:>7.2f} {:>9.2f}x {:>9.1e}", ts[3] * 1e3, gf(ts[3]), ts[4] * 1e3, ts[3] / ts[0],
                 rel_dnnl);
    fmt::print("{}{}\n", rel < 1e-2 ? "" : "  MISMATCH", rel_dnnl < 1e-2 ? "" : "  ONEDNN MISMATCH");
  }
  if (dnnl) {
    fmt::print("(vs oneDNN: oneDNN ms / bf16 ms, > 1 = ours faster; vs ours: rel L2 of oneDNN's output to ours)\n");
    print_impls(impls);
  }
  return failures;
}

static int bench_main(int argc, char** argv) {
  int threads = 2, runs = 7, dim = 768;
  std::string only, precision = "all";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--dim") dim = std::stoi(argv[i + 1]);
    else if (a == "--only") only = argv[i + 1];
    else if (a == "--precision") precision = argv[i + 1];
  }
  engine::runtime_options();  // SAM_ISA caps the kernel table (engine/runtime.h)
  engine::set_num_threads(threads);
  kernels::set_blas_threads(threads);
#ifdef SAM_HAVE_DNNL
  dnnl_info = dnnl_setup(threads);  // before the pinning below
#endif
  // One CPU per thread of ours: with OpenBLAS's pool in the same process
  // (its threads spin for a while after each call) the scheduler otherwise
  // may wake our worker on the caller's CPU, and our two halves run in turn.
  const bool pinned = engine::thread_pool().pin_threads();
  const kernels::KernelTable& t = kernels::table();
  double peak1 = 0;
  for (int i = 0; i < 5; ++i) peak1 = std::max(peak1, bench::fma_peak_gflops_one_core());
  // All threads at once (each runs the loop at the same time).
  const double peak = bench::fma_peak_gflops(threads);
  fmt::print(
      "packed GEMM ({} {}x{}) vs OpenBLAS, {} threads{}, median of {} rounds x 3; FMA peak {:.0f} GFLOP/s ({:.0f} per "
      "core)\n",
      kernels::isa_name(t.isa), t.gemm_mr(), t.gemm_nr(), threads, pinned ? " (ours pinned)" : "", runs, peak, peak1);
  // Encoder GEMMs: global blocks run on 64*64 tokens, windowed ones on 25 windows of 14*14.
  // MobileSAM (TinyViT-5M, 1024 input): the MBConv 1x1 convs at 256x256 (dim 64, 4x expansion), the
  // first patch merging's 1x1, and the blocks' MLPs at 128x128 (128), 64x64 (160, 320).
  const Shape shapes[] = {
      {"qkv (global)", 4096, 3 * dim, dim},   {"qkv (windowed)", 4900, 3 * dim, dim},
      {"attn.proj", 4096, dim, dim},           {"mlp.lin1", 4096, 4 * dim, dim},
      {"mlp.lin2", 4096, dim, 4 * dim},        {"neck 1x1", 4096, 256, dim},
      {"neck 3x3 (im2col)", 4096, 256, 9 * 256}, {"decoder k/v proj", 4096, 128, 256},
      {"vit_t mbconv conv1", 65536, 256, 64},  {"vit_t mbconv conv3", 65536, 64, 256},
      {"vit_t merge conv1", 65536, 128, 64},   {"vit_t l1 mlp.fc1", 16384, 512, 128},
      {"vit_t l1 mlp.fc2", 16384, 128, 512},   {"vit_t l3 mlp.fc1", 4096, 1280, 320},
  };
#ifdef SAM_HAVE_DNNL
  const bool dnnl = true;
  fmt::print("{}; f32 column: a oneDNN f32 matmul, weights reordered once\n", dnnl_info);
#else
  const bool dnnl = false;
  fmt::print("(no oneDNN columns: bench_gemm was built without oneDNN; apt-get install libdnnl-dev and re-run cmake)\n");
#endif
  fmt::print("{:<20} {:>5} {:>5} {:>5} | {:>9} {:>8} {:>6} | {:>9} {:>8} {:>6} | {:>7} {:>9}", "shape", "M", "N", "K",
             "ours ms", "GFLOP/s", "%peak", "BLAS ms", "GFLOP/s", "%peak", "ratio", "rel err");
  if (dnnl) fmt::print(" | {:>10} {:>8} {:>10} {:>9}", "oneDNN ms", "GFLOP/s", "vs oneDNN", "dnnl err");
  fmt::print("\n");
  std::vector<std::string> impls;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  int failures = 0;
  for (const Shape& s : shapes) {
    if (precision == "bf16") break;
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
    const double rel = rel_l2(c.data(), ref.data(), c.size());
    if (!(rel < 1e-5)) ++failures;
    // OpenBLAS's threads busy-wait for a while after each call (its
    // THREAD_TIMEOUT, ~0.1 s): time ours only once they have gone to sleep, or
    // one of our threads shares its core with a spinner.
    const auto pause = [&] {
      if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    };
    std::vector<std::function<void()>> fns = {ours, blas};
#ifdef SAM_HAVE_DNNL
    bench::AlignedVector<float> cd(c.size());
    DnnlMatmul dm(s.m, s.n, s.k, a.data(), w.data(), bias.data(), cd.data(), dnnl::memory::data_type::f32);
    impls.push_back(fmt::format("{}: {}", s.name, dm.impl));
    dm.run();
    const double rel_dnnl = rel_l2(cd.data(), ref.data(), cd.size());
    if (!(rel_dnnl < 1e-5)) ++failures;
    fns.push_back([&] { dm.run(); });
#else
    const double rel_dnnl = 0;
#endif
    const std::vector<double> ts = median_seconds_rounds(runs, fns, pause);
    const double t_ours = ts[0], t_blas = ts[1];
    const double flops = 2.0 * s.m * s.n * s.k;
    fmt::print("{:<20} {:>5} {:>5} {:>5} | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>6.2f}x {:>9.1e}",
               s.name, s.m, s.n, s.k, t_ours * 1e3, flops / t_ours / 1e9, peak > 0 ? 100 * flops / t_ours / 1e9 / peak : 0,
               t_blas * 1e3, flops / t_blas / 1e9, peak > 0 ? 100 * flops / t_blas / 1e9 / peak : 0, t_blas / t_ours,
               rel);
    if (dnnl) fmt::print(" | {:>10.2f} {:>8.1f} {:>9.2f}x {:>9.1e}", ts[2] * 1e3, flops / ts[2] / 1e9, ts[2] / t_ours, rel_dnnl);
    fmt::print("{}{}\n", rel < 1e-5 ? "" : "  MISMATCH", rel_dnnl < 1e-5 ? "" : "  ONEDNN MISMATCH");
  }
  if (dnnl) {
    fmt::print("(vs oneDNN: oneDNN ms / ours ms, > 1 = ours faster; dnnl err: rel L2 of oneDNN's output to OpenBLAS's)\n");
    print_impls(impls);
  }
  if (precision != "f32") failures += bench_bf16(t, threads, runs, dim, only, peak, peak1);
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  return bench::guarded_main(
      argc, argv, {{"--threads N", "--runs N", "--dim N", "--only NAME", "--precision NAME"}, {}, {}}, bench_main);
}
