// f32 -> bf16 rounding with AVX-512F/BW integer operations, bit-exact with
// ref::f32_to_bf16 (round to nearest even, NaN -> 0x7FC0, subnormals kept),
// for the bf16 GEMMs' packing of A (include only in AVX-512 translation units).
// Integer arithmetic rather than VCVTNE2PS2BF16: the same bits on every
// variant, and no need for AVX512_BF16 in the AMX one.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace kernels::simd::bf16 {
// Internal linkage: no weak symbol that another (ISA) object could define too
// (tests/kernels/check_isa_symbols.py).
namespace {

// 16 floats -> their bf16 in the high half of each 32-bit lane (low half garbage).
inline __m512i round_high(__m512 x) {
  const __m512i xi = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(xi, 16), _mm512_set1_epi32(1));
  const __m512i y = _mm512_add_epi32(xi, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_mov_epi32(y, nan, _mm512_set1_epi32(0x7FC00000));
}

// 32 floats (lo = elements 0..15, hi = 16..31) -> 32 bf16 in the same order.
inline __m512i round32(__m512 lo, __m512 hi) {
  alignas(64) static constexpr uint16_t kOddWords[32] = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21,
                                                         23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 43,
                                                         45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
  const __m512i idx = _mm512_load_si512(kOddWords);
  return _mm512_permutex2var_epi16(round_high(lo), idx, round_high(hi));
}

// Elements [0, n) of p (n <= 32, memory past them not read) rounded to bf16, zero above.
inline __m512i load_round32(const float* p, int n) {
  const auto mask = [](int c) {
    return c >= 16 ? static_cast<__mmask16>(0xFFFF) : c <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << c) - 1);
  };
  if (n >= 32) return round32(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16));
  return round32(_mm512_maskz_loadu_ps(mask(n), p), _mm512_maskz_loadu_ps(mask(n - 16), p + 16));
}

}  // namespace
}  // namespace kernels::simd::bf16
