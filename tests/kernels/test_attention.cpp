// The fused attention with decomposed rel-pos bias of every ISA table against
// the double-precision reference (kernels/ref/attention_ref.cpp: the official
// maths term by term), on awkward grids and head dims, q/k/v read from a
// padded qkv-like buffer, padded output rows, split query ranges, NaN-poisoned
// outputs and scratch.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/attention.h"
#include "kernels/table.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Rounding-error allowance, relative to the reference's bound (attention.h):
//   (sqrt(hd + 3) A + sqrt(T)) sum_u p_u |v_u|,  A = the largest sum of |terms| of one score.
// A score is a float dot product of hd terms plus two bias dot products of hd
// terms, scaled and added: with rounding errors of random sign (u = 2^-24) its
// error is about sqrt(hd + 3) u A. Errors e in the scores move the output by at
// most 2 e sum p |v|; the float sums over the T keys (exp, running sum, P V,
// the per-block rescaling) add about sqrt(T) u sum p |v|. The allowance, 8 u of
// that bound, covers the factor 2, the SIMD exp's own error (< 2 u) and a few
// standard deviations. Worst-case bounds (n u instead of sqrt(n) u) would be too
// loose to see one dropped or duplicated key among T = 4096.
constexpr double kAllowance = 8.0 / (1 << 24);

struct Problem {
  int h, w, hd;
  int64_t ld;    // row stride of the qkv-like buffer (>= 3 hd)
  int64_t ldo;   // row stride of the output (>= hd)
  std::vector<float> qkv, rel_h, rel_w;
};

Problem make_problem(int h, int w, int hd, std::mt19937& rng) {
  Problem p{h, w, hd, 3 * hd + 5, hd + 3, {}, {}, {}};
  const int64_t t = int64_t{h} * w;
  std::normal_distribution<float> nd(0.f, 1.f), small(0.f, 0.3f);
  p.qkv.assign(static_cast<size_t>(t * p.ld), kNaN);  // the gaps between q, k, v and past v stay NaN
  for (int64_t u = 0; u < t; ++u)
    for (int c = 0; c < 3 * hd; ++c) p.qkv[static_cast<size_t>(u * p.ld + c + c / hd)] = nd(rng);  // q, k, v one apart
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

// Runs `t` on the query ranges `ranges` (each call with a fresh NaN-poisoned
// scratch) and checks them against the reference; all other output elements
// must still be NaN. Returns the largest error / (bound * allowance).
double check(const kernels::KernelTable& t, const Problem& p, const std::vector<std::pair<int, int>>& ranges) {
  const int64_t tl = int64_t{p.h} * p.w;
  std::vector<float> out(static_cast<size_t>(tl * p.ldo), kNaN), want(out.size(), kNaN);
  std::vector<bool> written(static_cast<size_t>(tl), false);
  const size_t scratch_floats = t.attention_relpos_scratch_floats(p.h, p.w, p.hd);
  std::vector<float> scratch(scratch_floats);
  double worst = 0;
  for (auto [r0, r1] : ranges) {
    std::fill(scratch.begin(), scratch.end(), kNaN);
    kernels::AttentionRelPosArgs a = args_for(p, out.data());
    a.r0 = r0;
    a.r1 = r1;
    a.scratch = scratch.data();
    a.scratch_floats = scratch_floats;
    t.attention_relpos(a);
    std::vector<double> bound(static_cast<size_t>(r1 - r0) * p.hd);
    kernels::AttentionRelPosArgs r = args_for(p, want.data());
    r.r0 = r0;
    r.r1 = r1;
    kernels::ref::attention_relpos(r, bound.data());
    const double tol = kAllowance;
    for (int row = r0; row < r1; ++row) {
      written[static_cast<size_t>(row)] = true;
      for (int c = 0; c < p.hd; ++c) {
        const size_t i = static_cast<size_t>(row * p.ldo + c);
        const double err = std::fabs(double(out[i]) - want[i]), b = bound[static_cast<size_t>(row - r0) * p.hd + c];
        INFO(kernels::isa_name(t.isa) << " h " << p.h << " w " << p.w << " hd " << p.hd << " rows [" << r0 << ", "
                                      << r1 << ") at " << row << "," << c << ": got " << out[i] << " want " << want[i]
                                      << " bound " << b);
        REQUIRE(err <= tol * b);
        worst = std::max(worst, err / (tol * b));
      }
    }
  }
  for (int64_t row = 0; row < tl; ++row)
    for (int64_t c = 0; c < p.ldo; ++c) {
      if (written[static_cast<size_t>(row)] && c < p.hd) continue;
      INFO(kernels::isa_name(t.isa) << " h " << p.h << " w " << p.w << " hd " << p.hd << ": wrote " << row << "," << c);
      REQUIRE(std::isnan(out[static_cast<size_t>(row * p.ldo + c)]));
    }
  return worst;
}

std::vector<kernels::KernelTable> tables() {
  std::vector<kernels::KernelTable> t;
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512})
    if (static_cast<int>(isa) <= static_cast<int>(kernels::best_isa())) t.push_back(kernels::table_for(isa));
  return t;
}

}  // namespace

