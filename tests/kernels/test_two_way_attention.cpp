// The two-way cross-attention cores of every ISA table against the
// double-precision reference (kernels/two_way_attention.h): awkward sizes
// (primes, fewer tokens than a block, columns that are not a whole vector),
// padded row strides, ranges split and merged, NaN-poisoned outputs.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/table.h"
#include "kernels/two_way_attention.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_matrix(int64_t rows, int64_t cols, int64_t ld, std::mt19937& rng, float sd = 1.f) {
  std::normal_distribution<float> nd(0.f, sd);
  std::vector<float> m(static_cast<size_t>(rows * ld), kNaN);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m[static_cast<size_t>(r * ld + c)] = nd(rng);
  return m;
}

// Token-side factors [dq, jp]: random in the J used columns, zero past them.
std::vector<float> factors(int dq, int j, int jp, std::mt19937& rng, float sd) {
  std::vector<float> f = random_matrix(dq, j, jp, rng, sd);
  for (int c = 0; c < dq; ++c)
    for (int k = j; k < jp; ++k) f[static_cast<size_t>(c * jp + k)] = 0.f;
  return f;
}

struct Dims {
  int p, heads, t, dq, d;
};

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v)
    if (!std::isnan(x)) m = std::max(m, std::fabs(x));
  return m;
}

void check_tokens_to_image(const kernels::KernelTable& tab, Dims dm, bool with_pe, int splits, std::mt19937& rng) {
  const int J = dm.heads * dm.t, jp = tab.tw_columns(J);
  REQUIRE(jp >= J);
  const int64_t ldq = dm.dq + 3, ldx = dm.d + 5, ldy = dm.d + 2;
  // Scores of magnitude ~5: a peaked softmax, as trained attention has.
  const std::vector<float> at = factors(dm.dq, J, jp, rng, 5.f / std::sqrt(static_cast<float>(dm.dq)));
  const std::vector<float> q = random_matrix(dm.p, dm.dq, ldq, rng), pe = random_matrix(dm.p, dm.dq, ldq, rng);
  const std::vector<float> x = random_matrix(dm.p, dm.d, ldx, rng);

  kernels::TokensToImageArgs a;
  a.at = at.data();
  a.j = J;
  a.jp = jp;
  a.q = q.data();
  a.ldq = ldq;
  a.qpe = with_pe ? pe.data() : nullptr;
  a.ldqpe = ldq;
  a.dq = dm.dq;
  a.x = x.data();
  a.ldx = ldx;
  a.d = dm.d;
  a.ldy = ldy;

  std::vector<float> want(static_cast<size_t>(J * ldy), kNaN), wm(J), wl(J);
  kernels::TokensToImageArgs r = a;
  r.p0 = 0;
  r.p1 = dm.p;
  r.y = want.data();
  r.m = wm.data();
  r.l = wl.data();
  kernels::ref::tokens_to_image(r);

  // Uneven ranges, each into its own NaN-poisoned partial, merged in order.
  std::vector<float> scratch(tab.tw_scratch_floats(std::max(dm.dq, dm.d), jp) + 16, kNaN);
  std::vector<float> y(static_cast<size_t>(J * ldy), kNaN), m(J, kNaN), l(J, kNaN);
  for (int s = 0; s < splits; ++s) {
    std::vector<float> ys(static_cast<size_t>(J * ldy), kNaN), ms(J, kNaN), ls(J, kNaN);
    kernels::TokensToImageArgs c = a;
    c.p0 = int64_t{dm.p} * s * s / (splits * splits);  // quadratic split: uneven
    c.p1 = int64_t{dm.p} * (s + 1) * (s + 1) / (splits * splits);
    c.y = s == 0 ? y.data() : ys.data();
    c.m = s == 0 ? m.data() : ms.data();
    c.l = s == 0 ? l.data() : ls.data();
    c.scratch = scratch.data();
    tab.tokens_to_image(c);
    if (s > 0) kernels::tokens_to_image_merge(J, dm.d, y.data(), ldy, m.data(), l.data(), ys.data(), ldy, ms.data(), ls.data());
  }
  kernels::tokens_to_image_normalize(J, dm.d, y.data(), ldy, l.data());

  // y is a convex combination of rows of x: errors scale with max |x|; the
  // float scores (|s| ~ 5-10, dq terms) perturb the weights by ~1e-6 relative.
  const double tol = 1e-5 * (max_abs(x) + 1.0);
  for (int j = 0; j < J; ++j) {
    INFO(kernels::isa_name(tab.isa) << " P " << dm.p << " J " << J << " dq " << dm.dq << " d " << dm.d << " pe "
                                    << with_pe << " splits " << splits << " j " << j);
    REQUIRE(std::fabs(m[static_cast<size_t>(j)] - wm[static_cast<size_t>(j)]) <= 1e-5 * (1 + std::fabs(wm[static_cast<size_t>(j)])));
    for (int c = 0; c < dm.d; ++c) REQUIRE(std::fabs(y[static_cast<size_t>(j * ldy + c)] - want[static_cast<size_t>(j * ldy + c)]) <= tol);
    for (int64_t c = dm.d; c < ldy; ++c) REQUIRE(std::isnan(y[static_cast<size_t>(j * ldy + c)]));  // padding untouched
  }
}

