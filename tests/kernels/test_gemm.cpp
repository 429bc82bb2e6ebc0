// The packed GEMM of every ISA table against the double-precision reference,
// on awkward shapes (primes, edges of the MR x NR tile and of the K block),
// padded row strides, NaN-poisoned outputs, every epilogue and job split.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/eltwise.h"
#include "kernels/gemm.h"
#include "kernels/table.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  int m, n, k;
};

void check_case(const kernels::KernelTable& t, Case cs, kernels::GemmEpilogue epi, int threads, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  const int m = cs.m, n = cs.n, k = cs.k;
  const int64_t lda = k + 3, ldw = k + 1, ldc = n + 5;
  std::vector<float> a(static_cast<size_t>(m) * lda, kNaN), w(static_cast<size_t>(n) * ldw, kNaN), bias(n);
  for (int i = 0; i < m; ++i)
    for (int p = 0; p < k; ++p) a[static_cast<size_t>(i * lda + p)] = nd(rng);
  for (int j = 0; j < n; ++j)
    for (int p = 0; p < k; ++p) w[static_cast<size_t>(j * ldw + p)] = nd(rng);
  for (auto& b : bias) b = nd(rng);
  std::vector<float> packed(t.gemm_packed_b_floats(n, k), kNaN);
  t.gemm_pack_b_nk(w.data(), n, k, ldw, packed.data());

  std::vector<float> c(static_cast<size_t>(m) * ldc, kNaN), c0(c.size());
  if (epi.accumulate)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) c[static_cast<size_t>(i * ldc + j)] = nd(rng);
  c0 = c;
  kernels::PackedGemmArgs g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a.data();
  g.lda = lda;
  g.b_packed = packed.data();
  g.c = c.data();
  g.ldc = ldc;
  g.epilogue = epi;
  if (epi.bias) g.epilogue.bias = bias.data();
  const int64_t jobs = t.gemm_jobs(g, threads);
  // Jobs in an uneven split, as a thread pool would run them.
  for (int th = 0; th < threads; ++th) t.gemm_run(g, threads, jobs * th / threads, jobs * (th + 1) / threads);

  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = 0, mag = 0;
      for (int p = 0; p < k; ++p) {
        const double prod = double(a[static_cast<size_t>(i * lda + p)]) * w[static_cast<size_t>(j * ldw + p)];
        acc += prod;
        mag += std::fabs(prod);
      }
      if (epi.bias) acc += bias[static_cast<size_t>(j)], mag += std::fabs(bias[static_cast<size_t>(j)]);
      if (epi.accumulate) acc += c0[static_cast<size_t>(i * ldc + j)], mag += std::fabs(c0[static_cast<size_t>(i * ldc + j)]);
      float want = static_cast<float>(acc);
      if (epi.activation == kernels::Activation::Gelu) kernels::ref::gelu(&want, 1);
      const float got = c[static_cast<size_t>(i * ldc + j)];
      INFO(kernels::isa_name(t.isa) << " m " << m << " n " << n << " k " << k << " at " << i << "," << j
                                    << " threads " << threads << " bias " << (epi.bias != nullptr) << " acc "
                                    << epi.accumulate << " gelu " << (epi.activation == kernels::Activation::Gelu));
      REQUIRE(std::fabs(got - want) <= 1e-6 * mag + 1e-6 * std::max(1.0, std::fabs(double(want))));
    }
    for (int64_t j = n; j < ldc; ++j) REQUIRE(std::isnan(c[static_cast<size_t>(i * ldc + j)]));  // padding untouched
  }
}

}  // namespace

TEST_CASE("packed GEMM equals the reference on awkward shapes", "[gemm]") {
  std::mt19937 rng(11);
  const Case cases[] = {{1, 1, 1},   {7, 17, 5},   {13, 31, 255}, {14, 32, 256}, {15, 33, 257},
                        {29, 97, 3}, {229, 65, 600}, {5, 3, 0},     {3, 200, 31},  {57, 1, 520},
                        {14, 32, 192}, {15, 33, 193}, {13, 31, 385},  // K-block edges at KC = 192 too
                        // Packed A over two row blocks (MC = 224 at 14 rows), two K super-blocks, and
                        // more than one chunk of panels: the C / B prefetches across tiles and panels.
                        {233, 300, 790}};
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(kernels::best_isa())) continue;
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const Case& cs : cases) {
      std::vector<float> bias_storage(static_cast<size_t>(cs.n), 0.f);
      kernels::GemmEpilogue plain;
      check_case(t, cs, plain, 1, rng);
      // A non-null bias switches the bias epilogue on; check_case substitutes its own random values.
      kernels::GemmEpilogue bias_gelu;
      bias_gelu.bias = bias_storage.data();
      bias_gelu.activation = kernels::Activation::Gelu;
      check_case(t, cs, bias_gelu, 3, rng);
      kernels::GemmEpilogue residual;
      residual.accumulate = true;
      residual.bias = bias_storage.data();
      check_case(t, cs, residual, 2, rng);
    }
  }
}
