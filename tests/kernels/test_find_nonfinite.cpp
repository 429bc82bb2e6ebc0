// The finite scan (eltwise find_nonfinite) of every table this CPU runs against
// the plain reference: NaN (quiet, signalling, negative) and +-infinity at the
// first, the last, a prime index, inside and after the unrolled vector loop and
// in the masked tail; nothing past n is read; and the engine op over it.
#include <catch2/catch.hpp>
#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/ops.h"
#include "engine/tensor.h"
#include "kernels/eltwise.h"
#include "kernels/table.h"

namespace {

std::vector<kernels::KernelTable> tables() {
  std::vector<kernels::KernelTable> t;
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512})
    if (static_cast<int>(isa) <= static_cast<int>(kernels::best_isa())) t.push_back(kernels::table_for(isa));
  return t;
}

const float kBad[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::signaling_NaN(),
                      -std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity(), std::bit_cast<float>(0x7F800001u),
                      std::bit_cast<float>(0xFFFFFFFFu)};

// Finite values of every kind: zeros, subnormals, the extremes.
std::vector<float> finite_values(int64_t n) {
  const float kinds[] = {0.f, -0.f, 1.f, -2.5f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                         std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(), 1e30f, -1e-30f};
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = kinds[i % 10];
  return v;
}

// Sizes around every vector width (8, 16) and the 4-vector step (32, 64).
const int64_t kSizes[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 79, 127, 128, 129, 1021, 4099};

}  // namespace

TEST_CASE("find_nonfinite: all-finite arrays give n", "[eltwise][finite]") {
  for (const auto& t : tables())
    for (int64_t n : kSizes) {
      const std::vector<float> v = finite_values(n);
      INFO("isa " << kernels::isa_name(t.isa) << " n " << n);
      CHECK(kernels::ref::find_nonfinite(v.data(), n) == n);
      CHECK(t.find_nonfinite(v.data(), n) == n);
    }
}

TEST_CASE("find_nonfinite finds NaN and infinity at awkward positions", "[eltwise][finite]") {
  for (const auto& t : tables())
    for (int64_t n : kSizes) {
      if (n == 0) continue;
      // first, last, primes, around the unrolled step, in the tail after the vector loop
      std::vector<int64_t> at = {0, n - 1, n / 2, 2, 3, 5, 7, 13, 61, 97, 1019, 4093, n - (n % 16), n - (n % 64),
                                 n - 1 - (n % 8)};
      if (n <= 130)
        for (int64_t i = 0; i < n; ++i) at.push_back(i);  // every position of the small sizes
      for (int64_t pos : at) {
        if (pos < 0 || pos >= n) continue;
        for (float bad : kBad) {
          std::vector<float> v = finite_values(n);
          v[static_cast<size_t>(pos)] = bad;
          if (pos + 3 < n) v[static_cast<size_t>(pos + 3)] = bad;  // a later one is not the answer
          INFO("isa " << kernels::isa_name(t.isa) << " n " << n << " at " << pos << " bits 0x" << std::hex
                      << std::bit_cast<uint32_t>(bad));
          CHECK(kernels::ref::find_nonfinite(v.data(), n) == pos);
          CHECK(t.find_nonfinite(v.data(), n) == pos);
        }
      }
    }
}

TEST_CASE("find_nonfinite reads nothing past n", "[eltwise][finite]") {
  for (const auto& t : tables())
    for (int64_t n : kSizes) {
      std::vector<float> v = finite_values(n + 64);
      for (int64_t i = n; i < n + 64; ++i) v[static_cast<size_t>(i)] = std::numeric_limits<float>::quiet_NaN();
      INFO("isa " << kernels::isa_name(t.isa) << " n " << n);
      CHECK(t.find_nonfinite(v.data(), n) == n);
      // from an unaligned start too
      if (n > 0) CHECK(t.find_nonfinite(v.data() + 1, n - 1) == n - 1);
    }
}

TEST_CASE("engine::ops::find_nonfinite: -1 when finite, else the row-major index", "[eltwise][finite]") {
  engine::Tensor x = engine::Tensor::zeros(engine::DType::F32, engine::Shape({3, 37}));
  CHECK(engine::ops::find_nonfinite(x) == -1);
  x.data<float>()[2 * 37 + 5] = std::numeric_limits<float>::infinity();
  CHECK(engine::ops::find_nonfinite(x) == 79);
  x.data<float>()[36] = std::numeric_limits<float>::quiet_NaN();
  CHECK(engine::ops::find_nonfinite(x) == 36);
  CHECK_THROWS(engine::ops::find_nonfinite(engine::Tensor::zeros(engine::DType::I32, engine::Shape({4}))));
}
