#include <catch2/catch.hpp>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/io/npy.h"
#include "kernels/convert.h"
#include "kernels/cpu_features.h"
#include "kernels/table.h"
#include "test_util.h"

using test_util::bits_f32;
using test_util::f32_bits;

// A cheap assertion for loops over millions of values: Catch's per-assertion
// bookkeeping (and INFO's eager formatting) would dominate the run time.
#define REQUIRE_FAST(cond, msg)                \
  do {                                         \
    if (!(cond)) FAIL(#cond << ": " << msg);   \
  } while (0)

namespace {

// ---------------------------------------------------------------------------
// Independent slow references, written from the IEEE 754 definitions with
// exact integer arithmetic (no float operations at all).
// ---------------------------------------------------------------------------

// Rounds the magnitude of a finite f32 (bits `ax`, sign cleared) to nearest-even
// in a binary format with `p` fraction bits, exponent bias `bias` and an
// exponent field of `ebits` bits; overflow gives infinity. Returns the magnitude bits.
uint32_t round_magnitude(uint32_t ax, int p, int bias, int ebits) {
  if (ax == 0) return 0;
  const uint32_t efield = ax >> 23;
  const uint64_t m = efield ? ((ax & 0x7FFFFFu) | 0x800000u) : (ax & 0x7FFFFFu);  // |x| = m * 2^e
  const int e = efield ? static_cast<int>(efield) - 150 : -149;
  const int msb = 63 - __builtin_clzll(m);
  const int E = e + msb;  // floor(log2 |x|)
  const int emin = 1 - bias;
  const int s = std::max(E, emin) - p;  // exponent of one unit in the last place of the target
  const int shift = s - e;
  uint64_t q;
  if (shift <= 0) {
    q = m << -shift;
  } else if (shift >= 40) {
    q = 0;  // m < 2^24 < 2^(shift-1): below half an ulp
  } else {
    q = m >> shift;
    const uint64_t rem = m & ((uint64_t{1} << shift) - 1);
    const uint64_t half = uint64_t{1} << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
  }
  uint64_t bits;
  if (E < emin) {
    bits = q;  // subnormal; q == 2^p is the smallest normal, same encoding
  } else {
    bits = (static_cast<uint64_t>(E + bias) << p) + (q - (uint64_t{1} << p));  // q in [2^p, 2^(p+1)]
  }
  const uint64_t inf = ((uint64_t{1} << ebits) - 1) << p;
  return static_cast<uint32_t>(std::min(bits, inf));
}

bool is_nan_bits(uint32_t x) { return (x & 0x7FFFFFFFu) > 0x7F800000u; }

std::string fmt_hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

uint16_t slow_f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  if (is_nan_bits(x)) return static_cast<uint16_t>(sign | 0x7E00u);  // documented quiet NaN, sign kept
  if ((x & 0x7FFFFFFFu) == 0x7F800000u) return static_cast<uint16_t>(sign | 0x7C00u);
  return static_cast<uint16_t>(sign | round_magnitude(x & 0x7FFFFFFFu, 10, 15, 5));
}

uint16_t slow_f32_to_bf16(float f) {
  const uint32_t x = f32_bits(f);
  if (is_nan_bits(x)) return 0x7FC0u;  // documented: sign dropped
  const uint32_t sign = (x >> 16) & 0x8000u;
  if ((x & 0x7FFFFFFFu) == 0x7F800000u) return static_cast<uint16_t>(sign | 0x7F80u);
  return static_cast<uint16_t>(sign | round_magnitude(x & 0x7FFFFFFFu, 7, 127, 8));
}

// f16 -> f32 from the definition: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m;
// NaN keeps its payload and gets the quiet bit.
uint32_t slow_f16_to_f32_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  const uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
  if (e == 0x1F) return sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0u);
  if (e == 0 && m == 0) return sign;
  if (e == 0) {
    // Normalise: m * 2^-24 with the leading one at bit k -> exponent k - 24.
    const int k = 31 - __builtin_clz(m);
    const uint32_t frac = (m << (23 - k)) & 0x7FFFFFu;
    return sign | (static_cast<uint32_t>(k - 24 + 127) << 23) | frac;
  }
  return sign | ((e - 15 + 127) << 23) | (m << 13);
}

