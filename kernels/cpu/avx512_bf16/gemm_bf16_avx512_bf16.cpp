// The bf16 packed GEMM with AVX512_BF16 (kernels/gemm_bf16.h): a BLIS-style
// driver (the f32 one's blocking, cpu/simd/gemm_impl.h) around an MR x NR
// micro-kernel of VDPBF16PS, which multiplies pairs of bf16 and adds both
// products to an f32 lane: one instruction does 32 multiply-adds, twice the
// work of a 16-lane FMA at the same issue rate.
//
// Layouts (K rounded up to an even count; the padding is zero on both sides):
//  * B, panel p of NR columns: for each pair kp of K, the NR columns' two values
//    (B[2kp, j], B[2kp+1, j]) as one 32-bit word: NR * 2 uint16_t per pair, so a
//    pair row of a panel is NV vectors and a K block of a panel is contiguous.
//  * A, an MR-row micro-panel of a K block: for each pair kp, the MR rows' words
//    (A[r, 2kp], A[r, 2kp+1]), rounded to bf16 while packed.
// The micro-kernel broadcasts one A word per row and multiplies it with the
// NV B vectors of the pair.
#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "kernels/gemm_bf16.h"
#include "../simd/bf16_avx512.h"
#include "../thread_scratch.h"
#include "../simd/math_impl.h"
#include "../simd/vec_avx512.h"

namespace kernels::avx512_bf16 {
namespace {

using S = simd::VecAvx512;
using V = __m512;

constexpr int MR = 14;   // 28 accumulators + 2 B vectors of the 32 zmm registers
constexpr int NV = 2;
constexpr int NR = NV * 16;
constexpr int KC = 384;  // K block (even): a KC x NR bf16 micro-panel of B is 24 KB (L1), as the f32 GEMM's
constexpr int KS = KC * 4;   // K super-block: A is packed MC x KS at a time (688 KB at 224 x 1536), in L2
constexpr int MC = MR * 16;  // rows per block
constexpr int NCP = 8;       // panels per column chunk: the MC x NCP*NR strip of C (229 KB) stays in L2
static_assert(KC % 2 == 0 && KS % KC == 0);

int pairs(int k) { return (k + 1) / 2; }

size_t packed_b_elems(int n, int k) {
  return static_cast<size_t>((n + NR - 1) / NR) * NR * 2 * static_cast<size_t>(pairs(k));
}

// get(col, kk): the bf16 of W[col, kk] for col < n, kk < k.
template <class Get>
void pack_b(int n, int k, uint16_t* out, Get get) {
  const int panels = (n + NR - 1) / NR, kp = pairs(k);
  for (int p = 0; p < panels; ++p) {
    uint16_t* dst = out + static_cast<size_t>(p) * NR * 2 * kp;
    for (int c = 0; c < NR; ++c) {
      const int col = p * NR + c;
      for (int kk = 0; kk < 2 * kp; ++kk)
        dst[(static_cast<size_t>(kk / 2) * NR + c) * 2 + (kk & 1)] = col < n && kk < k ? get(col, kk) : uint16_t{0};
    }
  }
}

void pack_b_nk(const float* w, int n, int k, int64_t ldw, uint16_t* out) {
  assert(n >= 0 && k >= 0 && ((w && out) || n == 0 || k == 0));
  pack_b(n, k, out, [&](int col, int kk) { return ref::f32_to_bf16(w[col * ldw + kk]); });
}

void pack_b_nk_bf16(const uint16_t* w, int n, int k, int64_t ldw, uint16_t* out) {
  assert(n >= 0 && k >= 0 && ((w && out) || n == 0 || k == 0));
  pack_b(n, k, out, [&](int col, int kk) { return w[col * ldw + kk]; });
}

// One MR-row micro-panel of A from row pointers (src[r] for r >= valid is not
// read; those rows are zero): dst[kp * MR + r] = the bf16 pair (kp) of row r,
// over kc values of K (odd kc: the last pair's second half is zero). 16 x 16
// blocks of pairs are transposed in registers.
void pack_panel(const float* const* src, int valid, int kc, uint32_t* dst) {
  for (int kk0 = 0; kk0 < kc; kk0 += 32) {
    const int n = std::min(32, kc - kk0);
    V blk[16];
#pragma GCC unroll 16
    for (int r = 0; r < 16; ++r)
      blk[r] = r < valid ? _mm512_castsi512_ps(simd::bf16::load_round32(src[r] + kk0, n)) : S::zero();
    S::transpose(blk);  // data movement only: the bits come through unchanged
    const int np = (n + 1) / 2;
    for (int c = 0; c < np; ++c) S::store_first(reinterpret_cast<float*>(dst + (kk0 / 2 + c) * MR), blk[c], MR);
  }
}

// A rows [i0, i0 + rows) x K [k0, k0 + kc) -> MR-row micro-panels of pairs(kc) * MR words each.
void pack_a(const float* a, int64_t lda, int i0, int rows, int k0, int kc, uint32_t* out) {
  for (int p = 0; p < rows; p += MR) {
    const int valid = std::min(MR, rows - p);
    const float* src[16];
    for (int r = 0; r < 16; ++r) src[r] = a + static_cast<int64_t>(i0 + p + std::min(r, valid - 1)) * lda + k0;
    pack_panel(src, valid, kc, out + static_cast<size_t>(p) * pairs(kc));
  }
}

// One MR x NR tile over kp pairs: c = [C and/or bias] + A B, the activation on
// the last K block. Prefetches as the f32 micro-kernel's (cpu/simd/gemm_impl.h):
// the next B micro-panel (two lines per pair) and the next C tile, spread over
// the loop. Not inlined: keeps GCC from spilling accumulators in the loop.
[[gnu::noinline]] void micro_kernel(int kp, const uint32_t* ap, const uint16_t* bp, float* c, int64_t ldc,
                                    const uint16_t* b_next, const float* c_next, const float* bias, bool load_c,
                                    bool last, Activation act) {
  constexpr int kCLines = MR * 2;  // NR floats = two lines per row
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
#pragma GCC unroll 2
  for (int p = 0; p < kp; ++p) {
    if (b_next) {
      __builtin_prefetch(b_next + p * NR * 2);
      __builtin_prefetch(b_next + p * NR * 2 + 32);
    }
    if (c_next && (p & 3) == 0 && p / 4 < kCLines) {
      const int line = p / 4;
      __builtin_prefetch(c_next + (line / 2) * ldc + (line % 2) * 16, 1, 3);
    }
    __m512bh b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(bp + p * NR * 2 + v * 32));
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(ap[p * MR + r])));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], b[v], a);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (bias) acc[r][v] = S::add(acc[r][v], S::load(bias + v * 16));
      if (load_c) acc[r][v] = S::add(acc[r][v], S::load(c + r * ldc + v * 16));
    }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) S::store(c + r * ldc + v * 16, acc[r][v]);
  if (last && act == Activation::Gelu) {
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) S::store(c + r * ldc + v * 16, simd::gelu<S>(S::load(c + r * ldc + v * 16)));
  }
}

