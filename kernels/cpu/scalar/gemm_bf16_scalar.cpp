// The bf16 packed GEMM that runs on every CPU (kernels/gemm_bf16.h): plain C++,
// the same bf16-rounded inputs as the SIMD variants, products summed in f32.
// B is packed k-major ([K, N] bf16), so that the inner loop runs over
// contiguous columns (the compiler vectorises it with whatever the baseline
// ISA offers); rows go in blocks of RB and columns in chunks of CB, which
// stay in registers / L1 while K is swept.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <vector>

#include "kernels/eltwise.h"
#include "kernels/gemm_bf16.h"

namespace kernels::scalar {
namespace {

constexpr int RB = 4;    // rows per block
constexpr int CB = 128;  // columns per chunk

size_t packed_b_elems(int n, int k) { return static_cast<size_t>(n) * static_cast<size_t>(k); }

void pack_b_nk(const float* w, int n, int k, int64_t ldw, uint16_t* out) {
  assert(n >= 0 && k >= 0 && ((w && out) || n == 0 || k == 0));
  for (int j = 0; j < n; ++j)
    for (int p = 0; p < k; ++p) out[static_cast<size_t>(p) * n + j] = ref::f32_to_bf16(w[j * ldw + p]);
}

void pack_b_nk_bf16(const uint16_t* w, int n, int k, int64_t ldw, uint16_t* out) {
  assert(n >= 0 && k >= 0 && ((w && out) || n == 0 || k == 0));
  for (int j = 0; j < n; ++j)
    for (int p = 0; p < k; ++p) out[static_cast<size_t>(p) * n + j] = w[j * ldw + p];
}

// One job per thread, each a contiguous range of RB-row blocks.
int64_t jobs(const PackedGemmBf16Args& g, int threads) {
  if (g.m <= 0 || g.n <= 0) return 0;
  return std::min<int64_t>((g.m + RB - 1) / RB, std::max(threads, 1));
}

void run(const PackedGemmBf16Args& g, int threads, int64_t j0, int64_t j1) {
  if (j0 >= j1) return;
  assert(g.k >= 0 && g.a && g.c && (g.b_packed || g.k == 0));
  const int64_t blocks = (g.m + RB - 1) / RB, njobs = jobs(g, threads);
  const int r_begin = static_cast<int>(blocks * j0 / njobs) * RB;
  const int r_end = std::min(g.m, static_cast<int>(blocks * j1 / njobs) * RB);
  thread_local std::vector<float> a_rows;  // RB rows of A, rounded to bf16 (as f32)
  a_rows.resize(static_cast<size_t>(RB) * std::max(g.k, 1));
  float acc[RB][CB], b_row[CB];
  for (int i0 = r_begin; i0 < r_end; i0 += RB) {
    const int rb = std::min(RB, r_end - i0);
    for (int r = 0; r < rb; ++r)
      for (int p = 0; p < g.k; ++p)
        a_rows[static_cast<size_t>(r) * g.k + p] = ref::bf16_to_f32(ref::f32_to_bf16(g.a[(i0 + r) * g.lda + p]));
    for (int j0c = 0; j0c < g.n; j0c += CB) {
      const int cb = std::min(CB, g.n - j0c);
      for (int r = 0; r < RB; ++r) std::fill(acc[r], acc[r] + CB, 0.f);
      for (int p = 0; p < g.k; ++p) {
        const uint16_t* b = g.b_packed + static_cast<size_t>(p) * g.n + j0c;
        for (int j = 0; j < cb; ++j) b_row[j] = ref::bf16_to_f32(b[j]);
        for (int r = 0; r < rb; ++r) {
          const float av = a_rows[static_cast<size_t>(r) * g.k + p];
          for (int j = 0; j < cb; ++j) acc[r][j] += av * b_row[j];
        }
      }
      for (int r = 0; r < rb; ++r) {
        float* c = g.c + (i0 + r) * g.ldc + j0c;
        for (int j = 0; j < cb; ++j) {
          float v = acc[r][j];
          if (g.epilogue.bias) v += g.epilogue.bias[j0c + j];
          if (g.epilogue.accumulate) v += c[j];
          c[j] = v;
        }
        if (g.epilogue.activation == Activation::Gelu) ref::gelu(c, cb);
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

}  // namespace kernels::scalar