// Hostile f32 inputs: specials, thresholds, every f16 / bf16 rounding tie and
// its neighbours, and uniformly random bit patterns.
std::vector<float> hostile_values(size_t n_random, unsigned seed) {
  std::vector<uint32_t> bits = {
      0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF,
      0x7FFFFFFF, 0xFFFFFFFF, 0x7F802000, 0x7F801FFF, 0x7F7FFFFF, 0xFF7FFFFF, 0x00800000, 0x80800000,
      0x00000001, 0x80000001, 0x007FFFFF, 0x3F800000, 0xBF800000, 0x7F7F8000, 0x7F7F7FFF, 0x7F7F8001,
      0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0xC77FF000, 0x47800000, 0x33000000, 0x33000001,
      0xB3000000, 0x32FFFFFF, 0x33400000, 0x33800000, 0x387FC000, 0x387FE000, 0x387FF000, 0x38800000};
  // Every f16 midpoint (exact in f32: 12 significant bits) and its f32 neighbours.
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    const uint32_t lo = slow_f16_to_f32_bits(static_cast<uint16_t>(h));
    const uint32_t hi = h + 1 == 0x7C00 ? 0x47800000u : slow_f16_to_f32_bits(static_cast<uint16_t>(h + 1));
    // Midpoint of two adjacent positive floats with at most 12 significant bits:
    // average the bit patterns when the exponent is the same, else via the value.
    const double mid = (static_cast<double>(bits_f32(lo)) + static_cast<double>(bits_f32(hi))) / 2;
    const uint32_t mb = f32_bits(static_cast<float>(mid));
    for (uint32_t v : {mb - 1, mb, mb + 1}) {
      bits.push_back(v);
      bits.push_back(v | 0x80000000u);
    }
  }
  // Every bf16 tie (low half 0x8000) and its neighbours, both signs.
  for (uint32_t h = 0; h < 0x7F80; ++h) {
    for (uint32_t low : {0x7FFFu, 0x8000u, 0x8001u}) {
      bits.push_back((h << 16) | low);
      bits.push_back((h << 16) | low | 0x80000000u);
    }
  }
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n_random; ++i) bits.push_back(static_cast<uint32_t>(rng()));
  std::vector<float> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) out[i] = bits_f32(bits[i]);
  return out;
}

std::vector<kernels::KernelTable> available_tables() {
  std::vector<kernels::KernelTable> out;
  const kernels::CpuFeatures& f = kernels::cpu_features();
  out.push_back(kernels::table_for(kernels::Isa::Scalar));
  if (f.has_avx2_fma()) out.push_back(kernels::table_for(kernels::Isa::Avx2));
  else CHECK_THROWS(kernels::table_for(kernels::Isa::Avx2));
  if (f.has_avx512() && f.has_avx2_fma()) out.push_back(kernels::table_for(kernels::Isa::Avx512));
  else CHECK_THROWS(kernels::table_for(kernels::Isa::Avx512));
  return out;
}

__attribute__((target("f16c"))) uint16_t hw_f32_to_f16(float x) {
  return static_cast<uint16_t>(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float hw_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }

}  // namespace

