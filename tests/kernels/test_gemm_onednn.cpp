// The oneDNN baseline (kernels/gemm_onednn.h) against the double-precision
// references, f32 and bf16, on awkward shapes (primes, 1, odd K), padded row
// strides, NaN-poisoned outputs and every epilogue; a layer called with several
// row counts (one primitive each, one weight copy) and from several threads.
//
// Tolerance as tests/kernels/test_gemm_bf16.cpp: both sides round A and W to
// bf16 the same way (round to nearest even), products of bf16 values are exact
// in f32, so what remains is f32 summation (1e-6 of the sum of |terms|) plus
// the epilogue's rounding and oneDNN's erf GELU (1e-6 of |result|).
//
// Hidden tag ([.][onednn]): oneDNN runs on OpenMP threads the sanitizer builds
// do not instrument; ctest runs it in the release build (gemm_onednn_matches_reference).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "kernels/convert.h"
#include "kernels/eltwise.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_onednn.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  int m, n, k;
  bool bias, accumulate, gelu;
};

// C = epilogue(A W^T) in double on the inputs as the layer sees them (bf16-rounded when bf16).
std::vector<double> reference(const Case& c, const std::vector<float>& a, int lda, const std::vector<float>& w,
                              const std::vector<float>& bias, const std::vector<float>& c_old, int ldc, bool bf16,
                              std::vector<double>& sum_abs) {
  const auto in = [&](float v) { return bf16 ? kernels::ref::bf16_to_f32(kernels::ref::f32_to_bf16(v)) : v; };
  std::vector<double> out(static_cast<size_t>(c.m) * c.n);
  sum_abs.assign(out.size(), 0.0);
  for (int i = 0; i < c.m; ++i)
    for (int j = 0; j < c.n; ++j) {
      double s = 0, s_abs = 0;
      for (int p = 0; p < c.k; ++p) {
        const double t = static_cast<double>(in(a[i * lda + p])) * in(w[static_cast<size_t>(j) * c.k + p]);
        s += t;
        s_abs += std::fabs(t);
      }
      if (c.bias) s += bias[j];
      if (c.accumulate) s += c_old[static_cast<size_t>(i) * ldc + j];
      if (c.gelu) s = 0.5 * s * (1.0 + std::erf(s / std::sqrt(2.0)));
      out[static_cast<size_t>(i) * c.n + j] = s;
      sum_abs[static_cast<size_t>(i) * c.n + j] = s_abs + std::fabs(s);
    }
  return out;
}

void check_case(const Case& c, bool bf16, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const int lda = c.k + 3, ldc = c.n + 5;
  std::vector<float> a(static_cast<size_t>(c.m) * lda), w(static_cast<size_t>(c.n) * c.k), bias(c.n);
  for (float& v : a) v = u(rng);
  for (float& v : w) v = u(rng);
  for (float& v : bias) v = u(rng);
  std::vector<float> out(static_cast<size_t>(c.m) * ldc, kNaN);  // unwritten elements stay NaN and fail
  std::vector<float> c_old = out;
  if (c.accumulate)
    for (int i = 0; i < c.m; ++i)
      for (int j = 0; j < c.n; ++j) out[static_cast<size_t>(i) * ldc + j] = c_old[static_cast<size_t>(i) * ldc + j] = u(rng);
  std::vector<double> sum_abs;
  const std::vector<double> want = reference(c, a, lda, w, bias, c_old, ldc, bf16, sum_abs);
  const kernels::OnednnLinear layer(w.data(), c.n, c.k, c.k, bf16);
  layer.run(a.data(), c.m, lda, c.bias ? bias.data() : nullptr, out.data(), ldc, c.accumulate, c.gelu, 2);
  int bad = 0;
  for (int i = 0; i < c.m; ++i)
    for (int j = 0; j < c.n; ++j) {
      const double got = out[static_cast<size_t>(i) * ldc + j];
      const double r = want[static_cast<size_t>(i) * c.n + j];
      const double bound = 1e-6 * sum_abs[static_cast<size_t>(i) * c.n + j] + 1e-6 * std::fabs(r) + 1e-30;
      if (!(std::fabs(got - r) <= bound) && bad++ < 3)
        FAIL_CHECK("m " << c.m << " n " << c.n << " k " << c.k << (bf16 ? " bf16" : " f32") << " [" << i << ","
                        << j << "] got " << got << " want " << r << " bound " << bound);
    }
  CHECK(bad == 0);
  // Padding between rows is never written.
  for (int i = 0; i < c.m; ++i)
    for (int j = c.n; j < ldc; ++j)
      if (!c.accumulate) CHECK(std::isnan(out[static_cast<size_t>(i) * ldc + j]));
}

}  // namespace

TEST_CASE("oneDNN Linear baseline equals the double reference (f32 and bf16)", "[.][onednn]") {
  if (!kernels::onednn_available()) {
    WARN("skipped: " << kernels::onednn_description());
    return;
  }
  std::mt19937 rng(7);
  const Case cases[] = {{1, 1, 1, false, false, false},   {7, 13, 29, true, false, false},
                        {97, 61, 131, true, true, false},  {64, 256, 256, true, false, true},
                        {131, 37, 768, false, true, true}, {4096 / 16, 3 * 256 + 7, 257, true, true, true}};
  for (const bool bf16 : {false, true}) {
    if (bf16 && !kernels::onednn_bf16_available()) {
      WARN("bf16 skipped: " << kernels::onednn_description() << " has no bf16 matmul for this CPU");
      CHECK_THROWS_AS(kernels::OnednnLinear(std::vector<float>(4, 1.f).data(), 2, 2, 2, true), std::runtime_error);
      continue;
    }
    for (const Case& c : cases) check_case(c, bf16, rng);
  }
}

TEST_CASE("oneDNN Linear baseline: one layer, several row counts, several threads", "[.][onednn]") {
  if (!kernels::onednn_available()) {
    WARN("skipped: " << kernels::onednn_description());
    return;
  }
  if (!kernels::onednn_bf16_available()) {
    WARN("skipped: " << kernels::onednn_description() << " has no bf16 matmul for this CPU");
    return;
  }
  const int n = 48, k = 67;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> w(static_cast<size_t>(n) * k);
  for (float& v : w) v = u(rng);
  const kernels::OnednnLinear layer(w.data(), n, k, k, true);
  CHECK(layer.n() == n);
  CHECK(layer.k() == k);
  CHECK(layer.bf16());
  // Each thread multiplies its own rows; results must equal a single-threaded run.
  const int rows[] = {1, 5, 33, 100};
  std::vector<std::vector<float>> a(4), solo(4), threaded(4);
  for (int t = 0; t < 4; ++t) {
    a[t].resize(static_cast<size_t>(rows[t]) * k);
    for (float& v : a[t]) v = u(rng);
    solo[t].assign(static_cast<size_t>(rows[t]) * n, kNaN);
    threaded[t].assign(static_cast<size_t>(rows[t]) * n, kNaN);
    layer.run(a[t].data(), rows[t], k, nullptr, solo[t].data(), n, false, false, 1);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) layer.run(a[t].data(), rows[t], k, nullptr, threaded[t].data(), n, false, false, 1);
    });
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK(threaded[t] == solo[t]);
}
