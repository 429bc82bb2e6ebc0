// SIMD GELU / add / softmax / LayerNorm against the scalar references
// (kernels/ref), for every ISA this CPU has, on awkward sizes.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/eltwise.h"
#include "kernels/norm.h"
#include "kernels/table.h"

namespace {

std::vector<kernels::KernelTable> tables() {
  std::vector<kernels::KernelTable> t;
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512})
    if (static_cast<int>(isa) <= static_cast<int>(kernels::best_isa())) t.push_back(kernels::table_for(isa));
  return t;
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const int64_t kSizes[] = {0, 1, 7, 15, 16, 17, 31, 33, 64, 97, 256, 1021};

}  // namespace

TEST_CASE("SIMD GELU matches erf-based GELU", "[eltwise]") {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 2.f);
  for (const auto& t : tables()) {
    INFO("isa " << kernels::isa_name(t.isa));
    for (int64_t n : kSizes) {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = nd(rng);
      if (n > 6) {  // edge values
        x[0] = 0.f;
        x[1] = -0.f;
        x[2] = 12.f;
        x[3] = -12.f;
        x[4] = 1.f;
        x[5] = -0.99999994f;
      }
      std::vector<float> want = x, got = x;
      kernels::ref::gelu(want.data(), n);
      t.gelu(got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        INFO("x " << x[static_cast<size_t>(i)]);
        // erf is approximated to 9e-8 absolute: GELU = x/2 (1 + erf) to 1e-7 |x|.
        REQUIRE(std::fabs(got[static_cast<size_t>(i)] - want[static_cast<size_t>(i)]) <=
                2e-7f * std::max(1.f, std::fabs(x[static_cast<size_t>(i)])) + 1e-7f);
      }
    }
  }
}

TEST_CASE("SIMD GELU on a dense sweep and at the erf pieces' edges, against double precision", "[eltwise]") {
  // Every 1/4096 over [-9, 9], plus the edges of the erf pieces (x sqrt 2 = 0..8) and their
  // neighbours, NaN-poisoned copies in between so a lane that is not written fails.
  std::vector<float> x;
  for (int i = -9 * 4096; i <= 9 * 4096; ++i) x.push_back(static_cast<float>(i) / 4096.f);
  for (int k = 0; k <= 8; ++k)
    for (float sign : {1.f, -1.f}) {
      const float edge = sign * static_cast<float>(k / std::sqrt(2.0));
      x.push_back(std::nextafter(edge, -INFINITY));
      x.push_back(edge);
      x.push_back(std::nextafter(edge, INFINITY));
    }
  x.push_back(1e-30f);
  x.push_back(-1e-30f);
  x.push_back(std::numeric_limits<float>::denorm_min());
  for (const auto& t : tables()) {
    INFO("isa " << kernels::isa_name(t.isa));
    std::vector<float> got = x;
    t.gelu(got.data(), static_cast<int64_t>(got.size()));
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double xd = x[i];
      const double want = 0.5 * xd * (1.0 + std::erf(xd / std::sqrt(2.0)));
      INFO("x " << x[i] << " got " << got[i] << " want " << want);
      // erf to 9e-8 absolute (scripts/fit_erf.py) gives x/2 * 9e-8; the final rounding adds
      // half an ulp of |GELU(x)| <= |x| (6e-8 |x|): 1.1e-7 |x| in all; x/2 of a subnormal x
      // rounds to the subnormal grid.
      REQUIRE(std::fabs(got[i] - want) <=
              1.1e-7 * std::fabs(xd) + std::numeric_limits<float>::denorm_min());
      if (std::fabs(xd) > 1e-20) worst = std::max(worst, std::fabs(got[i] - want) / std::fabs(xd));
    }
    WARN("worst |error| / |x|: " << worst);
  }
  std::vector<float> special = {INFINITY, -INFINITY, kNaN, 0.f, -0.f};
  for (const auto& t : tables()) {
    std::vector<float> got = special;
    t.gelu(got.data(), static_cast<int64_t>(got.size()));
    CHECK(got[0] == INFINITY);
    CHECK(std::isnan(got[1]));  // -inf * (1 + erf(-inf)) = -inf * 0, as torch
    CHECK(std::isnan(got[2]));
    CHECK(got[3] == 0.f);
    CHECK(got[4] == 0.f);
  }
}

