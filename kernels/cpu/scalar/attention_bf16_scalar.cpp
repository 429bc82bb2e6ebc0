// The fused rel-pos attention with bf16 products, portable (kernels/attention_bf16.h):
// cpu/simd/attention_bf16_impl.h over VecScalar, the bf16 values rounded by
// ref::f32_to_bf16 and multiplied in f32 (the products of two bf16 are exact in
// f32, as in VDPBF16PS), so bf16 precision runs, and is tested, on every CPU.
// Tiles as the f32 scalar kernel's (4 x 4, 32 queries x ~128 keys per block).
#include <cstdint>

#include "kernels/attention_bf16.h"
#include "kernels/convert.h"
#include "../simd/attention_bf16_impl.h"
#include "../simd/vec_scalar.h"

namespace kernels::scalar {
namespace {

struct Vec : simd::VecScalar {};

float lo(uint32_t w) { return ref::bf16_to_f32(static_cast<uint16_t>(w)); }
float hi(uint32_t w) { return ref::bf16_to_f32(static_cast<uint16_t>(w >> 16)); }
uint32_t bits(float x) { return ref::f32_to_bf16(x); }

struct Ops {
  using S = Vec;
  using V = float;
  using W = uint32_t;
  static W load_w(const uint32_t* p) { return *p; }
  static V dot(V acc, W b, uint32_t a) { return acc + lo(a) * lo(b) + hi(a) * hi(b); }
  static V round_store(uint16_t* dst, V e) {
    *dst = ref::f32_to_bf16(e);
    return ref::bf16_to_f32(*dst);
  }
  static void pair_rows(const float* even, const float* odd, int n, uint32_t* dst) {
    for (int i = 0; i < n; ++i) dst[i] = bits(even[i]) | (odd ? bits(odd[i]) << 16 : 0u);
  }
  static void pack_k_group(const float* const* src, int hd, uint32_t* dst, int ld) {
    for (int d = 0; d < hd; d += 2)
      dst[d / 2 * ld] = src[0] ? bits(src[0][d]) | (d + 1 < hd ? bits(src[0][d + 1]) << 16 : 0u) : 0u;
  }
};

using A = simd::AttentionRelPosBf16<Ops, 4, 4, 4, 4, 8, 128>;

size_t attention_bf16_scratch_floats(int h, int w, int hd) { return A::scratch_floats(h, w, hd); }
void attention_bf16(const AttentionRelPosArgs& a) { A::run(a); }

}  // namespace

// The slots of this variant (listed in cpu/attention_bf16_variants.cpp): constant data, no code runs to make it.
extern constinit const AttentionBf16Kernels attention_bf16_kernels{
    .attention_bf16_scratch_floats = attention_bf16_scratch_floats,
    .attention_bf16 = attention_bf16,
};

}  // namespace kernels::scalar
