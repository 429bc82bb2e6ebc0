// ISA-generic packed GEMM: B packing, the MR x NR micro-kernel with a
// fused epilogue, and the blocked driver, over a vector wrapper S with
// NV vectors per tile row (NR = NV * lanes). See kernels/gemm.h for layouts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "kernels/gemm.h"
#include "../thread_scratch.h"
#include "math_impl.h"

namespace kernels::simd {

template <class S, int MR_, int NV_>
struct Gemm {
  static constexpr int MR = MR_;
  static constexpr int NV = NV_;
  static constexpr int NR = NV * S::kLanes;
  static constexpr int KC = 192;  // K block: a KC x NR B micro-panel (24 KB at NR = 32) stays in L1 with the A stream
  static constexpr int kInPlacePanels = 4;  // up to this many NR panels per job, A is not packed
  static constexpr int MC = MR * 16;        // rows per block: the packed MC x KC block of A stays in L2
  static constexpr int KS = KC * 4;         // K super-block: A is packed MC x KS at a time (688 KB at 224 x 768), in L2
  static constexpr int NCP = 8;             // panels per column chunk: its MC x NCP*NR strip of C (229 KB) stays in L2
  using V = typename S::V;

  static size_t packed_b_floats(int n, int k) {
    return static_cast<size_t>((n + NR - 1) / NR) * NR * static_cast<size_t>(k);
  }

  // w: torch Linear weight [N, K] (row stride ldw), i.e. B = w^T.
  static void pack_b_nk(const float* w, int n, int k, int64_t ldw, float* out) {
    const int panels = (n + NR - 1) / NR;
    for (int p = 0; p < panels; ++p) {
      float* dst = out + static_cast<size_t>(p) * NR * k;
      for (int c = 0; c < NR; ++c) {
        const int col = p * NR + c;
        if (col < n) {
          const float* src = w + static_cast<int64_t>(col) * ldw;
          for (int kk = 0; kk < k; ++kk) dst[static_cast<size_t>(kk) * NR + c] = src[kk];
        } else {
          for (int kk = 0; kk < k; ++kk) dst[static_cast<size_t>(kk) * NR + c] = 0.f;
        }
      }
    }
  }

  // A rows [i0, i0+rows) x k-range [k0, k0+kc) -> MR-row micro-panels, k-major,
  // zero-padded to a multiple of MR rows.
  // Vector ISAs transpose kLanes x kLanes blocks in registers (MR <= kLanes rows,
  // zero rows above MR): for a narrow C (the neck's N = 256) the scalar copy
  // was ~19% of the GEMM's time.
  static void pack_a(const float* a, int64_t lda, int i0, int rows, int k0, int kc, float* out) {
    for (int p = 0; p < rows; p += MR) {
      const int valid = std::min(MR, rows - p);
      const float* src[MR];
      for (int r = 0; r < MR; ++r) src[r] = a + static_cast<int64_t>(i0 + p + std::min(r, valid - 1)) * lda + k0;
      pack_panel(src, valid, kc, out + static_cast<size_t>(p) * kc);
    }
  }

