// The fused rel-pos attention with bf16 products (kernels/attention_bf16.h) of
// every variant this CPU runs against its double-precision reference
// (kernels/ref/attention_bf16_ref.cpp: q, k, v and p rounded to bf16 exactly as
// the kernels round them), on awkward grids and odd head dims, q/k/v read from a
// padded qkv-like buffer, split query ranges, windows read in place with
// padding, NaN-poisoned outputs and scratch; and the bf16 result against the
// f32 reference (the precision bf16 costs).
//
// Tolerance. The kernel and the reference round the same inputs to the same
// bf16 values; bf16 products are exact in f32 and the online softmax rescales
// by exact powers of two, so they differ only by
//  * the f32 sums over the T keys (P V, sum p) and the division: about
//    sqrt(T) u of the output scale sum p |v| / sum p with errors of random sign;
//    the allowance is 8 u of the reference's bound (sqrt(T) + 2) sum p |v| / sum p;
//  * a different bf16 rounding of a probability p_u whose f32 value (from f32
//    scores: their error is about u A, A the sum of |terms|) lies that close to
//    a rounding boundary: one bf16 ulp of that p_u. The reference finds these
//    keys (its `flips` bound, with the worst-case score error (hd + 3) u A
//    twice) and adds their ulp (|v| + |out|) / sum p.
// So the check is err <= 8 u bound + flips: as tight as the f32 kernel's check
// (test_attention.cpp) but for the genuinely ambiguous roundings. The test
// prints how much of it was used and the largest error relative to the output
// scale. (Without the bf16 rounding of p, or with a running max that is not an
// integer, errors reach ~1e-4 of the output scale: far outside.)
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_bf16.h"
#include "kernels/table.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kAllowance = 8.0 / (1 << 24);

struct Problem {
  int h, w, hd;
  int64_t ld, ldo;
  std::vector<float> qkv, rel_h, rel_w;
};

Problem make_problem(int h, int w, int hd, std::mt19937& rng, int64_t rows = 0) {
  Problem p{h, w, hd, 3 * hd + 5, hd + 3, {}, {}, {}};
  const int64_t t = rows > 0 ? rows : int64_t{h} * w;
  std::normal_distribution<float> nd(0.f, 1.f), small(0.f, 0.3f);
  p.qkv.assign(static_cast<size_t>(t * p.ld), kNaN);  // the gaps between q, k, v and past v stay NaN
  for (int64_t u = 0; u < t; ++u)
    for (int c = 0; c < 3 * hd; ++c) p.qkv[static_cast<size_t>(u * p.ld + c + c / hd)] = nd(rng);
  p.rel_h.resize(static_cast<size_t>(2 * h - 1) * hd);
  p.rel_w.resize(static_cast<size_t>(2 * w - 1) * hd);
  for (auto& x : p.rel_h) x = small(rng);
  for (auto& x : p.rel_w) x = small(rng);
  return p;
}

kernels::AttentionRelPosArgs args_for(const Problem& p, float* out) {
  kernels::AttentionRelPosArgs a;
  a.q = p.qkv.data();
  a.k = p.qkv.data() + p.hd + 1;
  a.v = p.qkv.data() + 2 * (p.hd + 1);
  a.ldq = a.ldk = a.ldv = p.ld;
  a.h = p.h;
  a.w = p.w;
  a.hd = p.hd;
  a.scale = 1.f / std::sqrt(static_cast<float>(p.hd));
  a.rel_pos_h = p.rel_h.data();
  a.rel_pos_w = p.rel_w.data();
  a.out = out;
  a.ldo = p.ldo;
  return a;
}

// A table per attention_bf16 variant this CPU runs, its name checked.
struct Named {
  std::string name;
  kernels::KernelTable table;
};

std::vector<Named> variant_tables() {
  size_t family = 0;
  while (std::string(kernels::KernelTable::family_names[family]) != kernels::AttentionBf16Kernels::family) ++family;
  std::vector<Named> out;
  for (const auto& v : kernels::AttentionBf16Kernels::variants()) {
    if (!kernels::cpu_feature_set().contains(v.needs)) {
      WARN("attention_bf16 variant " << v.name << " not run: this CPU lacks " << v.needs.str());
      continue;
    }
    Named n{v.name, kernels::table_for(v.needs)};
    REQUIRE(std::string(n.table.variant_names[family]) == v.name);
    REQUIRE(n.table.attention_bf16 == v.slots->attention_bf16);
    out.push_back(std::move(n));
  }
  REQUIRE(!out.empty());
  return out;
}

struct Worst {
  double of_allowance = 0, relative = 0, flips = 0;  // err / allowance, err / output scale, flips / output scale
  void print(const char* what, const std::string& name) const {
    std::printf("attention_bf16 %s %s: largest error %.3f of the allowance, %.2e of the output scale "
                "(flips allowance up to %.2e)\n",
                name.c_str(), what, of_allowance, relative, flips);
  }
};

