// 16-lane float vector for the AVX-512 translation units (include only there).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace kernels::simd {

struct VecAvx512 {
  static constexpr int kLanes = 16;
  using V = __m512;
  using I = __m512i;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V zero() { return _mm512_setzero_ps(); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V abs(V a) { return _mm512_abs_ps(a); }
  static V round(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V floor(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static I cvtt_i32(V a) { return _mm512_cvttps_epi32(a); }
  // Lane i: table[idx[i]], idx in [0, 8).
  static V lookup8(const float* table, I idx) {
    return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(_mm256_loadu_ps(table)));
  }
  // 2^n for integral-valued n in [-126, 127].
  static V pow2i(V n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }
  // lanes where a < b take x, others y
  // p * 2^n for integral-valued n (any magnitude: underflows to 0).
  static V ldexp(V p, V n) { return _mm512_scalef_ps(p, n); }
  static V select_lt(V a, V b, V x, V y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x); }
  static V copysign(V magnitude, V sign) {
    const __m512i m = _mm512_set1_epi32(0x7FFFFFFF);
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(m, _mm512_castps_si512(magnitude), _mm512_castps_si512(sign),
                                                          0xCA));  // m ? magnitude : sign, bitwise
  }
  static float reduce_add(V v) { return _mm512_reduce_add_ps(v); }
  // In-register halvings. The all-ones maskz forms are the plain instructions; the unmasked
  // intrinsics (and _mm512_reduce_max_ps) pass GCC 12's _mm512_undefined_ps, which trips
  // -Wuninitialized once inlined into a loop (a GCC 12 false positive).
  static float reduce_max(V v) {
    constexpr __mmask16 all = 0xFFFF;
    v = _mm512_maskz_max_ps(all, v, _mm512_maskz_shuffle_f32x4(all, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_maskz_max_ps(all, v, _mm512_maskz_shuffle_f32x4(all, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_maskz_max_ps(all, v, _mm512_maskz_permute_ps(all, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_maskz_max_ps(all, v, _mm512_maskz_permute_ps(all, v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
  }
  // Bit i set where lane i is NaN or +-infinity (exponent bits all ones): an integer test.
  static uint32_t nonfinite_lanes(V v) {
    const __m512i e = _mm512_set1_epi32(0x7F800000);
    return _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(v), e), e);
  }
  // Lanes [0, n) from p, zero above (n <= 0: none); memory past them is not read.
  static V load_first(const float* p, int n) {
    const __mmask16 m = n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
    return _mm512_maskz_loadu_ps(m, p);
  }
  static I load_i32(const int32_t* p) { return _mm512_loadu_si512(p); }
  static I set1_i32(int32_t x) { return _mm512_set1_epi32(x); }
  static I sub_i32(I a, I b) { return _mm512_sub_epi32(a, b); }
  // Lane i: v[idx[i]], idx in [0, 16).
  static V lookup1(V v, I idx) { return _mm512_permutexvar_ps(idx, v); }
  // Lane i: element idx[i] (0..31) of the 32-float window lo:hi.
  static V lookup2(V lo, V hi, I idx) { return _mm512_permutex2var_ps(lo, idx, hi); }
  // out[i] = v[i] > t[i] ? 1 : 0 as 16 bytes (false for NaN).
  static void store_gt_u8(uint8_t* out, V v, V t) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_maskz_set1_epi8(_mm512_cmp_ps_mask(v, t, _CMP_GT_OQ), 1));
  }
  // Stores lanes [0, n) of v (n <= 16); memory past them is not touched.
  static void store_first(float* p, V v, int n) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v); }
  // In-register 16 x 16 transpose: afterwards r[c] holds what was column c.
  static void transpose(V (&r)[16]) {
    V t[16];
    for (int i = 0; i < 16; i += 2) {  // interleave row pairs: 2x2 blocks
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {  // 4x4 blocks within each 128-bit lane
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {  // 128-bit lanes across row groups 0/4 and 8/12 ...
      t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
      t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
      t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
      t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 4; ++i) {  // ... then across the two halves
      r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
      r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
      r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
      r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
    }
  }
};

}  // namespace kernels::simd
