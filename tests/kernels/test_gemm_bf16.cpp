// The bf16 packed GEMM (kernels/gemm_bf16.h): every variant this CPU can run
// against the double-precision reference on the same bf16-rounded inputs, on
// awkward shapes (primes, 1, odd K, edges of tiles and K blocks), padded row
// strides, NaN-poisoned outputs, every epilogue, both sources of the packed B
// and several job splits. A variant the CPU cannot run is skipped with a
// warning naming it (e.g. "amx" on CPUs without AMX).
//
// Tolerance: kernel and reference round A and W to bf16 identically (checked
// exactly below), and the product of two bf16 values is exact in f32. What
// remains is the summation: f32 in the kernels (in blocks, VDPBF16PS adding
// two products per step), double in the reference, so the bound is the f32
// GEMM's (tests/kernels/test_gemm.cpp): 1e-6 of the sum of |terms| (about 17
// f32 ulps of it) plus 1e-6 of |result| for the epilogue's rounding and GELU.
// An input not rounded as the reference does would be off by up to 2^-9 of its
// product, far above that on these sizes.
#include <catch2/catch.hpp>
#include <bit>
#include <cmath>
#include <iterator>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/convert.h"
#include "kernels/eltwise.h"
#include "kernels/gemm_bf16.h"
#include "kernels/table.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
using kernels::GemmBf16Kernels;
using kernels::ref::bf16_to_f32;
using kernels::ref::f32_to_bf16;

size_t family_index() {
  const auto& names = kernels::KernelTable::family_names;
  for (size_t i = 0; i < names.size(); ++i)
    if (std::string(names[i]) == GemmBf16Kernels::family) return i;
  return names.size();
}

// The features of `needs` that `cpu` lacks, by name.
std::string missing_features(kernels::FeatureSet needs, kernels::FeatureSet cpu) {
  std::string out;
  for (int i = 0; i < kernels::kFeatureCount; ++i) {
    const auto f = static_cast<kernels::Feature>(i);
    if (needs.has(f) && !cpu.has(f)) out += std::string(out.empty() ? "" : " ") + kernels::feature_name(f);
  }
  return out;
}

// The tables of the variants this CPU can run, each checked to have selected
// its variant. Variants it cannot run are reported with WARN.
std::vector<std::pair<std::string, kernels::KernelTable>> runnable_tables() {
  std::vector<std::pair<std::string, kernels::KernelTable>> out;
  const kernels::FeatureSet cpu = kernels::cpu_feature_set();
  const size_t fi = family_index();
  REQUIRE(fi < kernels::KernelTable::family_count);
  for (const auto& v : GemmBf16Kernels::variants()) {
    if (!cpu.contains(v.needs)) {
      WARN("gemm_bf16 variant \"" << v.name << "\" SKIPPED: this CPU lacks "
                                  << missing_features(v.needs, cpu));
      continue;
    }
    kernels::KernelTable t = kernels::table_for(v.needs);
    if (v.ready && std::string(t.variant_names[fi]) != v.name) {
      WARN("gemm_bf16 variant \"" << v.name << "\" SKIPPED: its run-time check failed (e.g. no AMX permission)");
      continue;
    }
    INFO("variant " << v.name);
    REQUIRE(std::string(t.variant_names[fi]) == v.name);
    out.emplace_back(v.name, t);
  }
  return out;
}

struct Case {
  int m, n, k;
};

struct Problem {
  int m, n, k;
  int64_t lda, ldw, ldc;
  std::vector<float> a, w, bias, c0;
  std::vector<uint16_t> w16;  // w rounded to bf16 (row stride ldw)
};

Problem make_problem(Case cs, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  Problem p{cs.m, cs.n, cs.k, cs.k + 3, cs.k + 1, cs.n + 5, {}, {}, {}, {}, {}};
  p.a.assign(static_cast<size_t>(p.m) * p.lda, kNaN);
  p.w.assign(static_cast<size_t>(p.n) * p.ldw, kNaN);
  p.w16.assign(p.w.size(), 0xFFFF);
  for (int i = 0; i < p.m; ++i)
    for (int q = 0; q < p.k; ++q) p.a[static_cast<size_t>(i * p.lda + q)] = nd(rng);
  for (int j = 0; j < p.n; ++j)
    for (int q = 0; q < p.k; ++q) {
      const size_t at = static_cast<size_t>(j * p.ldw + q);
      p.w[at] = nd(rng);
      p.w16[at] = f32_to_bf16(p.w[at]);
    }
  p.bias.resize(static_cast<size_t>(p.n));
  for (auto& b : p.bias) b = nd(rng);
  p.c0.assign(static_cast<size_t>(p.m) * p.ldc, kNaN);
  for (int i = 0; i < p.m; ++i)
    for (int j = 0; j < p.n; ++j) p.c0[static_cast<size_t>(i * p.ldc + j)] = nd(rng);
  return p;
}