// One output element against the reference; updates `worst`.
// (t_len: the keys; the output scale is bound / (sqrt(T) + 2).)
void check_element(const char* where, float got, float want, double bound, double flips, int t_len, Worst& worst) {
  const double err = std::fabs(double(got) - want), tol = kAllowance * bound + flips;
  INFO(where << ": got " << got << " want " << want << " bound " << bound << " flips " << flips);
  REQUIRE(err <= tol);
  const double scale = bound / (std::sqrt(double(t_len)) + 2);
  worst.of_allowance = std::max(worst.of_allowance, err / tol);
  worst.relative = std::max(worst.relative, err / scale);
  worst.flips = std::max(worst.flips, flips / scale);
}

// Runs `t` on the query ranges (fresh NaN-poisoned scratch each call) against the reference;
// all other output elements must still be NaN.
void check(const Named& t, const Problem& p, const std::vector<std::pair<int, int>>& ranges, Worst& worst) {
  const int64_t tl = int64_t{p.h} * p.w;
  std::vector<float> out(static_cast<size_t>(tl * p.ldo), kNaN), want(out.size(), kNaN);
  std::vector<bool> written(static_cast<size_t>(tl), false);
  const size_t scratch_floats = t.table.attention_bf16_scratch_floats(p.h, p.w, p.hd);
  std::vector<float> scratch(scratch_floats);
  for (auto [r0, r1] : ranges) {
    std::fill(scratch.begin(), scratch.end(), kNaN);
    kernels::AttentionRelPosArgs a = args_for(p, out.data());
    a.r0 = r0;
    a.r1 = r1;
    a.scratch = scratch.data();
    a.scratch_floats = scratch_floats;
    t.table.attention_bf16(a);
    std::vector<double> bound(static_cast<size_t>(r1 - r0) * p.hd), flips(bound.size());
    kernels::AttentionRelPosArgs r = args_for(p, want.data());
    r.r0 = r0;
    r.r1 = r1;
    kernels::ref::attention_relpos_bf16(r, bound.data(), flips.data());
    for (int row = r0; row < r1; ++row) {
      written[static_cast<size_t>(row)] = true;
      for (int c = 0; c < p.hd; ++c) {
        const size_t i = static_cast<size_t>(row * p.ldo + c), j = static_cast<size_t>(row - r0) * p.hd + c;
        char where[160];
        std::snprintf(where, sizeof where, "%s h %d w %d hd %d rows [%d, %d) at %d,%d", t.name.c_str(), p.h, p.w, p.hd,
                      r0, r1, row, c);
        check_element(where, out[i], want[i], bound[j], flips[j], p.h * p.w, worst);
      }
    }
  }
  for (int64_t row = 0; row < tl; ++row)
    for (int64_t c = 0; c < p.ldo; ++c) {
      if (written[static_cast<size_t>(row)] && c < p.hd) continue;
      INFO(t.name << " h " << p.h << " w " << p.w << " hd " << p.hd << ": wrote " << row << "," << c);
      REQUIRE(std::isnan(out[static_cast<size_t>(row * p.ldo + c)]));
    }
}

}  // namespace

TEST_CASE("bf16 fused rel-pos attention equals its reference on awkward shapes", "[attention_bf16]") {
  std::mt19937 rng(41);
  struct Grid {
    int h, w;
  };
  const Grid grids[] = {{1, 1}, {5, 7}, {13, 11}, {14, 14}, {6, 6}, {1, 17}, {19, 2}, {16, 16}, {3, 40}};
  const int head_dims[] = {7, 13, 64, 80, 1};
  for (const Named& t : variant_tables()) {
    Worst worst;
    for (const Grid& g : grids)
      for (int hd : head_dims) {
        const Problem p = make_problem(g.h, g.w, hd, rng);
        const int tl = g.h * g.w;
        check(t, p, {{0, tl}}, worst);
        const int a = std::min(tl, tl / 3 + 1), b = std::min(tl, a + 7);
        check(t, p, {{0, a}, {a, a}, {a, b}, {b, tl}}, worst);
      }
    worst.print("awkward shapes", t.name);
  }
}

TEST_CASE("bf16 fused rel-pos attention equals its reference on the 64 x 64 global grid", "[attention_bf16]") {
  // SAM's global blocks (T = 4096, several key blocks: the online softmax's
  // rescaling), head dim 64: rows at the top, middle and bottom of the grid.
  std::mt19937 rng(43);
  const Problem p = make_problem(64, 64, 64, rng);
  for (const Named& t : variant_tables()) {
    Worst worst;
    check(t, p, {{0, 40}, {2011, 2053}, {4070, 4096}}, worst);
    worst.print("64x64", t.name);
  }
}

