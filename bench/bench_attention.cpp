// The fused rel-pos attention kernel (kernel table: attention_relpos) against
// the unfused path the image encoder used before it (per head and block of 256
// query rows: OpenBLAS scores, rel-pos GEMMs, bias gather, softmax_rows,
// OpenBLAS P @ v), on vit_b's shapes (unless --dim/--heads): the global blocks
// (64 x 64 tokens, one window) and the windowed ones (25 windows of 14 x 14).
// Both read the same qkv buffer [windows * T, 3 * dim] and write ctx
// [windows * T, dim], split over the same threads. Each shape is first checked:
// both paths against the double-precision reference on sampled rows, and the
// fused against the unfused output everywhere (rel L2). Then timed: median ms,
// GFLOP/s (4 T^2 hd per head and window: the two products), share of this
// machine's measured FMA peak, ratio.
// Then the bf16 kernel (kernel table: attention_bf16, Q K^T and P V on bf16
// inputs) against the f32 one, both through the same driver (the engine's work
// split), timed in alternating rounds (bench::median_seconds_paired); checked
// against ref::attention_relpos_bf16 on sampled rows and against the f32 output.
//   bench_attention [--threads N] [--runs N] [--dim C] [--heads H] [--shape global|windowed]
//                   [--only fused|unfused|bf16]
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "fma_peak.h"
#include "engine/ops/attention_relpos.h"
#include "engine/ops/blas.h"
#include "engine/runtime.h"
#include "engine/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/attention_bf16.h"
#include "kernels/table.h"