std::vector<uint16_t> pack(const kernels::KernelTable& t, const Problem& p, bool from_bf16, uint16_t poison) {
  std::vector<uint16_t> packed(t.gemm_bf16_packed_b_elems(p.n, p.k), poison);
  if (from_bf16)
    t.gemm_bf16_pack_b_nk_bf16(p.w16.data(), p.n, p.k, p.ldw, packed.data());
  else
    t.gemm_bf16_pack_b_nk(p.w.data(), p.n, p.k, p.ldw, packed.data());
  return packed;
}

void check_case(const std::string& variant, const kernels::KernelTable& t, const Problem& p,
                const kernels::GemmEpilogue& epi, int threads, bool from_bf16) {
  const std::vector<uint16_t> packed = pack(t, p, from_bf16, 0xFFFF);
  // Poisoned output: NaN everywhere, the old C only where accumulating.
  std::vector<float> c(p.c0.size(), kNaN);
  if (epi.accumulate)
    for (int i = 0; i < p.m; ++i)
      for (int j = 0; j < p.n; ++j) c[static_cast<size_t>(i * p.ldc + j)] = p.c0[static_cast<size_t>(i * p.ldc + j)];
  std::vector<float> want = c;
  kernels::GemmEpilogue e = epi;
  if (e.bias) e.bias = p.bias.data();
  kernels::ref::gemm_bf16(p.m, p.n, p.k, p.a.data(), p.lda, p.w16.data(), p.ldw, want.data(), p.ldc, e);

  kernels::PackedGemmBf16Args g;
  g.m = p.m;
  g.n = p.n;
  g.k = p.k;
  g.a = p.a.data();
  g.lda = p.lda;
  g.b_packed = packed.data();
  g.c = c.data();
  g.ldc = p.ldc;
  g.epilogue = e;
  const int64_t jobs = t.gemm_bf16_jobs(g, threads);
  // Jobs in an uneven split, as a thread pool would run them.
  for (int th = 0; th < threads; ++th) t.gemm_bf16_run(g, threads, jobs * th / threads, jobs * (th + 1) / threads);

  for (int i = 0; i < p.m; ++i) {
    for (int j = 0; j < p.n; ++j) {
      double mag = 0;
      for (int q = 0; q < p.k; ++q)
        mag += std::fabs(double(bf16_to_f32(f32_to_bf16(p.a[static_cast<size_t>(i * p.lda + q)]))) *
                         bf16_to_f32(p.w16[static_cast<size_t>(j * p.ldw + q)]));
      if (e.bias) mag += std::fabs(p.bias[static_cast<size_t>(j)]);
      if (e.accumulate) mag += std::fabs(p.c0[static_cast<size_t>(i * p.ldc + j)]);
      const float w = want[static_cast<size_t>(i * p.ldc + j)], got = c[static_cast<size_t>(i * p.ldc + j)];
      INFO(variant << " m " << p.m << " n " << p.n << " k " << p.k << " at " << i << "," << j << " threads "
                   << threads << " bias " << (e.bias != nullptr) << " acc " << e.accumulate << " gelu "
                   << (e.activation == kernels::Activation::Gelu) << " B from " << (from_bf16 ? "bf16" : "f32"));
      REQUIRE(std::fabs(got - w) <= 1e-6 * mag + 1e-6 * std::max(1.0, std::fabs(double(w))));
    }
    for (int64_t j = p.n; j < p.ldc; ++j) REQUIRE(std::isnan(c[static_cast<size_t>(i * p.ldc + j)]));  // padding untouched
  }
}

}  // namespace

TEST_CASE("bf16 GEMM: every runnable variant equals the reference on awkward shapes", "[gemm_bf16]") {
  std::mt19937 rng(23);
  const Case cases[] = {{1, 1, 1},     {7, 17, 5},    {13, 31, 255},  {14, 32, 384},  {15, 33, 385},
                        {29, 97, 3},   {5, 3, 0},     {3, 200, 31},   {57, 1, 521},   {14, 32, 383},
                        {16, 16, 32},  {17, 47, 33},  {31, 33, 64},   {32, 32, 1},    {1, 61, 2},
                        // Two row blocks (MC = 224), several K blocks, a K super-block edge
                        // (KS = 1536) and more than one chunk of panels.
                        {229, 65, 601}, {233, 300, 1601}};
  for (const auto& [name, t] : runnable_tables()) {
    for (const Case& cs : cases) {
      const Problem p = make_problem(cs, rng);
      // A non-null bias switches the bias epilogue on; check_case uses the problem's values.
      static const float kOn = 0.f;
      kernels::GemmEpilogue plain;
      check_case(name, t, p, plain, 1, false);
      kernels::GemmEpilogue bias_gelu;
      bias_gelu.bias = &kOn;
      bias_gelu.activation = kernels::Activation::Gelu;
      check_case(name, t, p, bias_gelu, 3, true);
      kernels::GemmEpilogue residual;
      residual.accumulate = true;
      residual.bias = &kOn;
      check_case(name, t, p, residual, 2, false);
      kernels::GemmEpilogue acc_gelu;
      acc_gelu.accumulate = true;
      acc_gelu.activation = kernels::Activation::Gelu;
      check_case(name, t, p, acc_gelu, 4, true);
    }
  }
}

