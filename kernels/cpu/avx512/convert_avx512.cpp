// f32 <-> f16 / bf16, 16 lanes per step, bit-exact with kernels/convert.h.
// vcvtps2ph rounds to nearest even like the reference; its NaN bits differ,
// so NaN lanes are patched with masks.
#include <immintrin.h>

#include "kernels/convert.h"

namespace kernels::avx512 {
namespace {

void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  const __m512i sign_mask = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(src + i);
    __m256i h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    if (nan) {
      // Quiet NaN 0x7E00 with the sign kept, as the reference does.
      const __m512i sign = _mm512_srli_epi32(_mm512_and_si512(_mm512_castps_si512(x), sign_mask), 16);
      const __m256i canon = _mm512_cvtepi32_epi16(_mm512_or_si512(sign, _mm512_set1_epi32(0x7E00)));
      h = _mm256_mask_blend_epi16(nan, h, canon);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = ref::f32_to_f16(src[i]);
}

void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  // vcvtph2ps is exact and quiets signalling NaNs, like the reference.
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = ref::f16_to_f32(src[i]);
}

void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i bias = _mm512_set1_epi32(0x7FFF);
  const __m512i canon_nan = _mm512_set1_epi32(0x7FC0);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(src + i);
    const __m512i b = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), one);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(bias, lsb)), 16);
    r = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), r, canon_nan);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(r));
  }
  for (; i < n; ++i) dst[i] = ref::f32_to_bf16(src[i]);
}

void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m512i w = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(w));
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

}  // namespace kernels::avx512
