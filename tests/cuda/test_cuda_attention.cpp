// The CUDA attention kernels against the double-precision references:
//   * fused rel-pos attention (kernels/cuda/attention.h) against
//     kernels::ref::attention_relpos per (window, head), q/k/v read in place
//     from a qkv-like buffer with NaN padding, every window and head in one launch;
//   * the two-way cross-attention cores (kernels/cuda/two_way_attention.h)
//     against kernels::ref::tokens_to_image / image_to_tokens.
// Awkward grids and head dims, tiles cut mid-row, NaN-poisoned outputs whose
// padding must stay NaN. Without a CUDA device each test passes with a warning.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <utility>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/attention.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/two_way_attention.h"
#include "kernels/two_way_attention.h"

using cuda_test::Dev;
using cuda_test::kNaN;

namespace {

// Rounding allowance relative to the reference's bound (kernels/attention.h:
// (sqrt(hd + 3) A + sqrt(T)) sum_u p_u |v_u|). The CPU kernels get 8 u; the
// device sums in another order and its expf is within 2 ulp: 16 u.
constexpr double kAllowance = 16.0 / (1 << 24);

struct AttnCase {
  int h, w, hd, windows, heads;
};

// Runs every (window, head) of `c` on the device and checks the query rows in
// `rows` (all when empty) of each against the reference; every other element
// of the padded output must stay NaN. Returns the largest error / allowance.
double check_attention(const AttnCase& c, const std::vector<std::pair<int, int>>& rows, std::mt19937& rng) {
  const int t_len = c.h * c.w, C = c.heads * c.hd;
  const int64_t ld = 3 * int64_t{C} + 5, ldo = C + 3;
  const int64_t tokens = int64_t{c.windows} * t_len;
  std::vector<float> qkv = cuda_test::random_matrix(tokens, 3 * C, ld, rng);
  const std::vector<float> rel_h = cuda_test::random_matrix(2 * c.h - 1, c.hd, c.hd, rng, 0.3f);
  const std::vector<float> rel_w = cuda_test::random_matrix(2 * c.w - 1, c.hd, c.hd, rng, 0.3f);
  const float scale = 1.f / std::sqrt(static_cast<float>(c.hd));

  Dev<float> dqkv(qkv), drh(rel_h), drw(rel_w), dout(std::vector<float>(static_cast<size_t>(tokens * ldo), kNaN));
  kernels::cuda::AttentionRelPosArgs a;
  a.q = dqkv.get();
  a.k = dqkv.get() + C;
  a.v = dqkv.get() + 2 * C;
  a.ldq = a.ldk = a.ldv = ld;
  a.q_window_stride = a.k_window_stride = a.v_window_stride = t_len * ld;
  a.q_head_stride = a.k_head_stride = a.v_head_stride = c.hd;
  a.windows = c.windows;
  a.heads = c.heads;
  a.h = c.h;
  a.w = c.w;
  a.hd = c.hd;
  a.scale = scale;
  a.rel_pos_h = drh.get();
  a.rel_pos_w = drw.get();
  a.out = dout.get();
  a.ldo = ldo;
  a.out_window_stride = t_len * ldo;
  a.out_head_stride = c.hd;
  engine::cuda::Stream s;
  kernels::cuda::attention_relpos(a, s.get());
  s.synchronize();
  const std::vector<float> got = dout.back();

  std::vector<std::pair<int, int>> ranges = rows;
  if (ranges.empty()) ranges.push_back({0, t_len});
  std::vector<float> want(got.size(), kNaN);
  double worst = 0;
  for (int n = 0; n < c.windows; ++n)
    for (int i = 0; i < c.heads; ++i)
      for (auto [r0, r1] : ranges) {
        kernels::AttentionRelPosArgs r;
        const float* base = qkv.data() + n * t_len * ld + i * c.hd;
        r.q = base;
        r.k = base + C;
        r.v = base + 2 * C;
        r.ldq = r.ldk = r.ldv = ld;
        r.h = c.h;
        r.w = c.w;
        r.hd = c.hd;
        r.scale = scale;
        r.rel_pos_h = rel_h.data();
        r.rel_pos_w = rel_w.data();
        r.out = want.data() + n * t_len * ldo + i * c.hd;
        r.ldo = ldo;
        r.r0 = r0;
        r.r1 = r1;
        std::vector<double> bound(static_cast<size_t>(r1 - r0) * c.hd);
        kernels::ref::attention_relpos(r, bound.data());
        for (int t = r0; t < r1; ++t)
          for (int d = 0; d < c.hd; ++d) {
            const size_t at = static_cast<size_t>((int64_t{n} * t_len + t) * ldo + i * c.hd + d);
            const double err = std::fabs(double(got[at]) - want[at]);
            const double b = bound[static_cast<size_t>(t - r0) * c.hd + d] * kAllowance;
            INFO("grid " << c.h << "x" << c.w << " hd " << c.hd << " window " << n << " head " << i << " query " << t
                         << " col " << d << ": got " << got[at] << " want " << want[at] << " bound " << b);
            REQUIRE(err <= b);
            worst = std::max(worst, err / b);
          }
      }
  // Padding columns past the heads, and (all rows computed) nothing else NaN.
  for (int64_t row = 0; row < tokens; ++row)
    for (int64_t col = C; col < ldo; ++col) {
      INFO("grid " << c.h << "x" << c.w << " hd " << c.hd << ": wrote padding at " << row << "," << col);
      REQUIRE(std::isnan(got[static_cast<size_t>(row * ldo + col)]));
    }
  for (int64_t row = 0; row < tokens; ++row)
    for (int64_t col = 0; col < C; ++col) {
      INFO("grid " << c.h << "x" << c.w << " hd " << c.hd << ": no output at " << row << "," << col);
      REQUIRE(std::isfinite(got[static_cast<size_t>(row * ldo + col)]));
    }
  return worst;
}

}  // namespace