TEST_CASE("bf16 GEMM: packing B from f32 equals packing the pre-rounded bf16 weights", "[gemm_bf16]") {
  std::mt19937 rng(29);
  for (const auto& [name, t] : runnable_tables()) {
    for (const Case cs : {Case{1, 1, 1}, Case{1, 37, 5}, Case{1, 33, 64}, Case{1, 70, 385}}) {
      Problem p = make_problem(cs, rng);
      // Rounding corner cases among the weights: ties (to even, both ways), just
      // above / below a tie, subnormals, signed zero, infinities, NaN, the largest finite.
      const uint32_t specials[] = {0x3F808000u, 0x3F818000u, 0x3F808001u, 0x3F807FFFu, 0x00008000u, 0x00018000u,
                                   0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00001u, 0xFFA00000u, 0x7F7FFFFFu,
                                   0x7F7F8000u, 0xBF808000u};
      size_t s = 0;
      for (int j = 0; j < p.n; ++j)
        for (int q = 0; q < p.k; ++q, ++s) {
          const size_t at = static_cast<size_t>(j * p.ldw + q);
          if (s % 3 == 0) p.w[at] = std::bit_cast<float>(specials[(s / 3) % std::size(specials)]);
          p.w16[at] = f32_to_bf16(p.w[at]);
        }
      INFO(name << " n " << p.n << " k " << p.k);
      // Different poisons: an element neither packing writes would differ.
      const std::vector<uint16_t> from_f32 = pack(t, p, false, 0xFFFF), from_bf16 = pack(t, p, true, 0x7FC1);
      REQUIRE(from_f32.size() == from_bf16.size());
      REQUIRE(std::memcmp(from_f32.data(), from_bf16.data(), from_f32.size() * sizeof(uint16_t)) == 0);
    }
  }
}

TEST_CASE("bf16 GEMM: A is rounded to bf16 exactly as ref::f32_to_bf16", "[gemm_bf16]") {
  // W = identity (N = K), so C[i, j] = bf16(A[i, j]) exactly: every rounding of
  // A shows up bit for bit. A's low halves hit ties (0x8000), just above / below
  // them, zero and random bits; finite normal values only (VDPBF16PS and AMX
  // flush subnormals, and NaN / inf times the identity's zeros are NaN).
  std::mt19937 rng(31);
  std::uniform_int_distribution<uint32_t> hi(0x3000u, 0x4F00u), lo(0u, 0xFFFFu), sign(0u, 1u);
  const uint32_t lows[] = {0x8000u, 0x7FFFu, 0x8001u, 0u, 0xFFFFu};
  for (const auto& [name, t] : runnable_tables()) {
    for (const Case cs : {Case{29, 45, 45}, Case{1, 1, 1}, Case{40, 70, 70}}) {
      Problem p = make_problem(cs, rng);
      size_t s = 0;
      for (int i = 0; i < p.m; ++i)
        for (int q = 0; q < p.k; ++q, ++s) {
          const uint32_t low = s % 2 ? lows[(s / 2) % std::size(lows)] : lo(rng);
          p.a[static_cast<size_t>(i * p.lda + q)] = std::bit_cast<float>((sign(rng) << 31) | (hi(rng) << 16) | low);
        }
      for (int j = 0; j < p.n; ++j)
        for (int q = 0; q < p.k; ++q) {
          const size_t at = static_cast<size_t>(j * p.ldw + q);
          p.w[at] = j == q ? 1.f : 0.f;
          p.w16[at] = f32_to_bf16(p.w[at]);
        }
      const std::vector<uint16_t> packed = pack(t, p, false, 0xFFFF);
      std::vector<float> c(p.c0.size(), kNaN);
      kernels::PackedGemmBf16Args g;
      g.m = p.m;
      g.n = p.n;
      g.k = p.k;
      g.a = p.a.data();
      g.lda = p.lda;
      g.b_packed = packed.data();
      g.c = c.data();
      g.ldc = p.ldc;
      t.gemm_bf16_run(g, 1, 0, t.gemm_bf16_jobs(g, 1));
      for (int i = 0; i < p.m; ++i)
        for (int j = 0; j < p.n; ++j) {
          const float a = p.a[static_cast<size_t>(i * p.lda + j)];
          INFO(name << " a bits " << std::hex << std::bit_cast<uint32_t>(a) << " at " << std::dec << i << "," << j);
          REQUIRE(std::bit_cast<uint32_t>(c[static_cast<size_t>(i * p.ldc + j)]) ==
                  std::bit_cast<uint32_t>(bf16_to_f32(f32_to_bf16(a))));
        }
    }
  }
}

TEST_CASE("bf16 GEMM: the scalar variant runs without any CPU feature", "[gemm_bf16]") {
  const kernels::KernelTable t = kernels::table_for(kernels::FeatureSet{});
  CHECK(std::string(t.variant_names[family_index()]) == "scalar");
  CHECK(t.gemm_bf16_run != nullptr);
  CHECK(t.gemm_bf16_pack_b_nk_bf16 != nullptr);
}