TEST_CASE("the slow reference agrees with the definition on hand-derived cases", "[convert]") {
  // Each expectation follows from the binary16 / bfloat16 layouts:
  // 65504 = (2 - 2^-10) * 2^15 -> 0x7BFF; 1.0 -> exponent 15 -> 0x3C00; 2^-24 -> 0x0001.
  CHECK(slow_f32_to_f16(65504.0f) == ((30u << 10) | 0x3FFu));
  CHECK(slow_f32_to_f16(1.0f) == (15u << 10));
  CHECK(slow_f32_to_f16(std::ldexp(1.0f, -24)) == 1u);
  CHECK(slow_f32_to_f16(std::ldexp(1.0f, -25)) == 0u);                       // tie -> even (0)
  CHECK(slow_f32_to_f16(std::ldexp(3.0f, -25)) == 2u);                       // 1.5 ulp -> tie -> 2
  CHECK(slow_f32_to_f16(65520.0f) == 0x7C00u);                               // tie above max -> inf
  CHECK(slow_f32_to_f16(std::nextafter(65520.0f, 0.0f)) == 0x7BFFu);
  CHECK(slow_f32_to_f16(-0.0f) == 0x8000u);
  CHECK(slow_f32_to_bf16(1.0f) == (127u << 7));
  CHECK(slow_f32_to_bf16(bits_f32(0x3F808000u)) == 0x3F80u);                 // tie, even stays
  CHECK(slow_f32_to_bf16(bits_f32(0x3F818000u)) == 0x3F82u);                 // tie, odd rounds up
  CHECK(slow_f32_to_bf16(bits_f32(0x7F7F8000u)) == 0x7F80u);                 // overflow tie -> inf
  CHECK(slow_f32_to_bf16(bits_f32(0x00008000u)) == 0x0000u);                 // subnormal tie -> even
  CHECK(slow_f16_to_f32_bits(0x0001) == f32_bits(std::ldexp(1.0f, -24)));
  CHECK(slow_f16_to_f32_bits(0x7BFF) == f32_bits(65504.0f));
}

TEST_CASE("every f16 bit pattern round-trips through f32", "[convert]") {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = kernels::ref::f16_to_f32(h);
    const bool nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    const auto where = [&] { return "f16 bits 0x" + fmt_hex(i); };
    REQUIRE_FAST(f32_bits(f) == slow_f16_to_f32_bits(h), where());
    REQUIRE_FAST(f32_bits(engine::f16_to_f32(h)) == f32_bits(f), where());
    if (nan) {
      REQUIRE_FAST(std::isnan(f), where());
      const uint16_t back = kernels::ref::f32_to_f16(f);
      REQUIRE_FAST(((back & 0x7C00) == 0x7C00 && (back & 0x3FF) != 0), where());
      REQUIRE_FAST(back == ((h & 0x8000) | 0x7E00), where());
    } else {
      REQUIRE_FAST(kernels::ref::f32_to_f16(f) == h, where());
      REQUIRE_FAST(engine::f32_to_f16(f) == h, where());
    }
  }
}

TEST_CASE("every bf16 bit pattern round-trips through f32", "[convert]") {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = kernels::ref::bf16_to_f32(h);
    const auto where = [&] { return "bf16 bits 0x" + fmt_hex(i); };
    REQUIRE_FAST(f32_bits(f) == i << 16, where());  // bf16 is the top half of an f32
    const bool nan = (h & 0x7F80) == 0x7F80 && (h & 0x7F) != 0;
    REQUIRE_FAST(static_cast<bool>(std::isnan(f)) == nan, where());
    if (nan) {
      REQUIRE_FAST(kernels::ref::f32_to_bf16(f) == 0x7FC0, where());
    } else {
      REQUIRE_FAST(kernels::ref::f32_to_bf16(f) == h, where());
      REQUIRE_FAST(engine::f32_to_bf16(f) == h, where());
    }
    REQUIRE_FAST(f32_bits(engine::bf16_to_f32(h)) == f32_bits(f), where());
  }
}