TEST_CASE("CUDA fused rel-pos attention equals the reference on awkward shapes", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  std::mt19937 rng(17);
  // 1 x 1, primes, SAM's 14 x 14 windows (vit_b / vit_h head dims 64 / 80), the
  // tiny config's 6 x 6, grids of one row or column, head dims below / between
  // the 64 and 128 tiles, several windows and heads per launch.
  const AttnCase cases[] = {{1, 1, 16, 1, 1},  {5, 7, 64, 2, 3},  {13, 11, 80, 1, 2}, {14, 14, 64, 3, 2},
                            {14, 14, 80, 2, 2}, {6, 6, 16, 4, 4},  {1, 17, 13, 1, 1}, {19, 2, 128, 1, 1},
                            {16, 16, 100, 1, 1}, {9, 9, 1, 1, 2},  {8, 8, 64, 1, 1},  {11, 13, 33, 2, 1}};
  double worst = 0;
  for (const AttnCase& c : cases) worst = std::max(worst, check_attention(c, {}, rng));
  std::printf("cuda attention: largest error %.3f of the allowance\n", worst);
}

TEST_CASE("CUDA fused rel-pos attention equals the reference on the 64 x 64 global grid", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  // SAM's global blocks (T = 4096, head dims 64 and 80); the reference is slow,
  // so rows at the top, middle and bottom of the grid are compared, all rows must be finite.
  std::mt19937 rng(23);
  double worst = 0;
  for (int hd : {64, 80})
    worst = std::max(worst, check_attention({64, 64, hd, 1, 2}, {{0, 70}, {2011, 2093}, {4050, 4096}}, rng));
  std::printf("cuda attention 64x64: largest error %.3f of the allowance\n", worst);
}

TEST_CASE("CUDA attention kernels refuse bad sizes before touching the device", "[cuda]") {
  // Argument checks run on the host first: this test needs no GPU.
  kernels::cuda::AttentionRelPosArgs a;  // null pointers, zero sizes
  REQUIRE_THROWS_AS(kernels::cuda::attention_relpos(a, nullptr), std::invalid_argument);
  a.h = a.w = 4;
  a.hd = kernels::cuda::attention_relpos_max_head_dim() + 1;
  REQUIRE_THROWS_WITH(kernels::cuda::attention_relpos(a, nullptr), Catch::Contains("cuda attention_relpos: grid 4 x 4"));
  kernels::cuda::TokensToImageArgs t;
  t.j = 3;
  t.jp = 2;  // narrower than J
  REQUIRE_THROWS_WITH(kernels::cuda::tokens_to_image(t, nullptr), Catch::Contains("cuda tokens_to_image: J 3 jp 2"));
  kernels::cuda::ImageToTokensArgs i;
  REQUIRE_THROWS_WITH(kernels::cuda::image_to_tokens(i, nullptr), Catch::Contains("cuda image_to_tokens: heads 0"));
  REQUIRE(kernels::cuda::tokens_to_image_workspace_floats(56, 256, 4096) == size_t{64} * 56 * 258);
  // 64 x 64 grid, head dim 64: within an A100's 163 KB (and an H100's 227 KB).
  REQUIRE(kernels::cuda::attention_relpos_smem_bytes(64, 64, 64) <= 163 * 1024);
  REQUIRE(kernels::cuda::attention_relpos_smem_bytes(64, 64, 128) <= 163 * 1024);
}