namespace {

struct Problem {
  int windows, h, w, dim, heads;
  int tokens() const { return h * w; }
  int hd() const { return dim / heads; }
  std::vector<float> qkv, rel_h, rel_w, ctx;
};

// Both paths through the engine's op (the image encoder's driver: work split
// over the pool, per-worker scratch), on an explicit path.
void run(Problem& p, std::vector<float>& scratch, size_t scratch_floats, engine::AttentionPath path) {
  const engine::Tensor rel_h = engine::Tensor::from_blob(p.rel_h.data(), engine::DType::F32,
                                                         {2 * p.h - 1, p.hd()});
  const engine::Tensor rel_w = engine::Tensor::from_blob(p.rel_w.data(), engine::DType::F32,
                                                         {2 * p.w - 1, p.hd()});
  engine::ops::AttentionRelPosCall c;
  c.qkv = p.qkv.data();
  c.ctx = p.ctx.data();
  c.windows = p.windows;
  c.h = p.h;
  c.w = p.w;
  c.dim = p.dim;
  c.heads = p.heads;
  c.rel_pos_h = &rel_h;
  c.rel_pos_w = &rel_w;
  c.scratch = scratch.data();
  c.scratch_floats = scratch_floats;
  engine::ops::attention_relpos(c, path);
}

void fused(Problem& p, std::vector<float>& s, size_t f) { run(p, s, f, engine::AttentionPath::Fused); }
void unfused(Problem& p, std::vector<float>& s, size_t f) { run(p, s, f, engine::AttentionPath::Unfused); }

// One precision's fused kernel through a driver like the engine's (engine/src/ops/attention_relpos.cpp):
// work items (window, head, chunk of query rows) split over the pool, per-worker scratch.
struct FusedSlots {
  size_t (*scratch_floats)(int h, int w, int hd);
  void (*run)(const kernels::AttentionRelPosArgs& a);
};

void direct(Problem& p, std::vector<float>& scratch, size_t scratch_floats, const FusedSlots& slots) {
  const int tl = p.tokens(), hd = p.hd(), ld = 3 * p.dim;
  engine::thread_pool().run([&](int worker, int workers) {
    int chunks = 1;  // the engine's rule: whole heads unless fewer than 4 items per worker
    while (int64_t{p.windows} * p.heads * chunks < 4 * workers && tl / (2 * chunks) >= 256) chunks *= 2;
    const int64_t items = int64_t{p.windows} * p.heads * chunks;
    kernels::AttentionRelPosArgs k;
    k.ldq = k.ldk = k.ldv = ld;
    k.h = p.h;
    k.w = p.w;
    k.hd = hd;
    k.scale = 1.f / std::sqrt(static_cast<float>(hd));
    k.rel_pos_h = p.rel_h.data();
    k.rel_pos_w = p.rel_w.data();
    k.ldo = p.dim;
    k.scratch = scratch.data() + static_cast<size_t>(worker) * scratch_floats;
    k.scratch_floats = scratch_floats;
    for (int64_t item = items * worker / workers; item < items * (worker + 1) / workers; ++item) {
      const int64_t win = item / (int64_t{p.heads} * chunks);
      const int head = static_cast<int>(item / chunks % p.heads), chunk = static_cast<int>(item % chunks);
      const float* base = p.qkv.data() + win * tl * ld + head * hd;
      k.q = base;
      k.k = base + p.dim;
      k.v = base + 2 * p.dim;
      k.out = p.ctx.data() + win * tl * p.dim + head * hd;
      k.r0 = static_cast<int>(int64_t{tl} * chunk / chunks);
      k.r1 = static_cast<int>(int64_t{tl} * (chunk + 1) / chunks);
      slots.run(k);
    }
  });
}

// rel L2 of ctx rows [r0, r1) of (window, head) against the double reference (bf16: its bf16 one).
double vs_reference(const Problem& p, int64_t win, int head, int r0, int r1, bool bf16 = false) {
  const int tl = p.tokens(), hd = p.hd(), ld = 3 * p.dim;
  std::vector<float> want(static_cast<size_t>(tl) * hd);
  kernels::AttentionRelPosArgs a;
  const float* base = p.qkv.data() + win * tl * ld + head * hd;
  a.q = base;
  a.k = base + p.dim;
  a.v = base + 2 * p.dim;
  a.ldq = a.ldk = a.ldv = ld;
  a.h = p.h;
  a.w = p.w;
  a.hd = hd;
  a.scale = 1.f / std::sqrt(static_cast<float>(hd));
  a.rel_pos_h = p.rel_h.data();
  a.rel_pos_w = p.rel_w.data();
  a.out = want.data();
  a.ldo = hd;
  a.r0 = r0;
  a.r1 = r1;
  if (bf16)
    kernels::ref::attention_relpos_bf16(a);
  else
    kernels::ref::attention_relpos(a);
  double err = 0, norm = 0;
  for (int r = r0; r < r1; ++r)
    for (int c = 0; c < hd; ++c) {
      const double got = p.ctx[static_cast<size_t>((win * tl + r) * p.dim + head * hd + c)];
      const double x = want[static_cast<size_t>(r) * hd + c];
      err += (got - x) * (got - x);
      norm += x * x;
    }
  return std::sqrt(err / norm);
}

size_t family_index(const char* name) {
  size_t i = 0;
  while (std::string(kernels::KernelTable::family_names[i]) != name) ++i;
  return i;
}

// The bf16 kernel against the f32 one on problem p: checks, then alternating timed rounds.
template <class Sampled>
std::string bf16_row(const char* name, Problem& p, const Sampled& sampled, double flops, int runs, int threads,
                     int& failures) {
  const kernels::KernelTable& t = kernels::table();
  const FusedSlots f32{t.attention_relpos_scratch_floats, t.attention_relpos};
  const FusedSlots bf16{t.attention_bf16_scratch_floats, t.attention_bf16};
  const size_t fs = f32.scratch_floats(p.h, p.w, p.hd()), bs = bf16.scratch_floats(p.h, p.w, p.hd());
  std::vector<float> fscratch(fs * threads), bscratch(bs * threads);
  direct(p, fscratch, fs, f32);
  const std::vector<float> f32_out = p.ctx;
  std::fill(p.ctx.begin(), p.ctx.end(), std::nanf(""));
  direct(p, bscratch, bs, bf16);
  const double b_ref = sampled(true);
  double err = 0, norm = 0;
  for (size_t i = 0; i < p.ctx.size(); ++i) {
    err += double(p.ctx[i] - f32_out[i]) * (p.ctx[i] - f32_out[i]);
    norm += double(f32_out[i]) * f32_out[i];
  }
  const double b_f32 = std::sqrt(err / norm);
  // bf16 vs its reference: only f32 summation and rare ambiguous roundings; vs f32: the bf16 rounding.
  const bool ok = b_ref < 1e-4 && b_f32 < 1e-2;
  if (!ok) ++failures;
  const auto [t_f, t_b] = bench::median_seconds_paired(runs, [&] { direct(p, fscratch, fs, f32); },
                                                       [&] { direct(p, bscratch, bs, bf16); });
  return fmt::format("{:<22} {:>5} {:>3} | {:>9.2f} {:>8.1f} | {:>9.2f} {:>8.1f} | {:>6.2f}x | {:>8.1e} {:>8.1e}{}\n", name,
                     p.tokens(), p.hd(), t_f * 1e3, flops / t_f / 1e9, t_b * 1e3, flops / t_b / 1e9, t_f / t_b, b_ref,
                     b_f32, ok ? "" : "  MISMATCH");
}

}  // namespace

