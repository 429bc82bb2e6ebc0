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
//   bench_attention [--threads N] [--runs N] [--dim C] [--heads H] [--shape global|windowed] [--only fused|unfused]
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/table.h"

namespace {

struct Problem {
  int windows, h, w, dim, heads;
  int tokens() const { return h * w; }
  int hd() const { return dim / heads; }
  std::vector<float> qkv, rel_h, rel_w, ctx;
};

// Query rows per fused work item: whole heads unless there are too few items
// to share among the workers (the encoder's policy).
int chunks_per_head(const Problem& p, int workers) {
  int chunks = 1;
  while (int64_t{p.windows} * p.heads * chunks < 4 * workers && p.tokens() / (2 * chunks) >= 256) chunks *= 2;
  return chunks;
}

void fused(Problem& p, std::vector<float>& scratch, size_t scratch_floats) {
  const kernels::KernelTable& t = kernels::table();
  const int tl = p.tokens(), hd = p.hd(), ld = 3 * p.dim;
  const int chunks = chunks_per_head(p, engine::thread_pool().num_threads());
  const int64_t items = int64_t{p.windows} * p.heads * chunks;
  engine::thread_pool().run([&](int worker, int workers) {
    kernels::AttentionRelPosArgs a;
    a.h = p.h;
    a.w = p.w;
    a.hd = hd;
    a.scale = 1.f / std::sqrt(static_cast<float>(hd));
    a.rel_pos_h = p.rel_h.data();
    a.rel_pos_w = p.rel_w.data();
    a.ldq = a.ldk = a.ldv = ld;
    a.ldo = p.dim;
    a.scratch = scratch.data() + static_cast<size_t>(worker) * scratch_floats;
    a.scratch_floats = scratch_floats;
    for (int64_t item = items * worker / workers; item < items * (worker + 1) / workers; ++item) {
      const int64_t win = item / (int64_t{p.heads} * chunks);
      const int head = static_cast<int>(item / chunks % p.heads), chunk = static_cast<int>(item % chunks);
      const float* base = p.qkv.data() + win * tl * ld + head * hd;
      a.q = base;
      a.k = base + p.dim;
      a.v = base + 2 * p.dim;
      a.out = p.ctx.data() + win * tl * p.dim + head * hd;
      a.r0 = static_cast<int>(int64_t{tl} * chunk / chunks);
      a.r1 = static_cast<int>(int64_t{tl} * (chunk + 1) / chunks);
      t.attention_relpos(a);
    }
  });
}

void gemm(bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float* c,
          int ldc) {
  kernels::GemmArgs g;
  g.trans_b = trans_b;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = alpha;
  g.a = a;
  g.lda = lda;
  g.b = b;
  g.ldb = ldb;
  g.c = c;
  g.ldc = ldc;
  kernels::sgemm_openblas(g);
}

// The encoder's previous attention_heads(), with single-threaded OpenBLAS.
constexpr int kRowBlock = 256;
size_t unfused_scratch_floats(const Problem& p) {
  const size_t t = static_cast<size_t>(p.tokens()), rb = std::min<size_t>(kRowBlock, t);
  return rb * t + rb * static_cast<size_t>(2 * p.h - 1 + 2 * p.w - 1);
}

void unfused(Problem& p, std::vector<float>& scratch, size_t scratch_floats) {
  const int t_len = p.tokens(), hd = p.hd(), ld = 3 * p.dim, lh = 2 * p.h - 1, lw = 2 * p.w - 1;
  const int rb = std::min(kRowBlock, t_len), blocks_per_head = (t_len + rb - 1) / rb;
  const int64_t items = int64_t{p.windows} * p.heads * blocks_per_head;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  engine::thread_pool().run([&](int worker, int workers) {
    float* scores = scratch.data() + static_cast<size_t>(worker) * scratch_floats;
    float* ph = scores + static_cast<size_t>(rb) * t_len;
    float* pw = ph + static_cast<size_t>(rb) * lh;
    for (int64_t item = items * worker / workers; item < items * (worker + 1) / workers; ++item) {
      const int64_t win = item / (int64_t{p.heads} * blocks_per_head);
      const int head = static_cast<int>(item / blocks_per_head % p.heads);
      const int r0 = static_cast<int>(item % blocks_per_head) * rb, rows = std::min(rb, t_len - r0);
      const float* base = p.qkv.data() + win * t_len * ld;
      const float* q = base + static_cast<int64_t>(r0) * ld + head * hd;
      const float* k = base + p.dim + head * hd;
      const float* v = base + 2 * p.dim + head * hd;
      gemm(true, rows, t_len, hd, scale, q, ld, k, ld, scores, t_len);
      gemm(true, rows, lh, hd, 1.f, q, ld, p.rel_h.data(), hd, ph, lh);
      gemm(true, rows, lw, hd, 1.f, q, ld, p.rel_w.data(), hd, pw, lw);
      for (int r = 0; r < rows; ++r) {
        const int tq = r0 + r, qh = tq / p.w, qw = tq % p.w;
        float* srow = scores + static_cast<int64_t>(r) * t_len;
        const float* prh = ph + static_cast<int64_t>(r) * lh + qh + p.h - 1;
        const float* prw = pw + static_cast<int64_t>(r) * lw + qw + p.w - 1;
        for (int kh = 0; kh < p.h; ++kh) {
          const float bh = prh[-kh];
          float* s = srow + kh * p.w;
          for (int kw = 0; kw < p.w; ++kw) s[kw] = (s[kw] + bh) + prw[-kw];
        }
      }
      kernels::table().softmax_rows(scores, rows, t_len, t_len);
      float* out = p.ctx.data() + (win * t_len + r0) * p.dim + head * hd;
      gemm(false, rows, hd, t_len, 1.f, scores, t_len, v, ld, out, p.dim);
    }
  });
}

// rel L2 of ctx rows [r0, r1) of (window, head) against the double reference.
double vs_reference(const Problem& p, int64_t win, int head, int r0, int r1) {
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

}  // namespace

int main(int argc, char** argv) {
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
  engine::set_num_threads(threads);
  // One CPU per thread: otherwise the scheduler may put two of them on one CPU now and then
  // (beside OpenBLAS's pool), which halves the measured peak or a timed run.
  engine::thread_pool().pin_threads();
  kernels::set_blas_threads(1);  // the unfused path runs one single-threaded GEMM per worker
  const kernels::KernelTable& t = kernels::table();
  double peak = 0;
  if (kernels::best_isa() == kernels::Isa::Avx512) {
    std::vector<double> per(static_cast<size_t>(threads));
    engine::thread_pool().run([&](int i, int) { per[static_cast<size_t>(i)] = bench::peak_gflops_avx512(20'000'000); });
    for (double v : per) peak += v;
  }
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
  const bool run_fused = only_path != "unfused", run_unfused = only_path != "fused";
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
    const size_t fs = t.attention_relpos_scratch_floats(p.h, p.w, p.hd()), us = unfused_scratch_floats(p);
    std::vector<float> fscratch(fs * threads), uscratch(us * threads);

    // Checks: sampled rows of the first and the last (window, head) against the reference.
    const int lastw = p.windows - 1, lasth = heads - 1, n = static_cast<int>(tl);
    auto sampled = [&] {
      return std::max({vs_reference(p, 0, 0, 0, std::min(n, 40)), vs_reference(p, lastw, lasth, n / 2, std::min(n, n / 2 + 20)),
                       vs_reference(p, lastw, lasth, std::max(0, n - 40), n)});
    };
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
    const double flops = 4.0 * double(tl) * double(tl) * p.hd() * heads * p.windows;
    auto pct = [&](double sec) { return peak > 0 ? 100 * flops / sec / 1e9 / peak : 0.0; };
    fmt::print("{:<22} {:>5} {:>3} | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>9.2f} {:>8.1f} {:>5.0f}% | {:>5.2f}x | {:>8.1e} "
               "{:>8.1e} {:>8.1e}{}\n",
               s.name, tl, p.hd(), t_f * 1e3, flops / t_f / 1e9, pct(t_f), t_u * 1e3, flops / t_u / 1e9, pct(t_u),
               t_u / t_f, fus_ref, unf_ref, fus_unf, ok ? "" : "  MISMATCH");
  }
  return failures ? 1 : 0;
}