TEST_CASE("SIMD add equals the scalar add", "[eltwise]") {
  for (const auto& t : tables())
    for (int64_t n : kSizes) {
      std::vector<float> y(static_cast<size_t>(n)), x(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        y[static_cast<size_t>(i)] = 0.25f * static_cast<float>(i) - 3.f;
        x[static_cast<size_t>(i)] = 1.f / static_cast<float>(i + 1);
      }
      std::vector<float> want = y;
      kernels::ref::add(want.data(), x.data(), n);
      t.add(y.data(), x.data(), n);
      CHECK(y == want);
    }
}

TEST_CASE("SIMD softmax matches the scalar softmax", "[eltwise]") {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.f, 4.f);
  for (const auto& t : tables()) {
    INFO("isa " << kernels::isa_name(t.isa));
    for (int64_t cols : kSizes) {
      if (cols == 0) continue;
      const int64_t rows = 5, ld = cols + 3;  // padded rows: the padding must stay untouched
      std::vector<float> x(static_cast<size_t>(rows * ld), kNaN);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) x[static_cast<size_t>(r * ld + c)] = nd(rng) + (r == 3 ? 80.f : 0.f);
      if (cols > 2) {
        x[static_cast<size_t>(ld + 1)] = -INFINITY;  // masked entry
        x[static_cast<size_t>(2 * ld)] = 1e4f;       // one dominant logit
      }
      std::vector<float> want = x, got = x;
      kernels::ref::softmax_rows(want.data(), rows, cols, ld);
      t.softmax_rows(got.data(), rows, cols, ld);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const float w = want[static_cast<size_t>(r * ld + c)], g = got[static_cast<size_t>(r * ld + c)];
          INFO("row " << r << " col " << c << " of " << cols);
          REQUIRE(std::fabs(g - w) <= 2e-6f * w + 1e-12f);
        }
        for (int64_t c = cols; c < ld; ++c) REQUIRE(std::isnan(got[static_cast<size_t>(r * ld + c)]));
      }
    }
  }
}

TEST_CASE("SIMD LayerNorm matches the scalar LayerNorm", "[eltwise]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (const auto& t : tables()) {
    INFO("isa " << kernels::isa_name(t.isa));
    for (int64_t cols : kSizes) {
      if (cols == 0) continue;
      const int64_t rows = 7;
      std::vector<float> x(static_cast<size_t>(rows * cols)), w(static_cast<size_t>(cols)), b(w.size());
      for (auto& v : x) v = 3.f + 2.f * nd(rng);  // an offset mean tests the centred variance
      for (auto& v : w) v = 1.f + 0.1f * nd(rng);
      for (auto& v : b) v = 0.1f * nd(rng);
      std::vector<float> want(x.size(), kNaN), got(x.size(), kNaN);
      kernels::LayerNormArgs a;
      a.x = x.data();
      a.ldx = cols;
      a.weight = w.data();
      a.bias = b.data();
      a.rows = rows;
      a.cols = cols;
      a.eps = 1e-6f;
      a.y = want.data();
      a.ldy = cols;
      kernels::ref::layer_norm(a);
      a.y = got.data();
      t.layer_norm(a);
      for (size_t i = 0; i < x.size(); ++i) REQUIRE(std::fabs(got[i] - want[i]) <= 2e-5f * (1.f + std::fabs(want[i])));
      // in place
      std::vector<float> inplace = x;
      a.x = inplace.data();
      a.y = inplace.data();
      t.layer_norm(a);
      for (size_t i = 0; i < x.size(); ++i) REQUIRE(inplace[i] == got[i]);
    }
  }
}