TEST_CASE("fused rel-pos attention equals the reference on awkward shapes", "[attention]") {
  std::mt19937 rng(17);
  struct Grid {
    int h, w;
  };
  // Primes, 1 x 1, SAM's 14 x 14 windows and the tiny config's 6 x 6 / 16 x 16.
  const Grid grids[] = {{1, 1}, {5, 7}, {13, 11}, {14, 14}, {6, 6}, {1, 17}, {19, 2}, {16, 16}};
  const int head_dims[] = {16, 64, 80, 13};
  for (const auto& t : tables()) {
    double worst = 0;
    for (const Grid& g : grids)
      for (int hd : head_dims) {
        const Problem p = make_problem(g.h, g.w, hd, rng);
        const int tl = g.h * g.w;
        // The whole range in one call, then three uneven calls (one empty).
        worst = std::max(worst, check(t, p, {{0, tl}}));
        const int a = tl / 3 + 1 > tl ? tl : tl / 3 + 1, b = std::min(tl, a + 7);
        worst = std::max(worst, check(t, p, {{0, a}, {a, a}, {a, b}, {b, tl}}));
      }
    std::printf("attention %s: largest error %.3f of the allowance\n", kernels::isa_name(t.isa), worst);
  }
}

TEST_CASE("fused rel-pos attention equals the reference on the 64 x 64 global grid", "[attention]") {
  // SAM's global blocks (T = 4096, vit_b/vit_l head dim 64), best ISA only (the
  // reference takes ~1 s per 100 rows): query rows at the top, middle and bottom
  // of the grid; all other rows must stay untouched.
  std::mt19937 rng(23);
  const kernels::KernelTable t = kernels::table_for(kernels::best_isa());
  const Problem p = make_problem(64, 64, 64, rng);
  const double worst = check(t, p, {{0, 70}, {2011, 2093}, {4050, 4096}});
  std::printf("attention %s 64x64: largest error %.3f of the allowance\n", kernels::isa_name(t.isa), worst);
}