// The f32 GEMM's work split: row parts of whole MR tiles (one per thread when M
// is large) times column chunks of NR panels when there are too few row tiles.
struct Plan {
  int row_parts, jc_chunks, panels, tiles;
};

Plan plan(const PackedGemmBf16Args& g, int threads) {
  Plan p;
  p.tiles = (g.m + MR - 1) / MR;
  p.panels = (g.n + NR - 1) / NR;
  const int want = std::max(threads, 1);
  p.row_parts = std::min(p.tiles, want);
  p.jc_chunks = p.row_parts >= want ? 1 : std::min(p.panels, (want + p.row_parts - 1) / p.row_parts);
  return p;
}

int64_t jobs(const PackedGemmBf16Args& g, int threads) {
  if (g.m <= 0 || g.n <= 0) return 0;
  const Plan p = plan(g, threads);
  return static_cast<int64_t>(p.row_parts) * p.jc_chunks;
}

void run(const PackedGemmBf16Args& g, int threads, int64_t j0, int64_t j1) {
  if (j0 >= j1) return;
  assert(g.k >= 0 && g.a && g.c && (g.b_packed || g.k == 0));
  const Plan p = plan(g, threads);
  // MC x KS / 2 words of packed A, grown once per thread (no std container in an ISA
  // translation unit: cpu/thread_scratch.h).
  uint32_t* const a_buf = reinterpret_cast<uint32_t*>(detail::thread_scratch_floats(static_cast<size_t>(MC) * KS / 2));
  alignas(64) float tile[MR * NR];
  alignas(64) float tile_bias[NR];
  const int nk = std::max(1, (g.k + KC - 1) / KC);
  const size_t panel_elems = static_cast<size_t>(NR) * 2 * pairs(g.k);
  constexpr int kb_per_super = KS / KC;
  for (int64_t job = j0; job < j1; ++job) {
    const int part = static_cast<int>(job / p.jc_chunks), jc = static_cast<int>(job % p.jc_chunks);
    const int r_begin = static_cast<int>(static_cast<int64_t>(p.tiles) * part / p.row_parts) * MR;
    const int r_end = std::min(g.m, static_cast<int>(static_cast<int64_t>(p.tiles) * (part + 1) / p.row_parts) * MR);
    const int pan0 = static_cast<int>(static_cast<int64_t>(p.panels) * jc / p.jc_chunks);
    const int pan1 = static_cast<int>(static_cast<int64_t>(p.panels) * (jc + 1) / p.jc_chunks);
    for (int i0 = r_begin; i0 < r_end; i0 += MC) {
      const int rows = std::min(MC, r_end - i0);
      for (int kb0 = 0; kb0 < nk; kb0 += kb_per_super) {
        const int kb1 = std::min(nk, kb0 + kb_per_super);
        for (int kb = kb0; kb < kb1; ++kb) {
          const int k0 = kb * KC, kc = std::min(KC, g.k - k0);
          if (kc > 0) pack_a(g.a, g.lda, i0, rows, k0, kc, a_buf + static_cast<size_t>(kb - kb0) * MC * KC / 2);
        }
        for (int c0 = pan0; c0 < pan1; c0 += NCP) {
          const int c1 = std::min(pan1, c0 + NCP);
          for (int kb = kb0; kb < kb1; ++kb) {
            const int k0 = kb * KC, kc = std::max(0, std::min(KC, g.k - k0)), kp = pairs(kc);
            const bool first = kb == 0, last = kb == nk - 1;
            const uint32_t* ablk = a_buf + static_cast<size_t>(kb - kb0) * MC * KC / 2;
            for (int pan = c0; pan < c1; ++pan) {
              const uint16_t* bp = g.b_packed + pan * panel_elems + static_cast<size_t>(k0 / 2) * NR * 2;
              const int j = pan * NR, cols = std::min(NR, g.n - j);
              const float* bias = first && g.epilogue.bias ? g.epilogue.bias + j : nullptr;
              if (bias && cols < NR) {
                std::memcpy(tile_bias, bias, sizeof(float) * cols);
                std::fill(tile_bias + cols, tile_bias + NR, 0.f);
                bias = tile_bias;
              }
              const bool load_c = !first || g.epilogue.accumulate;
              for (int r = 0; r < rows; r += MR) {
                const uint32_t* ap = ablk + static_cast<size_t>(r) * kp;
                const uint16_t* b_next = r + MR >= rows && pan + 1 < c1 ? bp + panel_elems : nullptr;
                float* c = g.c + static_cast<int64_t>(i0 + r) * g.ldc + j;
                const int mr = std::min(MR, rows - r);
                const bool full = mr == MR && cols == NR;
                float* cc = full ? c : tile;
                const int64_t ldcc = full ? g.ldc : NR;
                if (!full && load_c)  // edge tile through a buffer: C outside the matrix is never touched
                  for (int y = 0; y < mr; ++y) std::memcpy(tile + y * NR, c + y * g.ldc, sizeof(float) * cols);
                const float* c_next = nullptr;
                if (r + 2 * MR <= rows && cols == NR)
                  c_next = c + MR * g.ldc;
                else if (r + MR >= rows && rows >= MR && pan + 1 < c1 && g.n - (j + NR) >= NR)
                  c_next = g.c + static_cast<int64_t>(i0) * g.ldc + j + NR;
                micro_kernel(kp, ap, bp, cc, ldcc, b_next, c_next, bias, load_c, last, g.epilogue.activation);
                if (!full)
                  for (int y = 0; y < mr; ++y) std::memcpy(c + y * g.ldc, tile + y * NR, sizeof(float) * cols);
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

// The slots of this variant (listed in cpu/gemm_bf16_variants.cpp): constant data, no code runs to make it.
extern constinit const GemmBf16Kernels gemm_bf16_kernels{
    .gemm_bf16_packed_b_elems = packed_b_elems,
    .gemm_bf16_pack_b_nk = pack_b_nk,
    .gemm_bf16_pack_b_nk_bf16 = pack_b_nk_bf16,
    .gemm_bf16_jobs = jobs,
    .gemm_bf16_run = run,
};

}  // namespace kernels::avx512_bf16