// ---------------------------------------------------------------------------
// CPU features and the choice of kernel variants (kernels/table.h, docs/kernels.md).
// ---------------------------------------------------------------------------
namespace {

using kernels::Feature;
using kernels::FeatureSet;

std::vector<std::string> names_of(const kernels::KernelTable& t) {
  std::vector<std::string> out;
  for (const auto& [family, variant] : kernels::selected_variants(t)) out.push_back(variant);
  return out;
}

// Every slot of the table is filled.
void check_all_slots(const kernels::KernelTable& t) {
  INFO("isa " << kernels::isa_name(t.isa) << " features " << t.features.str());
  CHECK(t.convert_f32_to_f16);
  CHECK(t.convert_f16_to_f32);
  CHECK(t.convert_f32_to_bf16);
  CHECK(t.convert_bf16_to_f32);
  CHECK(t.gelu);
  CHECK(t.add);
  CHECK(t.softmax_rows);
  CHECK(t.layer_norm);
  CHECK(t.find_nonfinite);
  CHECK(t.gemm_mr);
  CHECK(t.gemm_nr);
  CHECK(t.gemm_packed_b_floats);
  CHECK(t.gemm_pack_b_nk);
  CHECK(t.gemm_jobs);
  CHECK(t.gemm_run);
  CHECK(t.gemm_bf16_packed_b_elems);
  CHECK(t.gemm_bf16_pack_b_nk);
  CHECK(t.gemm_bf16_pack_b_nk_bf16);
  CHECK(t.gemm_bf16_jobs);
  CHECK(t.gemm_bf16_run);
  CHECK(t.tw_columns);
  CHECK(t.tw_scratch_floats);
  CHECK(t.tokens_to_image);
  CHECK(t.image_to_tokens);
  CHECK(t.mask_upscale_scratch_floats);
  CHECK(t.mask_upscale);
  CHECK(t.attention_relpos_scratch_floats);
  CHECK(t.attention_relpos);
  CHECK(t.attention_bf16_scratch_floats);
  CHECK(t.attention_bf16);
  CHECK(t.resample_row);
  CHECK(t.blend_rows);
  CHECK(t.blend_rows_threshold);
  CHECK(t.depthwise_conv2d);
  CHECK(t.conv2d);
  CHECK(t.bias_attention);
}

// Same function in every slot (two tables of the same variants).
void check_same_slots(const kernels::KernelTable& a, const kernels::KernelTable& b) {
  CHECK(a.convert_f32_to_f16 == b.convert_f32_to_f16);
  CHECK(a.convert_bf16_to_f32 == b.convert_bf16_to_f32);
  CHECK(a.gelu == b.gelu);
  CHECK(a.layer_norm == b.layer_norm);
  CHECK(a.gemm_run == b.gemm_run);
  CHECK(a.gemm_pack_b_nk == b.gemm_pack_b_nk);
  CHECK(a.gemm_bf16_run == b.gemm_bf16_run);
  CHECK(a.gemm_bf16_pack_b_nk_bf16 == b.gemm_bf16_pack_b_nk_bf16);
  CHECK(a.tokens_to_image == b.tokens_to_image);
  CHECK(a.mask_upscale == b.mask_upscale);
  CHECK(a.attention_relpos == b.attention_relpos);
  CHECK(a.attention_bf16 == b.attention_bf16);
  CHECK(a.blend_rows_threshold == b.blend_rows_threshold);
}

template <class F>
void check_variant_list() {
  INFO("family " << F::family);
  const kernels::VariantList<F> v = F::variants();
  REQUIRE(!v.empty());
  CHECK(v.back().needs.empty());  // something runs everywhere
  std::set<std::string> names;
  for (const auto& x : v) {
    CHECK(x.slots != nullptr);
    CHECK(names.insert(x.name).second);
  }
}

}  // namespace

