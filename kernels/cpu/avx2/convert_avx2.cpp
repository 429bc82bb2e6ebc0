// f32 <-> f16 / bf16, 8 lanes per step (AVX2 + F16C), bit-exact with
// kernels/convert.h; NaN lanes are patched as in the AVX-512 version.
#include <immintrin.h>

#include "kernels/convert.h"

namespace kernels::avx2 {
namespace {

// Packs the low 16 bits of eight 32-bit lanes (values < 2^16) into 8 x u16.
inline __m128i pack_u32_to_u16(__m256i v) {
  const __m128i lo = _mm256_castsi256_si128(v);
  const __m128i hi = _mm256_extracti128_si256(v, 1);
  return _mm_packus_epi32(lo, hi);
}

void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(src + i);
    __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    if (_mm256_movemask_ps(nan)) {
      const __m256i sign = _mm256_srli_epi32(
          _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(static_cast<int>(0x80000000u))), 16);
      const __m128i canon = pack_u32_to_u16(_mm256_or_si256(sign, _mm256_set1_epi32(0x7E00)));
      const __m128i mask = pack_u32_to_u16(_mm256_srli_epi32(_mm256_castps_si256(nan), 16));
      h = _mm_blendv_epi8(h, canon, mask);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = ref::f32_to_f16(src[i]);
}

void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  // vcvtph2ps is exact and quiets signalling NaNs, like the reference.
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = ref::f16_to_f32(src[i]);
}

void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i bias = _mm256_set1_epi32(0x7FFF);
  const __m256i canon_nan = _mm256_set1_epi32(0x7FC0);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(src + i);
    const __m256i b = _mm256_castps_si256(x);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), one);
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(bias, lsb)), 16);
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    r = _mm256_blendv_epi8(r, canon_nan, nan);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), pack_u32_to_u16(r));
  }
  for (; i < n; ++i) dst[i] = ref::f32_to_bf16(src[i]);
}

void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
  }
  for (; i < n; ++i) dst[i] = ref::bf16_to_f32(src[i]);
}

}  // namespace

// The slots of this variant (listed in cpu/convert_variants.cpp): constant data, no code runs to make it.
extern constinit const ConvertKernels convert_kernels{
    .convert_f32_to_f16 = convert_f32_to_f16,
    .convert_f16_to_f32 = convert_f16_to_f32,
    .convert_f32_to_bf16 = convert_f32_to_bf16,
    .convert_bf16_to_f32 = convert_bf16_to_f32,
};

}  // namespace kernels::avx2
