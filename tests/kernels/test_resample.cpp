// The bilinear row kernels (kernels/resample.h) of every ISA table against the
// plain-loop references, bit for bit (no FMA contraction in either, see
// kernels/CMakeLists.txt): upscaling and downscaling taps as postprocess_masks
// builds them (ATen's align_corners=False), awkward widths, NaN-poisoned
// outputs, and the fused threshold to bytes.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/resample.h"
#include "kernels/table.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct TapArrays {
  std::vector<int32_t> i0, i1;
  std::vector<float> w0, w1;
};

TapArrays make_taps(int in, int out) {
  TapArrays t{std::vector<int32_t>(out), std::vector<int32_t>(out), std::vector<float>(out), std::vector<float>(out)};
  kernels::bilinear_taps(in, out, t.i0.data(), t.i1.data(), t.w0.data(), t.w1.data());
  return t;
}

std::vector<kernels::Isa> isas() {
  std::vector<kernels::Isa> v;
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512})
    if (static_cast<int>(isa) <= static_cast<int>(kernels::best_isa())) v.push_back(isa);
  return v;
}

}  // namespace

TEST_CASE("resample_row equals the reference on up- and downscaling taps", "[resample]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 4.f);
  // (in, out): the two upscaling stages of a 1800x1200 image, odd sizes, 2x and
  // >2x downscaling (the permute window's limit and the scalar fallback), 1 -> n.
  const int sizes[][2] = {{256, 1024}, {683, 1200}, {1024, 1800}, {17, 53}, {53, 17}, {1024, 512}, {1000, 499},
                          {1024, 300}, {1, 7},     {7, 1},      {31, 31},   {2, 64},  {97, 193}};
  for (kernels::Isa isa : isas()) {
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const auto& sz : sizes) {
      const int in = sz[0], out = sz[1];
      const TapArrays taps = make_taps(in, out);
      // The row sits at the end of its allocation, so a read past in_size would be caught by ASan.
      std::vector<float> row(static_cast<size_t>(in));
      for (auto& v : row) v = nd(rng);
      std::vector<float> got(static_cast<size_t>(out) + 1, kNaN), want(static_cast<size_t>(out));
      kernels::ResampleRowArgs a;
      a.row = row.data();
      a.in_size = in;
      a.i0 = taps.i0.data();
      a.i1 = taps.i1.data();
      a.w0 = taps.w0.data();
      a.w1 = taps.w1.data();
      a.n = out;
      a.out = got.data();
      t.resample_row(a);
      a.out = want.data();
      kernels::ref::resample_row(a);
      for (int x = 0; x < out; ++x) {
        INFO(kernels::isa_name(isa) << " " << in << " -> " << out << " at " << x);
        REQUIRE(got[x] == want[x]);  // same two products and sum, no FMA contraction: bit-identical
      }
      REQUIRE(std::isnan(got[static_cast<size_t>(out)]));  // nothing written past n
    }
  }
}

TEST_CASE("blend_rows and blend_rows_threshold equal the reference", "[resample]") {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.f, 2.f);
  std::uniform_real_distribution<float> ud(0.f, 1.f);
  for (kernels::Isa isa : isas()) {
    const kernels::KernelTable t = kernels::table_for(isa);
    for (int n : {1, 7, 8, 15, 16, 17, 31, 33, 1800, 1201}) {
      std::vector<float> r0(static_cast<size_t>(n)), r1(static_cast<size_t>(n));
      for (auto& v : r0) v = nd(rng);
      for (auto& v : r1) v = nd(rng);
      if (n > 4) r0[3] = kNaN;  // a NaN blend is never above the threshold
      const float w1 = ud(rng), w0 = 1.f - w1;
      std::vector<float> got(static_cast<size_t>(n) + 1, kNaN), want(static_cast<size_t>(n));
      t.blend_rows(r0.data(), r1.data(), w0, w1, n, got.data());
      kernels::ref::blend_rows(r0.data(), r1.data(), w0, w1, n, want.data());
      std::vector<uint8_t> bits(static_cast<size_t>(n) + 1, 7), want_bits(static_cast<size_t>(n));
      t.blend_rows_threshold(r0.data(), r1.data(), w0, w1, n, 0.f, bits.data());
      kernels::ref::blend_rows_threshold(r0.data(), r1.data(), w0, w1, n, 0.f, want_bits.data());
      for (int x = 0; x < n; ++x) {
        INFO(kernels::isa_name(isa) << " n " << n << " at " << x);
        if (std::isnan(want[x])) {
          REQUIRE(std::isnan(got[x]));
          REQUIRE(bits[x] == 0);
          continue;
        }
        REQUIRE(got[x] == want[x]);
        REQUIRE(bits[x] == want_bits[x]);
      }
      REQUIRE(std::isnan(got[static_cast<size_t>(n)]));
      REQUIRE(bits[static_cast<size_t>(n)] == 7);
    }
  }
}