TEST_CASE("feature sets: bits, tiers and names", "[dispatch]") {
  CHECK(FeatureSet{}.empty());
  CHECK(FeatureSet{}.str() == "none");
  CHECK(kernels::tier::avx2.str() == "avx2 fma f16c");
  CHECK(kernels::tier::avx512.str() == "avx2 fma f16c avx512f avx512bw avx512vl avx512dq");
  CHECK(kernels::tier::avx512.contains(kernels::tier::avx2));
  CHECK(kernels::tier::avx2.contains(kernels::tier::scalar));
  CHECK(!kernels::tier::avx2.contains(kernels::tier::avx512));
  const FeatureSet amx{Feature::amx_tile, Feature::amx_bf16, Feature::amx_int8};
  CHECK(amx.str() == "amx_tile amx_bf16 amx_int8");
  CHECK((amx | kernels::tier::avx2).contains(amx));
  CHECK((amx & kernels::tier::avx512).empty());
  CHECK(kernels::tier::avx512.without(Feature::avx512dq).has(Feature::avx512f));
  CHECK(!kernels::tier::avx512.without(Feature::avx512dq).contains(kernels::tier::avx512));
  CHECK(FeatureSet{}.with(Feature::avx512_fp16).has(Feature::avx512_fp16));
  CHECK(FeatureSet::from_bits(0xFFFFFFFFu).bits() == (1u << kernels::kFeatureCount) - 1);
  for (int i = 0; i < kernels::kFeatureCount; ++i) {
    const auto f = static_cast<Feature>(i);
    CHECK(FeatureSet{f}.str() == kernels::feature_name(f));
  }
  CHECK(kernels::isa_features(kernels::Isa::Scalar) == kernels::tier::scalar);
  CHECK(kernels::isa_features(kernels::Isa::Avx2) == kernels::tier::avx2);
  CHECK(kernels::isa_features(kernels::Isa::Avx512) == kernels::tier::avx512);
}

TEST_CASE("the detected CPU features agree with their feature set", "[dispatch]") {
  const kernels::CpuFeatures& c = kernels::cpu_features();
  const FeatureSet s = c.set();
  INFO("cpu " << s.str());
  CHECK(s == kernels::cpu_feature_set());
  CHECK(c.str() == s.str());
  CHECK(s.has(Feature::avx2) == c.avx2);
  CHECK(s.has(Feature::fma) == c.fma);
  CHECK(s.has(Feature::f16c) == c.f16c);
  CHECK(s.has(Feature::avx512f) == c.avx512f);
  CHECK(s.has(Feature::avx512bw) == c.avx512bw);
  CHECK(s.has(Feature::avx512vl) == c.avx512vl);
  CHECK(s.has(Feature::avx512dq) == c.avx512dq);
  CHECK(s.has(Feature::avx512_vnni) == c.avx512_vnni);
  CHECK(s.has(Feature::avx512_bf16) == c.avx512_bf16);
  CHECK(s.has(Feature::avx512_fp16) == c.avx512_fp16);
  CHECK(s.has(Feature::amx_tile) == c.amx_tile);
  CHECK(s.has(Feature::amx_bf16) == c.amx_bf16);
  CHECK(s.has(Feature::amx_int8) == c.amx_int8);
  CHECK(c.has_avx2_fma() == s.contains(kernels::tier::avx2));
  CHECK((c.has_avx512() && c.has_avx2_fma()) == s.contains(kernels::tier::avx512));
  // Asking for AMX tiles never throws and is asked once: the same answer again.
  bool granted = false;
  CHECK_NOTHROW(granted = kernels::request_amx_permission());
  CHECK(kernels::request_amx_permission() == granted);
  if (!c.amx_tile) CHECK(!granted);
}