static int bench_main(int argc, char** argv) {
  int threads = 2, runs = 5, dim = 768, heads = 12;
  std::string only_shape, only_path;  // for profiling one of them
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--dim") dim = std::stoi(argv[i + 1]);
    else if (a == "--heads") heads = std::stoi(argv[i + 1]);
    else if (a == "--shape") only_shape = argv[i + 1];
    else if (a == "--only") only_path = argv[i + 1];
  }
  engine::runtime_options();  // SAM_ISA caps the kernel table below too
  engine::set_num_threads(threads);
  // One CPU per thread: otherwise the scheduler may put two of them on one CPU now and then
  // (beside OpenBLAS's pool), which halves the measured peak or a timed run.
  engine::thread_pool().pin_threads();
  engine::ops::set_blas_threads(1);  // (the unfused path also makes OpenBLAS single-threaded itself)
  const kernels::KernelTable& t = kernels::table();
  const double peak = bench::fma_peak_gflops(threads);
  fmt::print("fused rel-pos attention ({}) vs unfused (OpenBLAS + softmax_rows), {} threads, median of {}; "
             "FMA peak {:.0f} GFLOP/s\n",
             kernels::isa_name(t.isa), threads, runs, peak);
  fmt::print("{:<22} {:>5} {:>3} | {:>9} {:>8} {:>6} | {:>9} {:>8} {:>6} | {:>6} | {:>8} {:>8} {:>8}\n", "shape", "T", "hd",
             "fused ms", "GFLOP/s", "%peak", "unfused", "GFLOP/s", "%peak", "ratio", "fus/ref", "unf/ref", "fus/unf");
  struct Shape {
    const char* name;
    int windows, side;
  };
  const Shape shapes[] = {{"global 64x64", 1, 64}, {"windowed 25 x 14x14", 25, 14}};
  const bool run_fused = only_path != "unfused" && only_path != "bf16";
  const bool run_unfused = only_path != "fused" && only_path != "bf16";
  const bool run_bf16 = only_path.empty() || only_path == "bf16";
  std::vector<std::string> bf16_rows;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f), small(0.f, 0.3f);
  int failures = 0;
  for (const Shape& s : shapes) {
    if (!only_shape.empty() && std::string(s.name).find(only_shape) != 0) continue;
    Problem p{s.windows, s.side, s.side, dim, heads, {}, {}, {}, {}};
    const size_t tl = static_cast<size_t>(p.tokens());
    p.qkv.resize(static_cast<size_t>(p.windows) * tl * 3 * dim);
    for (auto& x : p.qkv) x = nd(rng);
    p.rel_h.resize(static_cast<size_t>(2 * p.h - 1) * p.hd());
    p.rel_w.resize(static_cast<size_t>(2 * p.w - 1) * p.hd());
    for (auto& x : p.rel_h) x = small(rng);
    for (auto& x : p.rel_w) x = small(rng);
    p.ctx.assign(static_cast<size_t>(p.windows) * tl * dim, 0.f);
    const size_t fs = engine::ops::attention_relpos_scratch_floats(p.h, p.w, p.hd(), engine::AttentionPath::Fused);
    const size_t us = engine::ops::attention_relpos_scratch_floats(p.h, p.w, p.hd(), engine::AttentionPath::Unfused);
    std::vector<float> fscratch(fs * threads), uscratch(us * threads);

    // Checks: sampled rows of the first and the last (window, head) against the reference.
    const int lastw = p.windows - 1, lasth = heads - 1, n = static_cast<int>(tl);
    auto sampled = [&](bool bf16 = false) {
      return std::max({vs_reference(p, 0, 0, 0, std::min(n, 40), bf16),
                       vs_reference(p, lastw, lasth, n / 2, std::min(n, n / 2 + 20), bf16),
                       vs_reference(p, lastw, lasth, std::max(0, n - 40), n, bf16)});
    };
    const double flops = 4.0 * double(tl) * double(tl) * p.hd() * heads * p.windows;
    if (run_bf16) bf16_rows.push_back(bf16_row(s.name, p, sampled, flops, runs, threads, failures));
    if (!run_fused && !run_unfused) continue;
    unfused(p, uscratch, us);
    const double unf_ref = sampled();
    const std::vector<float> unf_out = p.ctx;
    std::fill(p.ctx.begin(), p.ctx.end(), std::nanf(""));
    fused(p, fscratch, fs);
    const double fus_ref = sampled();
    double err = 0, norm = 0;
    for (size_t i = 0; i < p.ctx.size(); ++i) {
      err += double(p.ctx[i] - unf_out[i]) * (p.ctx[i] - unf_out[i]);
      norm += double(unf_out[i]) * unf_out[i];
    }
    const double fus_unf = std::sqrt(err / norm);
    const bool ok = fus_ref < 1e-5 && unf_ref < 1e-5 && fus_unf < 1e-5;
    if (!ok) ++failures;

    const double t_f = run_fused ? bench::median_seconds(runs, [&] { fused(p, fscratch, fs); }) : NAN;
    const double t_u = run_unfused ? bench::median_seconds(runs, [&] { unfused(p, uscratch, us); }) : NAN;
    auto pct = [&](double sec) { return peak > 0 ? 100 * flops / sec / 1e9 / peak : 0.0; };
    fmt::print("{:<22} {:>5} {:>3} | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>5.2f}x | {:>8.1e} "
               "{:>8.1e} {:>8.1e}{}\n",
               s.name, tl, p.hd(), t_f * 1e3, flops / t_f / 1e9, pct(t_f), t_u * 1e3, flops / t_u / 1e9, pct(t_u),
               t_u / t_f, fus_ref, unf_ref, fus_unf, ok ? "" : "  MISMATCH");
  }
  if (!bf16_rows.empty()) {
    fmt::print("\nbf16 fused attention (attention_bf16: {}) vs f32 fused ({}), same driver, alternating rounds, median of {}\n",
               t.variant_names[family_index("attention_bf16")], t.variant_names[family_index("attention")], 3 * runs);
    fmt::print("{:<22} {:>5} {:>3} | {:>9} {:>8} | {:>9} {:>8} | {:>7} | {:>8} {:>8}\n", "shape", "T", "hd", "f32 ms",
               "GFLOP/s", "bf16 ms", "GFLOP/s", "speedup", "bf16/ref", "bf16/f32");
    for (const std::string& r : bf16_rows) fmt::print("{}", r);
  }
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  return bench::guarded_main(
      argc, argv, {{"--threads N", "--runs N", "--dim N", "--heads N", "--shape NAME", "--only PATH"}, {}, {}}, bench_main);
}
