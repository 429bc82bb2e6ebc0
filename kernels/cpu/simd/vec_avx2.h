// 8-lane float vector for the AVX2 + FMA translation units (include only there).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace kernels::simd {

struct VecAvx2 {
  static constexpr int kLanes = 8;
  using V = __m256;
  using I = __m256i;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V zero() { return _mm256_setzero_ps(); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V floor(V a) { return _mm256_floor_ps(a); }
  static I cvtt_i32(V a) { return _mm256_cvttps_epi32(a); }
  // Lane i: table[idx[i]], idx in [0, 8).
  static V lookup8(const float* table, I idx) { return _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), idx); }
  static V pow2i(V n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
  // p * 2^n for integral-valued n <= 127 (n <= -127 gives 0).
  static V ldexp(V p, V n) { return _mm256_mul_ps(p, pow2i(_mm256_max_ps(n, _mm256_set1_ps(-127.f)))); }
  static V select_lt(V a, V b, V x, V y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static V copysign(V magnitude, V sign) {
    const V s = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(s, magnitude), _mm256_and_ps(s, sign));
  }
  static float reduce_add(V v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
  }
  static float reduce_max(V v) {
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    a = _mm_max_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
  }
  // Bit i set where lane i is NaN or +-infinity (exponent bits all ones): an integer test, so no
  // floating-point mode or compiler assumption about NaN changes it.
  static uint32_t nonfinite_lanes(V v) {
    const __m256i e = _mm256_set1_epi32(0x7F800000);
    const __m256i hit = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), e), e);
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(hit)));
  }
  // Lanes [0, n) from p, zero above (n <= 0: none); memory past them is not read.
  static V load_first(const float* p, int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
  }
  static I load_i32(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static I set1_i32(int32_t x) { return _mm256_set1_epi32(x); }
  static I sub_i32(I a, I b) { return _mm256_sub_epi32(a, b); }
  // Lane i: v[idx[i]], idx in [0, 8).
  static V lookup1(V v, I idx) { return _mm256_permutevar8x32_ps(v, idx); }
  // Lane i: element idx[i] (0..15) of the 16-float window lo:hi.
  static V lookup2(V lo, V hi, I idx) {
    const V a = _mm256_permutevar8x32_ps(lo, idx), b = _mm256_permutevar8x32_ps(hi, idx);
    return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7))));
  }
  // out[i] = v[i] > t[i] ? 1 : 0 as 8 bytes (false for NaN).
  static void store_gt_u8(uint8_t* out, V v, V t) {
    const __m256i ones = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(v, t, _CMP_GT_OQ)), _mm256_set1_epi32(1));
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(ones), _mm256_extracti128_si256(ones, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packs_epi16(w, w));
  }
  // Stores lanes [0, n) of v (n <= 8); memory past them is not touched.
  static void store_first(float* p, V v, int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), v);
  }
  // In-register 8 x 8 transpose: afterwards r[c] holds what was column c.
  static void transpose(V (&r)[8]) {
    V t[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int c = 0; c < 4; ++c) {  // rows 0-3 / 4-7, columns c (low 128 bits) and c + 4 (high)
      t[c] = _mm256_permute2f128_ps(r[c], r[c + 4], 0x20);
      t[c + 4] = _mm256_permute2f128_ps(r[c], r[c + 4], 0x31);
    }
    for (int i = 0; i < 8; ++i) r[i] = t[i];
  }
};

}  // namespace kernels::simd