TEST_CASE("every kernel family lists its variants, the last one needing nothing", "[dispatch]") {
  check_variant_list<kernels::ConvertKernels>();
  check_variant_list<kernels::EltwiseKernels>();
  check_variant_list<kernels::GemmKernels>();
  check_variant_list<kernels::TwoWayAttentionKernels>();
  check_variant_list<kernels::MaskUpscaleKernels>();
  check_variant_list<kernels::AttentionKernels>();
  check_variant_list<kernels::ResampleKernels>();
  check_variant_list<kernels::GemmBf16Kernels>();
  check_variant_list<kernels::AttentionBf16Kernels>();
  check_variant_list<kernels::ConvKernels>();
  check_variant_list<kernels::BiasAttentionKernels>();
  const std::vector<std::string> families(kernels::KernelTable::family_names.begin(),
                                          kernels::KernelTable::family_names.end());
  CHECK(families == std::vector<std::string>{"convert", "eltwise", "gemm", "two_way_attention", "mask_upscale",
                                             "attention", "resample", "gemm_bf16", "attention_bf16", "conv",
                                             "bias_attention"});
}

TEST_CASE("a capped feature set selects the expected variant of every kernel", "[dispatch]") {
  const FeatureSet cpu = kernels::cpu_feature_set();
  // gemm_bf16 and attention_bf16 (the last two) have no avx2 / avx512 variant: their SIMD ones
  // need avx512_bf16 or AMX beyond the tiers.
  const std::vector<std::string> scalar_names = {"ref",    "ref", "scalar", "scalar", "scalar",
                                                 "scalar", "ref", "scalar", "scalar",
                                                 "scalar", "scalar"};
  std::vector<std::string> avx2_names(7, "avx2"), avx512_names(7, "avx512");
  for (auto* names : {&avx2_names, &avx512_names}) names->insert(names->end(), {"scalar", "scalar"});
  // conv and bias_attention (after the two bf16 families): one variant per tier.
  avx2_names.insert(avx2_names.end(), {"avx2", "avx2"});
  avx512_names.insert(avx512_names.end(), {"avx512", "avx512"});
  // The tiers plus every feature of this CPU: gemm_bf16 takes AMX (when Linux grants the
  // tiles), else AVX512_BF16; attention_bf16 AVX512_BF16.
  std::vector<std::string> cpu_best_names = avx512_names;
  const bool amx = cpu.contains(kernels::tier::avx512.with(Feature::amx_tile).with(Feature::amx_bf16)) &&
                   kernels::request_amx_permission();
  const bool avx512_bf16 = cpu.contains(kernels::tier::avx512.with(Feature::avx512_bf16));
  cpu_best_names[7] = amx ? "amx" : avx512_bf16 ? "avx512_bf16" : "scalar";
  cpu_best_names[8] = avx512_bf16 ? "avx512_bf16" : "scalar";

  const kernels::KernelTable none = kernels::table_for(FeatureSet{});
  CHECK(none.isa == kernels::Isa::Scalar);
  CHECK(none.features.empty());
  CHECK(names_of(none) == scalar_names);
  CHECK(none.gelu == &kernels::ref::gelu);
  CHECK(none.convert_f32_to_f16 == &kernels::ref::convert_f32_to_f16);
  CHECK(none.layer_norm == &kernels::ref::layer_norm);
  CHECK(none.resample_row == &kernels::ref::resample_row);
  check_all_slots(none);
  check_same_slots(none, kernels::table_for(kernels::Isa::Scalar));
  CHECK(names_of(kernels::table_for(kernels::Isa::Scalar)) == scalar_names);

  if (cpu.contains(kernels::tier::avx2)) {
    const kernels::KernelTable t = kernels::table_for(kernels::tier::avx2);
    CHECK(t.isa == kernels::Isa::Avx2);
    CHECK(t.features == kernels::tier::avx2);
    CHECK(names_of(t) == avx2_names);
    check_all_slots(t);
    check_same_slots(t, kernels::table_for(kernels::Isa::Avx2));
    // One avx2 feature missing: back to scalar / ref.
    const kernels::KernelTable no_fma = kernels::table_for(kernels::tier::avx2.without(Feature::fma));
    CHECK(no_fma.isa == kernels::Isa::Scalar);
    CHECK(names_of(no_fma) == scalar_names);
  } else {
    CHECK(names_of(kernels::table_for(kernels::tier::avx2)) == scalar_names);
    CHECK_THROWS(kernels::table_for(kernels::Isa::Avx2));
  }
  if (cpu.contains(kernels::tier::avx512)) {
    const kernels::KernelTable t = kernels::table_for(kernels::tier::avx512);
    CHECK(t.isa == kernels::Isa::Avx512);
    CHECK(names_of(t) == avx512_names);
    check_all_slots(t);
    check_same_slots(t, kernels::table_for(kernels::Isa::Avx512));
    // Features beyond the tier (bf16, amx, ...) change only gemm_bf16 and attention_bf16.
    CHECK(names_of(kernels::table_for(FeatureSet::from_bits(~0u))) == cpu_best_names);
    if (cpu.has(Feature::avx512_bf16)) {
      std::vector<std::string> bf16_names = avx512_names;
      bf16_names[7] = bf16_names[8] = "avx512_bf16";
      const kernels::KernelTable b = kernels::table_for(kernels::tier::avx512.with(Feature::avx512_bf16));
      CHECK(names_of(b) == bf16_names);
      check_all_slots(b);
      // AVX512_BF16 without the AVX-512 baseline: no bf16 variant.
      CHECK(names_of(kernels::table_for(kernels::tier::avx2.with(Feature::avx512_bf16))) == avx2_names);
    }
    // One AVX-512 baseline feature missing: the avx2 variants.
    const kernels::KernelTable no_dq = kernels::table_for(kernels::tier::avx512.without(Feature::avx512dq));
    CHECK(no_dq.isa == kernels::Isa::Avx2);
    CHECK(names_of(no_dq) == avx2_names);
  } else {
    CHECK_THROWS(kernels::table_for(kernels::Isa::Avx512));
  }
  // A cap is intersected with the CPU: asking for everything gives this CPU's best tier.
  const kernels::KernelTable all = kernels::table_for(FeatureSet::from_bits(~0u));
  CHECK(all.features == cpu);
  const kernels::Isa best_cpu = all.isa;
  CHECK(names_of(all) == (best_cpu == kernels::Isa::Avx512 ? cpu_best_names
                          : best_cpu == kernels::Isa::Avx2 ? avx2_names
                                                           : scalar_names));
}

