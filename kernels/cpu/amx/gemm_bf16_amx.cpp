// The bf16 packed GEMM with AMX tiles (kernels/gemm_bf16.h): TDPBF16PS
// multiplies a 16 x 32 bf16 tile of A with a 16 x (16 pairs) tile of B into a
// 16 x 16 f32 tile of C. Written for simplicity over speed (no CPU with AMX
// was at hand to tune it on):
//  * every tile is configured 16 rows x 64 bytes (palette 1);
//  * tiles 0..3 hold a 32 x 32 block of C (2 x 2 tiles), 4..5 two A tiles
//    (rows 0..15 and 16..31), 6..7 two B tiles (columns 0..15 and 16..31);
//  * K is padded with zeros to a multiple of 32 (KT), on both A and B;
//  * B, panel p of 16 columns (the number of panels rounded up to even, the
//    extra panel zero): for each pair kp of K, the 16 columns' words
//    (B[2kp, j], B[2kp+1, j]) -- the VNNI layout TDPBF16PS reads, 64 bytes per
//    tile row, so a tile of B is 1 KB of contiguous memory;
//  * A: a 32-row block is rounded to bf16 row-major ([32][K padded]); rows
//    past M are zero;
//  * the C block goes through a 32 x 32 buffer, where the epilogue (bias, old
//    C, GELU) is applied and only the valid rows / columns are written.
// The tile configuration is per thread: gemm_bf16_run loads it and releases
// the tiles at the end. Linux must have granted the tile data state
// (request_amx_permission, this variant's `ready` check) before any tile use.
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