TEST_CASE("fused rel-pos attention reads windows in place from a token grid, with padding", "[attention]") {
  // The encoder's windowed blocks without window_partition: an 11 x 9 grid cut
  // into 5 x 4 windows (the last row / column of windows partly padding), one
  // head's q / k / v read in place (row_step = grid width), padding keys and
  // values k_pad / v_pad, outputs written in grid order. Each kernel against the
  // reference with the same layout; the reference itself against the official
  // construction: an explicitly padded window (valid tokens copied, padding
  // rows k_pad / v_pad) through the plain layout, which must give the same
  // numbers bit for bit.
  std::mt19937 rng(29);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int gh = 11, gw = 9, h = 5, w = 4;
  for (int hd : {16, 13}) {
    Problem p = make_problem(gh, gw, hd, rng);  // the grid's qkv rows; rel tables are resized below
    p.rel_h.resize(static_cast<size_t>(2 * h - 1) * hd);
    p.rel_w.resize(static_cast<size_t>(2 * w - 1) * hd);
    std::vector<float> k_pad(static_cast<size_t>(hd)), v_pad(static_cast<size_t>(hd));
    for (auto& x : k_pad) x = nd(rng);
    for (auto& x : v_pad) x = nd(rng);
    const int64_t tl = int64_t{gh} * gw;
    std::vector<float> want(static_cast<size_t>(tl * p.ldo), kNaN);
    for (const auto& t : tables()) {
      std::vector<float> out(want.size(), kNaN);
      const size_t scratch_floats = t.attention_relpos_scratch_floats(h, w, hd);
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
            a.h = h;
            a.w = w;
            a.row_step = gw;
            a.out_row_step = gw;
            a.valid_h = vh;
            a.valid_w = vw;
            a.k_pad = k_pad.data();
            a.v_pad = v_pad.data();
            return a;
          };
          std::vector<double> bound(static_cast<size_t>(nq) * hd);
          kernels::AttentionRelPosArgs r = window_args(want.data());
          r.r0 = 0;
          r.r1 = nq;
          kernels::ref::attention_relpos(r, bound.data());
          // Two calls with a split inside a window row.
          for (auto [r0, r1] : {std::pair<int, int>{0, nq / 2 + 1}, {nq / 2 + 1, nq}}) {
            kernels::AttentionRelPosArgs a = window_args(out.data());
            a.r0 = std::min(r0, nq);
            a.r1 = r1;
            a.scratch = scratch.data();
            a.scratch_floats = scratch_floats;
            t.attention_relpos(a);
          }
          for (int i = 0; i < nq; ++i) {
            const int64_t row = origin + int64_t{i / vw} * gw + i % vw;
            for (int c = 0; c < hd; ++c) {
              const size_t at = static_cast<size_t>(row * p.ldo + c);
              const double err = std::fabs(double(out[at]) - want[at]);
              INFO(kernels::isa_name(t.isa) << " hd " << hd << " window (" << oy << "," << ox << ") query " << i
                                            << " col " << c << ": got " << out[at] << " want " << want[at]);
              REQUIRE(err <= kAllowance * bound[static_cast<size_t>(i) * hd + c]);
            }
          }
          // The official construction: the padded window materialised.
          if (t.isa != kernels::Isa::Scalar) continue;
          Problem win = p;
          win.h = h;
          win.w = w;
          win.qkv.assign(static_cast<size_t>(h * w * p.ld), kNaN);
          for (int th = 0; th < h; ++th)
            for (int tw = 0; tw < w; ++tw) {
              float* dst = win.qkv.data() + (th * w + tw) * p.ld;
              const bool valid = th < vh && tw < vw;
              const float* src = p.qkv.data() + (origin + int64_t{th} * gw + tw) * p.ld;
              for (int c = 0; c < hd; ++c) {
                dst[c] = valid ? src[c] : 0.f;
                dst[hd + 1 + c] = valid ? src[hd + 1 + c] : k_pad[static_cast<size_t>(c)];
                dst[2 * (hd + 1) + c] = valid ? src[2 * (hd + 1) + c] : v_pad[static_cast<size_t>(c)];
              }
            }
          std::vector<float> padded(static_cast<size_t>(h * w * p.ldo), kNaN);
          kernels::AttentionRelPosArgs e = args_for(win, padded.data());
          e.r0 = 0;
          e.r1 = h * w;
          kernels::ref::attention_relpos(e);
          for (int i = 0; i < nq; ++i)
            for (int c = 0; c < hd; ++c) {
              const int th = i / vw, tw = i % vw;
              INFO("reference, hd " << hd << " window (" << oy << "," << ox << ") query " << i << " col " << c);
              REQUIRE(want[static_cast<size_t>((origin + int64_t{th} * gw + tw) * p.ldo + c)] ==
                      padded[static_cast<size_t>((th * w + tw) * p.ldo + c)]);
            }
        }
      for (int64_t row = 0; row < tl; ++row)  // every grid token is one window's valid query: all rows written
        for (int64_t c = 0; c < p.ldo; ++c) {
          INFO(kernels::isa_name(t.isa) << " hd " << hd << ": row " << row << " col " << c);
          REQUIRE(std::isnan(out[static_cast<size_t>(row * p.ldo + c)]) == (c >= hd));
        }
    }
  }
}
