// The fused mask upscaling (ConvT -> LayerNorm2d -> GELU -> ConvT -> GELU ->
// hypernetwork product) of every ISA table against the double-precision
// reference: SAM's channel counts and odd ones, grids that are not a multiple
// of any tile, padded strides, split row ranges, NaN-poisoned outputs. The bf16
// form (mask_upscale_bf16, through each table's gemm_bf16) against the
// reference with the same operands rounded to bf16. The factored ConvT1
// (x_scale x + fa fb^T, as the mask decoder folds it) of every ISA table.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/mask_upscale.h"
#include "kernels/table.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Dims {
  int g, d, c1, c2, m;
};

// fk > 0: ConvT1 in factored form with fk coefficients per token (D = 4*C1).
void check(const kernels::KernelTable& t, Dims dm, std::mt19937& rng, bool bf16, int fk = 0) {
  std::normal_distribution<float> nd(0.f, 1.f);
  auto fill = [&](size_t n, float sd) {
    std::vector<float> v(n);
    for (float& x : v) x = sd * nd(rng);
    return v;
  };
  const int64_t ldx = dm.d + 3, ldh = dm.c2 + 1, side = 4 * dm.g, plane = side * side + 7;
  std::vector<float> x = fill(static_cast<size_t>(dm.g) * dm.g * ldx, 1.f);
  // Weights scaled as trained layers are (unit-variance outputs).
  const std::vector<float> w1 = fill(static_cast<size_t>(4 * dm.c1) * dm.d, 1.f / std::sqrt(float(dm.d)));
  const std::vector<float> b1 = fill(static_cast<size_t>(4 * dm.c1), 0.1f);
  const std::vector<float> lw = fill(static_cast<size_t>(dm.c1), 1.f), lb = fill(static_cast<size_t>(dm.c1), 0.5f);
  const std::vector<float> w2 = fill(static_cast<size_t>(4 * dm.c2) * dm.c1, 1.f / std::sqrt(float(dm.c1)));
  const std::vector<float> b2 = fill(static_cast<size_t>(dm.c2), 0.1f);
  const std::vector<float> hyper = fill(static_cast<size_t>(dm.m) * ldh, 1.f);
  std::vector<float> packed(t.gemm_packed_b_floats(4 * dm.c1, dm.d), kNaN);
  t.gemm_pack_b_nk(w1.data(), 4 * dm.c1, dm.d, dm.d, packed.data());
  std::vector<uint16_t> packed_bf16(t.gemm_bf16_packed_b_elems(4 * dm.c1, dm.d), 0x7fc1);  // NaN
  t.gemm_bf16_pack_b_nk(w1.data(), 4 * dm.c1, dm.d, dm.d, packed_bf16.data());

  kernels::MaskUpscaleArgs a;
  a.g = dm.g;
  a.d = dm.d;
  a.c1 = dm.c1;
  a.c2 = dm.c2;
  a.x = x.data();
  a.ldx = ldx;
  a.w1_packed = packed.data();
  a.w1 = w1.data();
  a.b1 = b1.data();
  a.ln_weight = lw.data();
  a.ln_bias = lb.data();
  a.ln_eps = 1e-6f;
  a.w2 = w2.data();
  a.b2 = b2.data();
  a.hyper = hyper.data();
  a.ldh = ldh;
  a.m = dm.m;
  a.out_plane = plane;
  // Factored: unit-variance ConvT1 outputs from x_scale x + fa fb^T.
  const int64_t ldfa = fk + 2, ldfb = fk + 1;
  std::vector<float> xs, fa, fb, fb_packed;
  if (fk > 0) {  // (only then: the other cases keep their random stream)
    xs = fill(static_cast<size_t>(dm.g) * dm.g, 0.3f);
    for (float& v : xs) v = 1.f + v;
    fa = fill(static_cast<size_t>(dm.g) * dm.g * ldfa, 1.f / std::sqrt(float(fk)));
    fb = fill(static_cast<size_t>(4 * dm.c1) * ldfb, 1.f);
    fb_packed.assign(t.gemm_packed_b_floats(4 * dm.c1, fk), kNaN);
    t.gemm_pack_b_nk(fb.data(), 4 * dm.c1, fk, ldfb, fb_packed.data());
    a.x_scale = xs.data();
    a.fa = fa.data();
    a.ldfa = ldfa;
    a.fb = fb.data();
    a.ldfb = ldfb;
    a.fb_packed = fb_packed.data();
    a.fk = fk;
    a.w1_packed = a.w1 = a.b1 = nullptr;  // not read
  }
  if (bf16) {
    a.gemm_bf16 = &t;
    a.w1_packed_bf16 = packed_bf16.data();
    a.w1_packed = nullptr;
  }

  std::vector<float> want(static_cast<size_t>(dm.m) * plane, kNaN), got(want.size(), kNaN);
  kernels::MaskUpscaleArgs r = a;
  r.out = want.data();
  r.row0 = 0;
  r.row1 = dm.g;
  kernels::ref::mask_upscale(r, bf16);

  std::vector<float> scratch(bf16 ? t.mask_upscale_bf16_scratch_floats(dm.g, dm.d, dm.c1, dm.c2, dm.m, t)
                                  : t.mask_upscale_scratch_floats(dm.g, dm.d, dm.c1, dm.c2, dm.m),
                             kNaN);
  const auto run = bf16 ? t.mask_upscale_bf16 : t.mask_upscale;
  kernels::MaskUpscaleArgs c = a;
  c.out = got.data();
  c.scratch = scratch.data();
  c.row0 = 0;
  c.row1 = dm.g / 3;  // two uneven calls, as two workers split the rows
  run(c);
  c.row0 = dm.g / 3;
  c.row1 = dm.g;
  run(c);

  // Each mask value sums C2 products of O(1) activations with unit hyper
  // weights; float accumulation over D and C1 terms plus the polynomial GELU
  // (~1e-7 relative) bound the error well inside 1e-5 * (1 + |value| + C2 / 8).
  // bf16: the same, except where an activation between the ConvTs lands on
  // the other side of a bf16 rounding boundary than the double reference's
  // (one bf16 step, 2^-8 relative, through one W2 row and the hyper weights):
  // a few values per case, so each value is held to that step and the whole
  // to the f32 bound in rel L2.
  const double tol = bf16 ? 4e-3 : 1e-5;
  double num = 0, den = 0;
  for (int m = 0; m < dm.m; ++m)
    for (int64_t k = 0; k < plane; ++k) {
      const float w = want[static_cast<size_t>(m * plane + k)], v = got[static_cast<size_t>(m * plane + k)];
      INFO(kernels::isa_name(t.isa) << " g " << dm.g << " d " << dm.d << " c1 " << dm.c1 << " c2 " << dm.c2 << " m "
                                    << dm.m << " fk " << fk << " mask " << m << " at " << k);
      if (k >= side * side) {
        REQUIRE(std::isnan(v));  // plane padding untouched
        continue;
      }
      REQUIRE(std::fabs(v - w) <= tol * (1.0 + std::fabs(w) + dm.c2 / 8.0));
      num += (static_cast<double>(v) - w) * (static_cast<double>(v) - w);
      den += static_cast<double>(w) * w;
    }
  INFO(kernels::isa_name(t.isa) << (bf16 ? " bf16" : " f32") << " g " << dm.g << " d " << dm.d);
  CHECK(std::sqrt(num / den) <= 1e-5);
}

}  // namespace