TEST_CASE("table() is the table of the best ISA (SAM_ISA caps it)", "[dispatch]") {
  const kernels::KernelTable& t = kernels::table();
  INFO("best " << kernels::isa_name(kernels::best_isa()) << " allowed " << kernels::allowed_features().str());
  CHECK(t.isa == kernels::best_isa());
  CHECK(t.features == kernels::allowed_features());
  // The same variants as the table of the allowed features; the named tier's table
  // differs at most in variants needing features beyond it (gemm_bf16 and attention_bf16 on
  // avx512_bf16 / AMX: entries 7 and 8).
  const kernels::KernelTable same = kernels::table_for(kernels::allowed_features());
  CHECK(names_of(t) == names_of(same));
  check_same_slots(t, same);
  std::vector<std::string> tier_names = names_of(kernels::table_for(kernels::best_isa())), names = names_of(t);
  for (auto* v : {&tier_names, &names}) v->erase(v->begin() + 7, v->begin() + 9);  // gemm_bf16, attention_bf16
  CHECK(names == tier_names);
  check_all_slots(t);
  // Built: a later cap changes nothing.
  CHECK_FALSE(kernels::set_table_cap(FeatureSet{}));
  CHECK(kernels::allowed_features() == t.features);
  CHECK(kernels::table().isa == t.isa);
  const auto listed = kernels::selected_variants();
  REQUIRE(listed.size() == kernels::KernelTable::family_count);
  for (size_t i = 0; i < listed.size(); ++i) {
    CHECK(listed[i].first == kernels::KernelTable::family_names[i]);
    CHECK(listed[i].second == t.variant_names[i]);
  }
}