TEST_CASE("f32 -> f16 / bf16 match the slow integer reference", "[convert]") {
  const std::vector<float> values = hostile_values(1'000'000, 42);
  size_t nan_count = 0;
  for (float v : values) {
    const uint32_t x = f32_bits(v);
    REQUIRE_FAST(kernels::ref::f32_to_f16(v) == slow_f32_to_f16(v),
                 "f32 0x" << fmt_hex(x) << " -> 0x" << fmt_hex(kernels::ref::f32_to_f16(v)) << ", slow 0x"
                          << fmt_hex(slow_f32_to_f16(v)));
    REQUIRE_FAST(kernels::ref::f32_to_bf16(v) == slow_f32_to_bf16(v),
                 "f32 0x" << fmt_hex(x) << " -> 0x" << fmt_hex(kernels::ref::f32_to_bf16(v)) << ", slow 0x"
                          << fmt_hex(slow_f32_to_bf16(v)));
    nan_count += std::isnan(v);
  }
  CHECK(nan_count > 0);
  // A strided sweep over the whole f32 encoding space as well.
  for (uint64_t x = 0; x < (uint64_t{1} << 32); x += 4093) {
    const float v = bits_f32(static_cast<uint32_t>(x));
    REQUIRE_FAST(kernels::ref::f32_to_f16(v) == slow_f32_to_f16(v), "f32 0x" << fmt_hex(x));
    REQUIRE_FAST(kernels::ref::f32_to_bf16(v) == slow_f32_to_bf16(v), "f32 0x" << fmt_hex(x));
  }
}

TEST_CASE("ref::f32_to_f16 matches the F16C hardware conversion", "[convert]") {
  if (!kernels::cpu_features().f16c) {
    WARN("CPU without F16C: hardware comparison skipped");
    return;
  }
  size_t compared = 0, nans = 0;
  for (uint64_t x = 0; x < (uint64_t{1} << 32); x += 251) {
    const float v = bits_f32(static_cast<uint32_t>(x));
    const uint16_t r = kernels::ref::f32_to_f16(v);
    if (is_nan_bits(static_cast<uint32_t>(x))) {
      ++nans;
      if (r != ((static_cast<uint32_t>(x) >> 16 & 0x8000u) | 0x7E00u)) FAIL("NaN 0x" << std::hex << x << " -> " << r);
      continue;
    }
    const uint16_t hw = hw_f32_to_f16(v);
    if (r != hw) FAIL("f32 bits 0x" << std::hex << x << ": ref 0x" << r << ", hardware 0x" << hw);
    ++compared;
  }
  CHECK(compared > 16'000'000);
  CHECK(nans > 0);
  // f16 -> f32 on every pattern, NaNs included (the hardware quiets them too).
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    if (f32_bits(kernels::ref::f16_to_f32(h)) != f32_bits(hw_f16_to_f32(h))) FAIL("f16 bits 0x" << std::hex << i);
  }
}