namespace kernels::amx {
namespace {

using S = simd::VecAvx512;

constexpr int TM = 16;  // tile rows
constexpr int TN = 16;  // f32 columns of a C tile / B panel width
constexpr int KT = 32;  // bf16 values of K per A tile row
constexpr int BM = 2 * TM;  // C block rows
constexpr int BN = 2 * TN;  // C block columns

int padded_k(int k) { return (k + KT - 1) / KT * KT; }
int groups(int n) { return (n + BN - 1) / BN; }  // pairs of 16-column panels

size_t packed_b_elems(int n, int k) {
  return static_cast<size_t>(groups(n)) * BN * static_cast<size_t>(padded_k(k));
}

template <class Get>
void pack_b(int n, int k, uint16_t* out, Get get) {
  const int kpad = padded_k(k), panels = 2 * groups(n);
  for (int p = 0; p < panels; ++p) {
    uint16_t* dst = out + static_cast<size_t>(p) * TN * kpad;
    for (int c = 0; c < TN; ++c) {
      const int col = p * TN + c;
      for (int kk = 0; kk < kpad; ++kk)
        dst[(static_cast<size_t>(kk / 2) * TN + c) * 2 + (kk & 1)] = col < n && kk < k ? get(col, kk) : uint16_t{0};
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

// Rows [i0, i0 + rows) of A (rows <= BM) -> BM rows of kpad bf16, zero past K and past `rows`.
void pack_a(const float* a, int64_t lda, int i0, int rows, int k, int kpad, uint16_t* out) {
  for (int r = 0; r < BM; ++r) {
    uint16_t* dst = out + static_cast<size_t>(r) * kpad;
    if (r >= rows) {
      std::memset(dst, 0, sizeof(uint16_t) * kpad);
      continue;
    }
    const float* src = a + static_cast<int64_t>(i0 + r) * lda;
    for (int kk = 0; kk < kpad; kk += KT)
      _mm512_storeu_si512(dst + kk, kk < k ? simd::bf16::load_round32(src + kk, k - kk) : _mm512_setzero_si512());
  }
}

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64);

// Row blocks of BM rows (one part per thread when M is large) times chunks of
// BN-column groups when there are too few row blocks (as the other variants).
struct Plan {
  int row_parts, col_chunks, blocks, groups;
};

Plan plan(const PackedGemmBf16Args& g, int threads) {
  Plan p;
  p.blocks = (g.m + BM - 1) / BM;
  p.groups = groups(g.n);
  const int want = std::max(threads, 1);
  p.row_parts = std::min(p.blocks, want);
  p.col_chunks = p.row_parts >= want ? 1 : std::min(p.groups, (want + p.row_parts - 1) / p.row_parts);
  return p;
}

int64_t jobs(const PackedGemmBf16Args& g, int threads) {
  if (g.m <= 0 || g.n <= 0) return 0;
  const Plan p = plan(g, threads);
  return static_cast<int64_t>(p.row_parts) * p.col_chunks;
}

// The epilogue of one BM x BN block from `acc` (row stride BN) into C.
void store_block(const PackedGemmBf16Args& g, const float* acc, int i0, int rows, int j0, int cols) {
  for (int h = 0; h < 2; ++h) {
    const int c0 = j0 + h * TN, n = std::min(TN, cols - h * TN);
    if (n <= 0) break;
    const __mmask16 m = n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
    const __m512 bias = g.epilogue.bias ? _mm512_maskz_loadu_ps(m, g.epilogue.bias + c0) : S::zero();
    for (int r = 0; r < rows; ++r) {
      float* c = g.c + static_cast<int64_t>(i0 + r) * g.ldc + c0;
      __m512 v = S::add(S::load(acc + r * BN + h * TN), bias);
      if (g.epilogue.accumulate) v = S::add(v, _mm512_maskz_loadu_ps(m, c));
      if (g.epilogue.activation == Activation::Gelu) v = simd::gelu<S>(v);
      _mm512_mask_storeu_ps(c, m, v);
    }
  }
}

void run(const PackedGemmBf16Args& g, int threads, int64_t j0, int64_t j1) {
  if (j0 >= j1) return;
  assert(g.k >= 0 && g.a && g.c && (g.b_packed || g.k == 0));
  const Plan p = plan(g, threads);
  const int kpad = padded_k(g.k);
  const size_t group_elems = static_cast<size_t>(BN) * kpad;  // two panels
  const size_t panel_elems = static_cast<size_t>(TN) * kpad;
  // BM rows of kpad bf16, grown once per thread (no std container in an ISA
  // translation unit: cpu/thread_scratch.h).
  uint16_t* const a_buf = reinterpret_cast<uint16_t*>(
      detail::thread_scratch_floats((static_cast<size_t>(BM) * std::max(kpad, KT) + 1) / 2));
  alignas(64) float acc[BM * BN];

  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = TM;
  }
  _tile_loadconfig(&cfg);
  const int64_t a_stride = static_cast<int64_t>(kpad) * 2;  // bytes per A row
  for (int64_t job = j0; job < j1; ++job) {
    const int part = static_cast<int>(job / p.col_chunks), cc = static_cast<int>(job % p.col_chunks);
    const int b_begin = static_cast<int>(static_cast<int64_t>(p.blocks) * part / p.row_parts);
    const int b_end = static_cast<int>(static_cast<int64_t>(p.blocks) * (part + 1) / p.row_parts);
    const int g0 = static_cast<int>(static_cast<int64_t>(p.groups) * cc / p.col_chunks);
    const int g1 = static_cast<int>(static_cast<int64_t>(p.groups) * (cc + 1) / p.col_chunks);
    for (int blk = b_begin; blk < b_end; ++blk) {
      const int i0 = blk * BM, rows = std::min(BM, g.m - i0);
      pack_a(g.a, g.lda, i0, rows, g.k, kpad, a_buf);
      const uint16_t* a0 = a_buf;
      const uint16_t* a1 = a_buf + static_cast<size_t>(TM) * kpad;
      for (int gr = g0; gr < g1; ++gr) {
        const uint16_t* b0 = g.b_packed + gr * group_elems;
        const uint16_t* b1 = b0 + panel_elems;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int k0 = 0; k0 < kpad; k0 += KT) {
          // A tiles: 16 rows of 32 bf16 at column k0; B tiles: 16 pairs (k0 / 2 ..) of 16 columns.
          _tile_loadd(4, a0 + k0, a_stride);
          _tile_loadd(5, a1 + k0, a_stride);
          _tile_loadd(6, b0 + static_cast<size_t>(k0 / 2) * TN * 2, TN * 4);
          _tile_loadd(7, b1 + static_cast<size_t>(k0 / 2) * TN * 2, TN * 4);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
        _tile_stored(0, acc, BN * 4);
        _tile_stored(1, acc + TN, BN * 4);
        _tile_stored(2, acc + TM * BN, BN * 4);
        _tile_stored(3, acc + TM * BN + TN, BN * 4);
        store_block(g, acc, i0, rows, gr * BN, std::min(BN, g.n - gr * BN));
      }
    }
  }
  _tile_release();
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

}  // namespace kernels::amx