TEST_CASE("bf16 fused rel-pos attention reads 14 x 14 windows in place, with padding", "[attention_bf16]") {
  // The encoder's windowed blocks: a 31 x 30 grid cut into 14 x 14 windows (the
  // last row and column of windows mostly padding: valid 3 x 2 in the corner),
  // one head read in place, padding keys / values k_pad / v_pad, outputs in grid order.
  std::mt19937 rng(47);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int gh = 31, gw = 30, h = 14, w = 14;
  for (int hd : {64, 13}) {
    Problem p = make_problem(h, w, hd, rng, int64_t{gh} * gw);
    std::vector<float> k_pad(static_cast<size_t>(hd)), v_pad(static_cast<size_t>(hd));
    for (auto& x : k_pad) x = nd(rng);
    for (auto& x : v_pad) x = nd(rng);
    const int64_t tl = int64_t{gh} * gw;
    for (const Named& t : variant_tables()) {
      Worst worst;
      std::vector<float> out(static_cast<size_t>(tl * p.ldo), kNaN), want(out.size(), kNaN);
      const size_t scratch_floats = t.table.attention_bf16_scratch_floats(h, w, hd);
      std::vector<float> scratch(scratch_floats, kNaN);
      for (int oy = 0; oy < gh; oy += h)
        for (int ox = 0; ox < gw; ox += w) {
          const int vh = std::min(h, gh - oy), vw = std::min(w, gw - ox), nq = vh * vw;
          const int64_t origin = int64_t{oy} * gw + ox;
          auto window_args = [&](float* o) {
            kernels::AttentionRelPosArgs a = args_for(p, o + origin * p.ldo);
            a.q += origin * p.ld;
            a.k += origin * p.ld;
            a.v += origin * p.ld;
            a.row_step = a.out_row_step = gw;
            a.valid_h = vh;
            a.valid_w = vw;
            a.k_pad = k_pad.data();
            a.v_pad = v_pad.data();
            return a;
          };
          std::vector<double> bound(static_cast<size_t>(nq) * hd), flips(bound.size());
          kernels::AttentionRelPosArgs r = window_args(want.data());
          r.r0 = 0;
          r.r1 = nq;
          kernels::ref::attention_relpos_bf16(r, bound.data(), flips.data());
          for (auto [r0, r1] : {std::pair<int, int>{0, nq / 2 + 1}, {nq / 2 + 1, nq}}) {  // split inside a row
            kernels::AttentionRelPosArgs a = window_args(out.data());
            a.r0 = std::min(r0, nq);
            a.r1 = r1;
            a.scratch = scratch.data();
            a.scratch_floats = scratch_floats;
            t.table.attention_bf16(a);
          }
          for (int i = 0; i < nq; ++i) {
            const int64_t row = origin + int64_t{i / vw} * gw + i % vw;
            for (int c = 0; c < hd; ++c) {
              const size_t at = static_cast<size_t>(row * p.ldo + c), j = static_cast<size_t>(i) * hd + c;
              char where[160];
              std::snprintf(where, sizeof where, "%s hd %d window (%d,%d) query %d col %d", t.name.c_str(), hd, oy, ox,
                            i, c);
              check_element(where, out[at], want[at], bound[j], flips[j], h * w, worst);
            }
          }
        }
      for (int64_t row = 0; row < tl; ++row)  // every grid token is one window's valid query
        for (int64_t c = 0; c < p.ldo; ++c) {
          INFO(t.name << " hd " << hd << ": row " << row << " col " << c);
          REQUIRE(std::isnan(out[static_cast<size_t>(row * p.ldo + c)]) == (c >= hd));
        }
      worst.print(hd == 64 ? "14x14 windows in place, hd 64" : "14x14 windows in place, hd 13", t.name);
    }
  }
}

TEST_CASE("bf16 fused rel-pos attention stays within 1e-2 of the f32 reference", "[attention_bf16]") {
  // What bf16 costs: q, k, v and p rounded to 8 significant bits. Relative L2
  // error over whole outputs of a 14 x 14 window and a 32 x 32 grid, head dim 64.
  std::mt19937 rng(53);
  for (int side : {14, 32}) {
    const Problem p = make_problem(side, side, 64, rng);
    const int tl = side * side;
    std::vector<float> want(static_cast<size_t>(tl * p.ldo), 0.f);
    kernels::AttentionRelPosArgs r = args_for(p, want.data());
    r.r1 = tl;
    kernels::ref::attention_relpos(r);
    for (const Named& t : variant_tables()) {
      std::vector<float> out(want.size(), 0.f);
      std::vector<float> scratch(t.table.attention_bf16_scratch_floats(p.h, p.w, p.hd));
      kernels::AttentionRelPosArgs a = args_for(p, out.data());
      a.r1 = tl;
      a.scratch = scratch.data();
      a.scratch_floats = scratch.size();
      t.table.attention_bf16(a);
      double err = 0, norm = 0;
      for (int row = 0; row < tl; ++row)
        for (int c = 0; c < p.hd; ++c) {
          const double d = double(out[static_cast<size_t>(row * p.ldo + c)]) - want[static_cast<size_t>(row * p.ldo + c)];
          err += d * d;
          norm += double(want[static_cast<size_t>(row * p.ldo + c)]) * want[static_cast<size_t>(row * p.ldo + c)];
        }
      const double rel = std::sqrt(err / norm);
      std::printf("attention_bf16 %s %dx%d vs the f32 reference: rel L2 %.2e\n", t.name.c_str(), side, side, rel);
      CHECK(rel <= 1e-2);
      CHECK(rel > 0);  // (the bf16 rounding did happen)
    }
  }
}
