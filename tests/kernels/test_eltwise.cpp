// SIMD GELU / add / softmax / LayerNorm against the scalar references
// (kernels/ref), for every ISA this CPU has, on awkward sizes.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

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
        x[4] = 1.f;  // the switch between the series and A&S
        x[5] = -0.99999994f;
      }
      std::vector<float> want = x, got = x;
      kernels::ref::gelu(want.data(), n);
      t.gelu(got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        INFO("x " << x[static_cast<size_t>(i)]);
        // erf is approximated to 1.5e-7 absolute: GELU = x/2 (1 + erf) to 1e-7 |x|.
        REQUIRE(std::fabs(got[static_cast<size_t>(i)] - want[static_cast<size_t>(i)]) <=
                2e-7f * std::max(1.f, std::fabs(x[static_cast<size_t>(i)])) + 1e-7f);
      }
    }
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