namespace {

struct TwDims {
  int p, heads, t, dq, d;
};

// Token-side factors [dq, jp]: random in the J used columns, zero past them.
std::vector<float> factors(int dq, int j, int jp, std::mt19937& rng, float sd) {
  std::vector<float> f = cuda_test::random_matrix(dq, j, jp, rng, sd);
  for (int c = 0; c < dq; ++c)
    for (int k = j; k < jp; ++k) f[static_cast<size_t>(c * jp + k)] = 0.f;
  return f;
}

void check_tokens_to_image(TwDims dm, bool with_pe, std::mt19937& rng) {
  const int J = dm.heads * dm.t, jp = J + 3;
  const int64_t ldq = dm.dq + 3, ldx = dm.d + 5, ldy = dm.d + 2;
  const std::vector<float> at = factors(dm.dq, J, jp, rng, 5.f / std::sqrt(static_cast<float>(dm.dq)));
  const std::vector<float> q = cuda_test::random_matrix(dm.p, dm.dq, ldq, rng);
  const std::vector<float> pe = cuda_test::random_matrix(dm.p, dm.dq, ldq, rng);
  const std::vector<float> x = cuda_test::random_matrix(dm.p, dm.d, ldx, rng);

  std::vector<float> want(static_cast<size_t>(J * ldy), kNaN), wm(J), wl(J);
  kernels::TokensToImageArgs r;
  r.at = at.data();
  r.j = J;
  r.jp = jp;
  r.q = q.data();
  r.ldq = ldq;
  r.qpe = with_pe ? pe.data() : nullptr;
  r.ldqpe = ldq;
  r.dq = dm.dq;
  r.x = x.data();
  r.ldx = ldx;
  r.d = dm.d;
  r.p0 = 0;
  r.p1 = dm.p;
  r.y = want.data();
  r.ldy = ldy;
  r.m = wm.data();
  r.l = wl.data();
  kernels::ref::tokens_to_image(r);

  const size_t ws = kernels::cuda::tokens_to_image_workspace_floats(J, dm.d, dm.p);
  Dev<float> dat(at), dq(q), dpe(pe), dx(x), dy(std::vector<float>(want.size(), kNaN)),
      dm_(std::vector<float>(J, kNaN)), dl(std::vector<float>(J, kNaN)), dws(std::vector<float>(ws, kNaN));
  kernels::cuda::TokensToImageArgs a;
  a.at = dat.get();
  a.j = J;
  a.jp = jp;
  a.q = dq.get();
  a.ldq = ldq;
  a.qpe = with_pe ? dpe.get() : nullptr;
  a.ldqpe = ldq;
  a.dq = dm.dq;
  a.x = dx.get();
  a.ldx = ldx;
  a.d = dm.d;
  a.p = dm.p;
  a.y = dy.get();
  a.ldy = ldy;
  a.m = dm_.get();
  a.l = dl.get();
  a.workspace = dws.get();
  a.workspace_floats = ws;
  engine::cuda::Stream s;
  kernels::cuda::tokens_to_image(a, s.get());
  s.synchronize();
  const std::vector<float> y = dy.back(), m = dm_.back(), l = dl.back();

  // As the CPU kernels' test: y is a convex combination of rows of x.
  const double tol = 1e-5 * (cuda_test::max_abs(x) + 1.0);
  for (int j = 0; j < J; ++j) {
    INFO("tokens_to_image P " << dm.p << " J " << J << " dq " << dm.dq << " d " << dm.d << " pe " << with_pe << " j "
                              << j);
    REQUIRE(std::fabs(m[size_t(j)] - wm[size_t(j)]) <= 1e-5 * (1 + std::fabs(wm[size_t(j)])));
    REQUIRE(std::fabs(l[size_t(j)] - wl[size_t(j)]) <= 1e-4 * wl[size_t(j)]);
    for (int c = 0; c < dm.d; ++c)
      REQUIRE(std::fabs(y[size_t(j * ldy + c)] - want[size_t(j * ldy + c)]) <= tol);
    for (int64_t c = dm.d; c < ldy; ++c) REQUIRE(std::isnan(y[size_t(j * ldy + c)]));
  }
}

void check_image_to_tokens(TwDims dm, bool with_pe, bool alias, bool norm, std::mt19937& rng) {
  const int J = dm.heads * dm.t, jp = J + 1;
  if (alias) dm.dq = dm.d;
  const int64_t ldq = dm.dq + 3, ldx = dm.d + 5;
  const std::vector<float> bt = factors(dm.dq, J, jp, rng, 4.f / std::sqrt(static_cast<float>(dm.dq)));
  const std::vector<float> cb = cuda_test::random_matrix(1, J, J, rng);
  const std::vector<float> u = cuda_test::random_matrix(J, dm.d, dm.d, rng);
  const std::vector<float> ob = cuda_test::random_matrix(1, dm.d, dm.d, rng);
  const std::vector<float> w = cuda_test::random_matrix(1, dm.d, dm.d, rng);
  const std::vector<float> b = cuda_test::random_matrix(1, dm.d, dm.d, rng);
  const std::vector<float> q = cuda_test::random_matrix(dm.p, dm.dq, ldq, rng);
  const std::vector<float> pe = cuda_test::random_matrix(dm.p, dm.dq, ldq, rng);
  const std::vector<float> x0 = cuda_test::random_matrix(dm.p, dm.d, ldx, rng);

  std::vector<float> want = x0;
  kernels::ImageToTokensArgs r;
  r.bt = bt.data();
  r.cb = cb.data();
  r.heads = dm.heads;
  r.t = dm.t;
  r.jp = jp;
  r.q = alias ? want.data() : q.data();
  r.ldq = alias ? ldx : ldq;
  r.qpe = with_pe ? pe.data() : nullptr;
  r.ldqpe = ldq;
  r.dq = dm.dq;
  r.u = u.data();
  r.ob = ob.data();
  r.x = want.data();
  r.ldx = ldx;
  r.d = dm.d;
  r.p0 = 0;
  r.p1 = dm.p;
  r.ln_weight = norm ? w.data() : nullptr;
  r.ln_bias = norm ? b.data() : nullptr;
  r.ln_eps = 1e-5f;
  kernels::ref::image_to_tokens(r);

  Dev<float> dbt(bt), dcb(cb), du(u), dob(ob), dw(w), db(b), dq(q), dpe(pe), dx(x0);
  kernels::cuda::ImageToTokensArgs a;
  a.bt = dbt.get();
  a.cb = dcb.get();
  a.heads = dm.heads;
  a.t = dm.t;
  a.jp = jp;
  a.q = alias ? dx.get() : dq.get();
  a.ldq = alias ? ldx : ldq;
  a.qpe = with_pe ? dpe.get() : nullptr;
  a.ldqpe = ldq;
  a.dq = dm.dq;
  a.u = du.get();
  a.ob = dob.get();
  a.x = dx.get();
  a.ldx = ldx;
  a.d = dm.d;
  a.p = dm.p;
  a.ln_weight = norm ? dw.get() : nullptr;
  a.ln_bias = norm ? db.get() : nullptr;
  a.ln_eps = 1e-5f;
  engine::cuda::Stream s;
  kernels::cuda::image_to_tokens(a, s.get());
  s.synchronize();
  const std::vector<float> got = dx.back();

  const double mag = cuda_test::max_abs(x0) + cuda_test::max_abs(ob) + dm.heads * cuda_test::max_abs(u);
  const double tol = norm ? 2e-5 * (1 + cuda_test::max_abs(w) * 10 + cuda_test::max_abs(b)) : 1e-5 * mag;
  for (int p = 0; p < dm.p; ++p) {
    INFO("image_to_tokens P " << dm.p << " heads " << dm.heads << " t " << dm.t << " dq " << dm.dq << " d " << dm.d
                              << " pe " << with_pe << " alias " << alias << " norm " << norm << " row " << p);
    for (int k = 0; k < dm.d; ++k)
      REQUIRE(std::fabs(got[size_t(p * ldx + k)] - want[size_t(p * ldx + k)]) <= tol);
    for (int64_t k = dm.d; k < ldx; ++k) REQUIRE(std::isnan(got[size_t(p * ldx + k)]));
  }
}

}  // namespace

TEST_CASE("CUDA two-way cross-attention kernels equal the reference", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  std::mt19937 rng(29);
  // SAM's P = 64 x 64 with one point (8 heads x 7 tokens) and one box (8 x 6),
  // P below / across the 64- and 32-token blocks, primes, J across several
  // 64-column groups (many points: 8 x 70), Dq / D below a slice and odd.
  const TwDims dims[] = {{4096, 8, 7, 256, 256}, {4096, 8, 6, 128, 256}, {37, 8, 7, 256, 256}, {61, 2, 3, 32, 32},
                         {5, 3, 5, 13, 19},      {1, 1, 1, 16, 16},      {97, 8, 6, 128, 256}, {33, 4, 11, 40, 24},
                         {300, 8, 70, 64, 64},   {129, 3, 1, 7, 65}};
  for (const TwDims& d : dims) {
    check_tokens_to_image(d, true, rng);
    check_tokens_to_image(d, false, rng);
    check_image_to_tokens(d, true, false, false, rng);
    check_image_to_tokens(d, true, true, true, rng);
    check_image_to_tokens(d, false, false, true, rng);
  }
}