  // One MR-row micro-panel from row pointers: dst[kk * MR + r] = src[r][kk] for
  // r < valid, zero for the rows above (src[r] for r >= valid is not read).
  static void pack_panel(const float* const* src, int valid, int kc, float* dst) {
    constexpr int L = S::kLanes;
    int kk0 = 0;
    if constexpr (L > 1 && MR <= L) {
      for (; kk0 + L <= kc; kk0 += L) {
        V blk[L];
#pragma GCC unroll 16
        for (int r = 0; r < L; ++r) blk[r] = r < valid ? S::load(src[r] + kk0) : S::zero();
        S::transpose(blk);
        // Column c's MR floats, stored in order: all but the last as a full
        // vector whose L - MR extra lanes the next columns overwrite (a masked
        // store costs ~10x a plain one on AMD Zen 1: the decoder's 4096x128x256
        // GEMM went from 6.6 to 4.2 ms there); the last one masked. With
        // L <= 2 MR no full store reaches past the block's end.
        if constexpr (L <= 2 * MR) {
#pragma GCC unroll 16
          for (int c = 0; c + 1 < L; ++c) S::store(dst + (kk0 + c) * MR, blk[c]);
          S::store_first(dst + (kk0 + L - 1) * MR, blk[L - 1], MR);
        } else {
#pragma GCC unroll 16
          for (int c = 0; c < L; ++c) S::store_first(dst + (kk0 + c) * MR, blk[c], MR);
        }
      }
    }
    for (int kk = kk0; kk < kc; ++kk) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) dst[kk * MR + r] = r < valid ? src[r][kk] : 0.f;
    }
  }

  // One MR x NR tile: c = [C and/or bias] + A B over kc, then the activation on
  // the last K block. kPacked: ap is a packed MR-row micro-panel (k-major);
  // otherwise A rows are read in place with stride lda.
  // Prefetches, spread over the k loop so they never queue up at once:
  //  - b_next: the next B micro-panel (or null), NR floats per k step;
  //  - c_next: the next C tile (or null), one line every 4 k steps, for
  //    writing. A tile's C lines come from memory on its first K block and
  //    from L2 on later ones; fetched at the stores they stall the core (~3%
  //    of the wide encoder GEMMs, measured against fetching this tile's own C
  //    when the tile starts).
  // Not inlined into the driver: there GCC keeps loop-invariant values in
  // vector registers and spills accumulators inside the k loop.
  template <bool kPacked>
  [[gnu::noinline]] static void micro_kernel(int kc, const float* ap, int64_t lda, const float* bp, float* c,
                                            int64_t ldc, const float* b_next, const float* c_next,
                                            const float* bias, bool load_c, bool last, Activation act) {
    constexpr int kLinesPerRow = (NR * 4 + 63) / 64;
    constexpr int kCLines = MR * kLinesPerRow;
    // The products are summed from zero and C / bias added once at the end, so
    // that a large residual in C does not coarsen the rounding of the sum.
    V acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
#pragma GCC unroll 4
    for (int kk = 0; kk < kc; ++kk) {
      if (b_next) {
        __builtin_prefetch(b_next + kk * NR);
        if constexpr (NR * 4 > 64) __builtin_prefetch(b_next + kk * NR + 16);
      }
      if (c_next && (kk & 3) == 0 && kk / 4 < kCLines) {
        const int line = kk / 4;
        __builtin_prefetch(c_next + (line / kLinesPerRow) * ldc + (line % kLinesPerRow) * 16, 1, 3);
      }
      V b[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) b[v] = S::load(bp + kk * NR + v * S::kLanes);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const V a = S::set1(kPacked ? ap[kk * MR + r] : ap[r * lda + kk]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(a, b[v], acc[r][v]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if (bias) acc[r][v] = S::add(acc[r][v], S::load(bias + v * S::kLanes));
        if (load_c) acc[r][v] = S::add(acc[r][v], S::load(c + r * ldc + v * S::kLanes));
      }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) S::store(c + r * ldc + v * S::kLanes, acc[r][v]);
    // GELU from the stored tile (in L1), once the accumulators are dead: its
    // constants and temporaries alongside 28 live accumulators would push the
    // register allocator into spilling accumulators in the k loop.
    if (last && act == Activation::Gelu) {
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          S::store(c + r * ldc + v * S::kLanes, gelu<S>(S::load(c + r * ldc + v * S::kLanes)));
    }
  }

  // Work split: the M rows in `row_parts` ranges of whole MR tiles (as even as
  // MR allows, one per thread when M is large: the pool's parallel_for hands
  // each thread one contiguous range of jobs, so equal jobs mean equal work),
  // times `jc_chunks` ranges of NR panels when there are too few row tiles.
  struct Plan {
    int row_parts, jc_chunks, panels, tiles;
  };
  static Plan plan(const PackedGemmArgs& g, int threads) {
    Plan p;
    p.tiles = (g.m + MR - 1) / MR;
    p.panels = (g.n + NR - 1) / NR;
    const int want = std::max(threads, 1);
    p.row_parts = std::min(p.tiles, want);
    p.jc_chunks = p.row_parts >= want ? 1 : std::min(p.panels, (want + p.row_parts - 1) / p.row_parts);
    return p;
  }
  static int64_t jobs(const PackedGemmArgs& g, int threads) {
    if (g.m == 0 || g.n == 0) return 0;
    const Plan p = plan(g, threads);
    return static_cast<int64_t>(p.row_parts) * p.jc_chunks;
  }

  // Runs jobs [j0, j1) of the plan for `threads` (each job: a range of row
  // tiles, in MC-row blocks, x a chunk of NR panels; jobs never share C elements).
  static void run(const PackedGemmArgs& g, int threads, int64_t j0, int64_t j1) {
    const Plan p = plan(g, threads);
    float* const a_buf = detail::thread_scratch_floats(static_cast<size_t>(MC) * KS);  // grows once per thread
    alignas(64) float tile[MR * NR];
    alignas(64) float tile_bias[NR];
    const int nk = std::max(1, (g.k + KC - 1) / KC);
    constexpr int kb_per_super = KS / KC;
    for (int64_t job = j0; job < j1; ++job) {
      const int part = static_cast<int>(job / p.jc_chunks), jc = static_cast<int>(job % p.jc_chunks);
      const int r_begin = static_cast<int>(static_cast<int64_t>(p.tiles) * part / p.row_parts) * MR;
      const int r_end = std::min(g.m, static_cast<int>(static_cast<int64_t>(p.tiles) * (part + 1) / p.row_parts) * MR);
      const int pan0 = static_cast<int>(static_cast<int64_t>(p.panels) * jc / p.jc_chunks);
      const int pan1 = static_cast<int>(static_cast<int64_t>(p.panels) * (jc + 1) / p.jc_chunks);
      // Narrow C (few panels): packing A costs more than it saves; read it in
      // place, except a ragged last group of rows (packed, zero-padded).
      const bool packed = pan1 - pan0 > kInPlacePanels;
      for (int i0 = r_begin; i0 < r_end; i0 += MC) {
        const int rows = std::min(MC, r_end - i0);
        const int in_place_rows = packed ? 0 : rows / MR * MR;
        // A is packed a K super-block at a time (one KC block after another);
        // then each chunk of NCP panels runs through all of its K blocks, so
        // that chunk's strip of C is revisited from L2, not from memory.
        for (int kb0 = 0; kb0 < nk; kb0 += kb_per_super) {
          const int kb1 = std::min(nk, kb0 + kb_per_super);
          for (int kb = kb0; kb < kb1; ++kb) {
            const int k0 = kb * KC, kc = std::min(KC, g.k - k0);
            float* dst = a_buf + static_cast<size_t>(kb - kb0) * MC * KC;
            if (kc <= 0) continue;
            if (packed)
              pack_a(g.a, g.lda, i0, rows, k0, kc, dst);
            else if (in_place_rows < rows)
              pack_a(g.a, g.lda, i0 + in_place_rows, rows - in_place_rows, k0, kc, dst);
          }
          for (int c0 = pan0; c0 < pan1; c0 += NCP) {
            const int c1 = std::min(pan1, c0 + NCP);
            for (int kb = kb0; kb < kb1; ++kb) {
              const int k0 = kb * KC, kc = std::max(0, std::min(KC, g.k - k0));
              const bool first = kb == 0, last = kb == nk - 1;
              const float* ablk = a_buf + static_cast<size_t>(kb - kb0) * MC * KC;
              for (int pan = c0; pan < c1; ++pan) {
                const float* bp = g.b_packed + static_cast<size_t>(pan) * NR * g.k + static_cast<size_t>(k0) * NR;
                const int j = pan * NR, cols = std::min(NR, g.n - j);
                const float* bias = first && g.epilogue.bias ? g.epilogue.bias + j : nullptr;
                if (bias && cols < NR) {
                  std::memcpy(tile_bias, bias, sizeof(float) * cols);
                  std::fill(tile_bias + cols, tile_bias + NR, 0.f);
                  bias = tile_bias;
                }
                const bool load_c = !first || g.epilogue.accumulate;
                for (int r = 0; r < rows; r += MR) {
                  const bool use_packed = packed || r >= in_place_rows;
                  const float* ap = packed       ? ablk + static_cast<size_t>(r) * kc
                                    : use_packed ? ablk
                                                 : g.a + static_cast<int64_t>(i0 + r) * g.lda + k0;
                  // On a panel's last row tile, fetch the next panel's B (the packed A
                  // stream is sequential: the hardware prefetcher has it).
                  const float* b_next = r + MR >= rows && pan + 1 < c1 ? bp + static_cast<size_t>(NR) * g.k : nullptr;
                  float* c = g.c + static_cast<int64_t>(i0 + r) * g.ldc + j;
                  const int mr = std::min(MR, rows - r);
                  const bool full = mr == MR && cols == NR;
                  float* cc = full ? c : tile;
                  const int64_t ldcc = full ? g.ldc : NR;
                  if (!full && load_c)  // edge tile through a buffer: C outside the matrix is never touched
                    for (int y = 0; y < mr; ++y) std::memcpy(tile + y * NR, c + y * g.ldc, sizeof(float) * cols);
                  // The C tile after this one when it is whole: the next row tile, or
                  // at the panel's end the next panel's first.
                  const float* c_next = nullptr;
                  if (r + 2 * MR <= rows && cols == NR)
                    c_next = c + MR * g.ldc;
                  else if (r + MR >= rows && rows >= MR && pan + 1 < c1 && g.n - (j + NR) >= NR)
                    c_next = g.c + static_cast<int64_t>(i0) * g.ldc + j + NR;
                  if (use_packed)
                    micro_kernel<true>(kc, ap, 0, bp, cc, ldcc, b_next, c_next, bias, load_c, last, g.epilogue.activation);
                  else
                    micro_kernel<false>(kc, ap, g.lda, bp, cc, ldcc, b_next, c_next, bias, load_c, last,
                                        g.epilogue.activation);
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
};

}  // namespace kernels::simd
