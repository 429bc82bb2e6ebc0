// The fused rel-pos attention with bf16 products on AVX512_BF16
// (kernels/attention_bf16.h): cpu/simd/attention_bf16_impl.h over VecAvx512
// with VDPBF16PS for Q K^T and P V (one instruction: 16 lanes x 2 multiply-adds,
// twice an f32 FMA's work); the f32 kernel's tiles (score 12 x 32 keys, output
// 6 x up to 64 head-dim columns, 192 queries x ~128 keys per block). The bf16
// rounding is the integer one of cpu/simd/bf16_avx512.h, bit-exact with
// ref::f32_to_bf16.
#include <immintrin.h>

#include <cstdint>

#include "kernels/attention_bf16.h"
#include "../simd/attention_bf16_impl.h"
#include "../simd/bf16_avx512.h"
#include "../simd/vec_avx512.h"

namespace kernels::avx512_bf16 {
namespace {

// TU-local vector type: every template instantiated over it has internal
// linkage (no weak symbol shared with the avx512 attention's object).
struct Vec : simd::VecAvx512 {};

struct Ops {
  using S = Vec;
  using V = __m512;
  using W = __m512i;
  static W load_w(const uint32_t* p) { return _mm512_loadu_si512(p); }
  static V dot(V acc, W b, uint32_t a) {
    return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(b),
                            reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a))));
  }
  static V round_store(uint16_t* dst, V e) {
    const __m512i r = simd::bf16::round_high(e);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  // (bf16 even[i], bf16 odd[i]) words, 16 at a time; memory past n not read or written.
  static void pair_rows(const float* even, const float* odd, int n, uint32_t* dst) {
    for (int i = 0; i < n; i += 16) {
      const int c = n - i < 16 ? n - i : 16;
      const __mmask16 m = static_cast<__mmask16>((1u << c) - 1);
      const __m512i lo = simd::bf16::round_high(_mm512_maskz_loadu_ps(m, even + i));
      const __m512i hi = odd ? simd::bf16::round_high(_mm512_maskz_loadu_ps(m, odd + i)) : _mm512_setzero_si512();
      const __m512i w = _mm512_or_si512(_mm512_srli_epi32(lo, 16),
                                        _mm512_and_si512(hi, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
      _mm512_mask_storeu_epi32(dst + i, m, w);
    }
  }
  // 16 keys x 32 head dims at a time: each key's 32 values rounded to 16 pair
  // words, then a 16 x 16 word transpose: row d2 holds the 16 keys' pair d2.
  static void pack_k_group(const float* const* src, int hd, uint32_t* dst, int ld) {
    for (int d0 = 0; d0 < hd; d0 += 32) {
      const int n = hd - d0 < 32 ? hd - d0 : 32;
      V blk[16];
#pragma GCC unroll 16
      for (int r = 0; r < 16; ++r)
        blk[r] = src[r] ? _mm512_castsi512_ps(simd::bf16::load_round32(src[r] + d0, n)) : _mm512_setzero_ps();
      Vec::transpose(blk);  // data movement only: the bits come through unchanged
      const int np = (n + 1) / 2;
      for (int c = 0; c < np; ++c) _mm512_storeu_ps(reinterpret_cast<float*>(dst + (d0 / 2 + c) * ld), blk[c]);
    }
  }
};

using A = simd::AttentionRelPosBf16<Ops, 12, 2, 6, 4, 16, 128>;

size_t attention_bf16_scratch_floats(int h, int w, int hd) { return A::scratch_floats(h, w, hd); }
void attention_bf16(const AttentionRelPosArgs& a) { A::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/attention_bf16_variants.cpp): constant data, no code runs to make it.
extern constinit const AttentionBf16Kernels attention_bf16_kernels{
    .attention_bf16_scratch_floats = attention_bf16_scratch_floats,
    .attention_bf16 = attention_bf16,
};

}  // namespace kernels::avx512_bf16