TEST_CASE("fused mask upscaling equals the reference", "[mask_upscale]") {
  std::mt19937 rng(5);
  const Dims dims[] = {{5, 256, 64, 32, 3}, {3, 32, 8, 4, 4}, {7, 40, 12, 5, 1}, {1, 16, 4, 4, 2}, {13, 24, 20, 9, 3}};
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(kernels::best_isa())) continue;
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const Dims& d : dims) check(t, d, rng, false);
  }
}

TEST_CASE("fused mask upscaling in bf16 equals the reference on bf16 operands", "[mask_upscale][bf16]") {
  std::mt19937 rng(6);
  const Dims dims[] = {{5, 256, 64, 32, 3}, {3, 32, 8, 4, 4}, {7, 40, 12, 5, 1}, {1, 16, 4, 4, 2}, {13, 24, 20, 9, 3}};
  // Every named tier (with the gemm_bf16 variant it allows) and this CPU's own table.
  std::vector<kernels::KernelTable> tables;
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512})
    if (static_cast<int>(isa) <= static_cast<int>(kernels::best_isa())) tables.push_back(kernels::table_for(isa));
  tables.push_back(kernels::table());
  for (const kernels::KernelTable& t : tables) {
    std::string gemm;
    for (const auto& [family, variant] : kernels::selected_variants(t))
      if (family == "gemm_bf16") gemm = variant;
    INFO("gemm_bf16 " << gemm);
    for (const Dims& d : dims) check(t, d, rng, true);
  }
}

TEST_CASE("fused mask upscaling with a factored ConvT1 equals the reference", "[mask_upscale]") {
  std::mt19937 rng(7);
  struct Case {
    Dims d;
    int fk;
  };
  // SAM's dims with one point's 2 x 56 + 5 coefficients (+16 with a mask input), odd sizes.
  const Case cases[] = {{{5, 256, 64, 32, 3}, 117}, {{4, 256, 64, 32, 1}, 133}, {{3, 32, 8, 4, 4}, 13},
                        {{7, 44, 11, 5, 1}, 1},     {{13, 20, 5, 9, 3}, 31}};
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(kernels::best_isa())) continue;
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const Case& c : cases) check(t, c.d, rng, false, c.fk);
  }
}