void check_image_to_tokens(const kernels::KernelTable& tab, Dims dm, bool with_pe, bool alias, bool norm,
                           std::mt19937& rng) {
  const int J = dm.heads * dm.t, jp = tab.tw_columns(J);
  if (alias) dm.dq = dm.d;
  const int64_t ldq = dm.dq + 3, ldx = dm.d + 5;
  const std::vector<float> bt = factors(dm.dq, J, jp, rng, 4.f / std::sqrt(static_cast<float>(dm.dq)));
  std::vector<float> cb = random_matrix(1, J, jp, rng);
  for (int k = J; k < jp; ++k) cb[static_cast<size_t>(k)] = 0.f;
  const std::vector<float> u = random_matrix(J, dm.d, dm.d, rng), ob = random_matrix(1, dm.d, dm.d, rng);
  const std::vector<float> w = random_matrix(1, dm.d, dm.d, rng), b = random_matrix(1, dm.d, dm.d, rng);
  const std::vector<float> q = random_matrix(dm.p, dm.dq, ldq, rng), pe = random_matrix(dm.p, dm.dq, ldq, rng);
  const std::vector<float> x0 = random_matrix(dm.p, dm.d, ldx, rng);

  kernels::ImageToTokensArgs a;
  a.bt = bt.data();
  a.cb = cb.data();
  a.heads = dm.heads;
  a.t = dm.t;
  a.jp = jp;
  a.ldq = alias ? ldx : ldq;
  a.qpe = with_pe ? pe.data() : nullptr;
  a.ldqpe = ldq;
  a.dq = dm.dq;
  a.u = u.data();
  a.ob = ob.data();
  a.ldx = ldx;
  a.d = dm.d;
  a.p0 = 0;
  a.p1 = dm.p;
  a.ln_weight = norm ? w.data() : nullptr;
  a.ln_bias = norm ? b.data() : nullptr;
  a.ln_eps = 1e-5f;

  // The taps: softmax weights [P, J] in a padded buffer, LayerNorm statistics [P, 2].
  const int64_t ldp = J + 3;
  std::vector<float> want_p(static_cast<size_t>(dm.p * ldp), kNaN), got_p = want_p;
  std::vector<float> want_st(static_cast<size_t>(2 * dm.p), kNaN), got_st = want_st;
  a.ldprobs = ldp;

  std::vector<float> want = x0, got = x0;
  kernels::ImageToTokensArgs r = a;
  r.x = want.data();
  r.q = alias ? want.data() : q.data();
  r.probs = want_p.data();
  r.ln_stats = norm ? want_st.data() : nullptr;
  kernels::ref::image_to_tokens(r);

  std::vector<float> scratch(tab.tw_scratch_floats(std::max(dm.dq, dm.d), jp) + 16, kNaN);
  kernels::ImageToTokensArgs c = a;
  c.x = got.data();
  c.q = alias ? got.data() : q.data();
  c.scratch = scratch.data();
  c.probs = got_p.data();
  c.ln_stats = norm ? got_st.data() : nullptr;
  // Two uneven calls, as two threads would split the rows.
  c.p1 = dm.p / 3;
  tab.image_to_tokens(c);
  c.p0 = dm.p / 3;
  c.p1 = dm.p;
  tab.image_to_tokens(c);

  // Per head the softmax weights are a convex combination of rows of u.
  const double mag = max_abs(x0) + max_abs(ob) + dm.heads * max_abs(u);
  const double tol = norm ? 2e-5 * (1 + max_abs(w) * 10 + max_abs(b)) : 1e-5 * mag;
  // A weight p moves by p (1 - p) times its score's error, and a score is a
  // float sum of dq products: bounded by eps * dq * max|q + qpe| * max|bt|.
  const double smax = (max_abs(q) + (with_pe ? max_abs(pe) : 0.0) + (alias ? max_abs(x0) : 0.0)) * max_abs(bt);
  const double ptol = 0.25 * 1.2e-7 * dm.dq * smax + 1e-7;
  for (int p = 0; p < dm.p; ++p) {
    INFO(kernels::isa_name(tab.isa) << " P " << dm.p << " heads " << dm.heads << " t " << dm.t << " dq " << dm.dq
                                    << " d " << dm.d << " pe " << with_pe << " alias " << alias << " norm " << norm
                                    << " row " << p);
    for (int k = 0; k < dm.d; ++k)
      REQUIRE(std::fabs(got[static_cast<size_t>(p * ldx + k)] - want[static_cast<size_t>(p * ldx + k)]) <= tol);
    for (int64_t k = dm.d; k < ldx; ++k) REQUIRE(std::isnan(got[static_cast<size_t>(p * ldx + k)]));
    for (int k = 0; k < J; ++k)
      REQUIRE(std::fabs(got_p[static_cast<size_t>(p * ldp + k)] - want_p[static_cast<size_t>(p * ldp + k)]) <= ptol);
    for (int64_t k = J; k < ldp; ++k) REQUIRE(std::isnan(got_p[static_cast<size_t>(p * ldp + k)]));
    if (norm) {  // the mean of O(mag) values; 1/std to float rounding of the variance's sums
      REQUIRE(std::fabs(got_st[static_cast<size_t>(2 * p)] - want_st[static_cast<size_t>(2 * p)]) <= 1e-5 * mag);
      REQUIRE(std::fabs(got_st[static_cast<size_t>(2 * p + 1)] - want_st[static_cast<size_t>(2 * p + 1)]) <=
              1e-5 * std::fabs(want_st[static_cast<size_t>(2 * p + 1)]));
    } else {
      REQUIRE(std::isnan(got_st[static_cast<size_t>(2 * p)]));
    }
  }
}

}  // namespace

TEST_CASE("two-way cross-attention kernels equal the reference", "[two_way_attention]") {
  std::mt19937 rng(23);
  // P: a block, primes, fewer rows than a register tile; J = heads x T as in
  // SAM (8 x 7: one point + pad; 8 x 6: one box) and odd ones; dq / d whole
  // vectors, and not.
  const Dims dims[] = {{37, 8, 7, 256, 256}, {61, 2, 3, 32, 32}, {5, 3, 5, 13, 19},   {1, 1, 1, 16, 16},
                       {97, 8, 6, 128, 256}, {33, 4, 11, 40, 24}, {256, 8, 7, 256, 256}};
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(kernels::best_isa())) continue;
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const Dims& d : dims) {
      check_tokens_to_image(t, d, true, 1, rng);
      check_tokens_to_image(t, d, false, 3, rng);
      check_image_to_tokens(t, d, true, false, false, rng);
      check_image_to_tokens(t, d, true, true, true, rng);
      check_image_to_tokens(t, d, false, false, true, rng);
    }
  }
}