TEST_CASE("bulk conversions of every ISA table equal the scalar reference", "[convert]") {
  const std::vector<kernels::KernelTable> tables = available_tables();
  const std::vector<float> pool = hostile_values(20'000, 7);
  const size_t lengths[] = {0, 1, 7, 15, 16, 17, 31, 33, 1021};
  const float poison_f32 = std::numeric_limits<float>::quiet_NaN();
  // 16-bit poisons no correct output can take: an f16 signalling NaN and a bf16
  // signalling NaN (the references only produce 0x7E00|sign and 0x7FC0).
  const uint16_t poison16 = 0x7D01;
  const uint16_t poison_bf16 = 0x7F81;
  std::mt19937 rng(99);

  for (const kernels::KernelTable& t : tables) {
    INFO("isa " << kernels::isa_name(t.isa));
    REQUIRE(t.convert_f32_to_f16 != nullptr);
    REQUIRE(t.convert_f16_to_f32 != nullptr);
    REQUIRE(t.convert_f32_to_bf16 != nullptr);
    REQUIRE(t.convert_bf16_to_f32 != nullptr);
    for (size_t n : lengths) {
      for (size_t misalign : {size_t{0}, size_t{1}, size_t{3}}) {
        INFO("n " << n << " misalign " << misalign);
        // Inputs: a random window of the hostile pool, and random 16-bit patterns
        // (with plenty of NaNs, infinities and subnormals).
        std::vector<float> src32(n + misalign + 1);
        std::vector<uint16_t> src16(n + misalign + 1);
        const size_t start = std::uniform_int_distribution<size_t>(0, pool.size() - n - 1)(rng);
        for (size_t i = 0; i < n; ++i) src32[misalign + i] = pool[start + i];
        for (size_t i = 0; i < n; ++i) {
          const uint32_t r = rng();
          src16[misalign + i] = static_cast<uint16_t>(i % 5 == 0 ? (r | 0x7F80) : r);  // inf/NaN in both formats
        }
        const float* s32 = src32.data() + misalign;
        const uint16_t* s16 = src16.data() + misalign;

        // Outputs poisoned, with one guard element on each side.
        std::vector<uint16_t> h(n + misalign + 2, poison16), b(n + misalign + 2, poison_bf16);
        std::vector<float> fh(n + misalign + 2, poison_f32), fb(n + misalign + 2, poison_f32);
        t.convert_f32_to_f16(s32, h.data() + misalign + 1, n);
        t.convert_f32_to_bf16(s32, b.data() + misalign + 1, n);
        t.convert_f16_to_f32(s16, fh.data() + misalign + 1, n);
        t.convert_bf16_to_f32(s16, fb.data() + misalign + 1, n);
        for (size_t i = 0; i < n; ++i) {
          const size_t o = misalign + 1 + i;
          INFO("i " << i << " f32 0x" << std::hex << f32_bits(s32[i]) << " u16 0x" << s16[i]);
          REQUIRE(h[o] == kernels::ref::f32_to_f16(s32[i]));
          REQUIRE(b[o] == kernels::ref::f32_to_bf16(s32[i]));
          REQUIRE(f32_bits(fh[o]) == f32_bits(kernels::ref::f16_to_f32(s16[i])));
          REQUIRE(f32_bits(fb[o]) == f32_bits(kernels::ref::bf16_to_f32(s16[i])));
          if (std::isnan(s32[i])) {
            REQUIRE(std::isnan(kernels::ref::f16_to_f32(h[o])));
            REQUIRE(std::isnan(kernels::ref::bf16_to_f32(b[o])));
          }
        }
        // Nothing written outside [0, n).
        for (size_t g : {misalign, misalign + n + 1}) {
          CHECK(h[g] == poison16);
          CHECK(b[g] == poison_bf16);
          CHECK(std::isnan(fh[g]));
          CHECK(std::isnan(fb[g]));
        }
      }
    }
    // The whole hostile pool in one call (long vector loops), and all 65536 16-bit patterns.
    std::vector<uint16_t> h(pool.size() + 1, poison16), b(pool.size() + 1, poison_bf16);
    t.convert_f32_to_f16(pool.data(), h.data() + 1, pool.size());
    t.convert_f32_to_bf16(pool.data(), b.data() + 1, pool.size());
    for (size_t i = 0; i < pool.size(); ++i) {
      if (h[i + 1] != kernels::ref::f32_to_f16(pool[i]) || b[i + 1] != kernels::ref::f32_to_bf16(pool[i]))
        FAIL("f32 bits 0x" << std::hex << f32_bits(pool[i]));
    }
    std::vector<uint16_t> all(65536 + 1);
    for (uint32_t i = 0; i < 65536; ++i) all[i + 1] = static_cast<uint16_t>(i);
    std::vector<float> fh(65536, poison_f32), fb(65536, poison_f32);
    t.convert_f16_to_f32(all.data() + 1, fh.data(), 65536);
    t.convert_bf16_to_f32(all.data() + 1, fb.data(), 65536);
    for (uint32_t i = 0; i < 65536; ++i) {
      const uint16_t x = static_cast<uint16_t>(i);
      if (f32_bits(fh[i]) != f32_bits(kernels::ref::f16_to_f32(x))) FAIL("f16 0x" << std::hex << i);
      if (f32_bits(fb[i]) != f32_bits(kernels::ref::bf16_to_f32(x))) FAIL("bf16 0x" << std::hex << i);
    }
  }
  // The table picked for this CPU is one of the available ones (the best, unless SAM_ISA caps it).
  const kernels::Isa best = kernels::best_isa();
  CHECK(kernels::table().isa == best);
  if (std::getenv("SAM_ISA") == nullptr) CHECK(best == tables.back().isa);
}

TEST_CASE("engine::convert_floats converts between every float pair", "[convert]") {
  using engine::DType;
  const std::vector<float> pool = hostile_values(3000, 5);
  const size_t n = 2039;  // prime, crosses the 1024-element blocks of the f16 <-> bf16 path
  std::vector<float> x(pool.end() - static_cast<long>(n), pool.end());
  std::vector<uint16_t> h(n, 0x7D01), b(n, 0x7F81), hb(n, 0x7F81), bh(n, 0x7D01), same(n, 0);
  std::vector<float> back(n, std::numeric_limits<float>::quiet_NaN());
  engine::convert_floats(x.data(), DType::F32, h.data(), DType::F16, n);
  engine::convert_floats(x.data(), DType::F32, b.data(), DType::BF16, n);
  engine::convert_floats(h.data(), DType::F16, hb.data(), DType::BF16, n);
  engine::convert_floats(b.data(), DType::BF16, bh.data(), DType::F16, n);
  engine::convert_floats(h.data(), DType::F16, back.data(), DType::F32, n);
  engine::convert_floats(b.data(), DType::BF16, same.data(), DType::BF16, n);
  for (size_t i = 0; i < n; ++i) {
    REQUIRE(h[i] == kernels::ref::f32_to_f16(x[i]));
    REQUIRE(b[i] == kernels::ref::f32_to_bf16(x[i]));
    REQUIRE(hb[i] == kernels::ref::f32_to_bf16(kernels::ref::f16_to_f32(h[i])));
    REQUIRE(bh[i] == kernels::ref::f32_to_f16(kernels::ref::bf16_to_f32(b[i])));
    REQUIRE(f32_bits(back[i]) == f32_bits(kernels::ref::f16_to_f32(h[i])));
    REQUIRE(same[i] == b[i]);
  }
  int32_t i32[3] = {};
  CHECK_THROWS_AS(engine::convert_floats(i32, DType::I32, h.data(), DType::F16, 3), engine::Error);
  CHECK_THROWS_AS(engine::convert_floats(x.data(), DType::F32, i32, DType::U8, 3), engine::Error);
}

// Compares against torch's own conversions (tests/reference/dtype_oracle.py).
// Run through ctest, which generates the oracle and sets SAM_DTYPE_ORACLE_DIR.
TEST_CASE("conversions match torch bit for bit", "[.][torch]") {
  const char* dir_env = std::getenv("SAM_DTYPE_ORACLE_DIR");
  if (dir_env == nullptr || *dir_env == '\0') {
    FAIL("SAM_DTYPE_ORACLE_DIR is not set: this test must be run through ctest (its ctest entry runs "
         "tests/reference/dtype_oracle.py and sets the variable)");
  }
  const std::string dir = dir_env;
  const engine::NpyArray values = engine::read_npy_raw(dir + "/values_f32.npy");
  const engine::NpyArray f16 = engine::read_npy_raw(dir + "/torch_f16_bits.npy");
  const engine::NpyArray bf16 = engine::read_npy_raw(dir + "/torch_bf16_bits.npy");
  const engine::NpyArray f16_all = engine::read_npy_raw(dir + "/f16_all_to_f32.npy");
  const engine::NpyArray bf16_all = engine::read_npy_raw(dir + "/bf16_all_to_f32.npy");
  REQUIRE(values.descr == "<f4");
  REQUIRE(f16.descr == "<u2");
  REQUIRE(bf16.descr == "<u2");
  REQUIRE(f16_all.descr == "<f4");
  REQUIRE(bf16_all.descr == "<f4");
  const int64_t n = values.shape.numel();
  REQUIRE(values.shape.rank() == 1);
  REQUIRE(n > 100'000);
  REQUIRE(f16.shape == values.shape);
  REQUIRE(bf16.shape == values.shape);
  REQUIRE(f16_all.shape == engine::Shape{65536});
  REQUIRE(bf16_all.shape == engine::Shape{65536});

  std::vector<float> x(static_cast<size_t>(n));
  std::vector<uint16_t> th(static_cast<size_t>(n)), tb(static_cast<size_t>(n));
  std::memcpy(x.data(), values.data.data(), x.size() * 4);
  std::memcpy(th.data(), f16.data.data(), th.size() * 2);
  std::memcpy(tb.data(), bf16.data.data(), tb.size() * 2);

  // Also through the bulk kernels the engine really uses.
  std::vector<uint16_t> bulk_h(x.size(), 0x7D01), bulk_b(x.size(), 0x7F81);
  engine::convert_floats(x.data(), engine::DType::F32, bulk_h.data(), engine::DType::F16, x.size());
  engine::convert_floats(x.data(), engine::DType::F32, bulk_b.data(), engine::DType::BF16, x.size());

  size_t nan_inputs = 0, mismatches = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const uint16_t h = engine::f32_to_f16(x[i]);
    const uint16_t b = engine::f32_to_bf16(x[i]);
    if (std::isnan(x[i])) {
      ++nan_inputs;
      const bool ok = std::isnan(engine::f16_to_f32(h)) && std::isnan(engine::bf16_to_f32(b)) &&
                      std::isnan(engine::f16_to_f32(th[i])) && std::isnan(engine::bf16_to_f32(tb[i])) &&
                      std::isnan(engine::f16_to_f32(bulk_h[i])) && std::isnan(engine::bf16_to_f32(bulk_b[i]));
      if (!ok && ++mismatches <= 10) FAIL_CHECK("NaN input 0x" << std::hex << f32_bits(x[i]) << " not NaN");
      continue;
    }
    if ((h != th[i] || b != tb[i] || bulk_h[i] != th[i] || bulk_b[i] != tb[i]) && ++mismatches <= 10) {
      FAIL_CHECK("f32 0x" << std::hex << f32_bits(x[i]) << ": f16 ours 0x" << h << " bulk 0x" << bulk_h[i]
                          << " torch 0x" << th[i] << "; bf16 ours 0x" << b << " bulk 0x" << bulk_b[i]
                          << " torch 0x" << tb[i]);
    }
  }
  CHECK(mismatches == 0);
  CHECK(nan_inputs > 0);

  // 16-bit -> f32 for every pattern. f16: bit-exact including NaNs (ours and
  // torch's both quiet signalling NaNs). bf16: bit-exact except NaN -> any NaN.
  std::vector<float> fh(65536), fb(65536);
  std::memcpy(fh.data(), f16_all.data.data(), 65536 * 4);
  std::memcpy(fb.data(), bf16_all.data.data(), 65536 * 4);
  size_t bad16 = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t p = static_cast<uint16_t>(i);
    const float ours_h = engine::f16_to_f32(p);
    const float ours_b = engine::bf16_to_f32(p);
    if (f32_bits(ours_h) != f32_bits(fh[i]) && ++bad16 <= 10)
      FAIL_CHECK("f16 0x" << std::hex << i << ": ours 0x" << f32_bits(ours_h) << " torch 0x" << f32_bits(fh[i]));
    const bool b_ok = std::isnan(fb[i]) ? std::isnan(ours_b) : f32_bits(ours_b) == f32_bits(fb[i]);
    if (!b_ok && ++bad16 <= 10)
      FAIL_CHECK("bf16 0x" << std::hex << i << ": ours 0x" << f32_bits(ours_b) << " torch 0x" << f32_bits(fb[i]));
  }
  CHECK(bad16 == 0);
}
