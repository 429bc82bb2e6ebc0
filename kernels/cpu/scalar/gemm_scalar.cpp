// Packed SGEMM for scalar: cpu/simd/gemm_impl.h with an 4 x (4 x lanes) micro-kernel.
#include "kernels/gemm.h"
#include "../simd/gemm_impl.h"
#include "../simd/vec_scalar.h"

namespace kernels::scalar {
namespace {

using G = simd::Gemm<simd::VecScalar, 4, 4>;

int gemm_mr() { return G::MR; }
int gemm_nr() { return G::NR; }
size_t gemm_packed_b_floats(int n, int k) { return G::packed_b_floats(n, k); }
void gemm_pack_b_nk(const float* w, int n, int k, int64_t ldw, float* out) { G::pack_b_nk(w, n, k, ldw, out); }
int64_t gemm_jobs(const PackedGemmArgs& g, int threads) { return G::jobs(g, threads); }
void gemm_run(const PackedGemmArgs& g, int threads, int64_t j0, int64_t j1) { G::run(g, threads, j0, j1); }

}  // namespace

// The slots of this variant (listed in cpu/gemm_variants.cpp): constant data, no code runs to make it.
extern constinit const GemmKernels gemm_kernels{
    .gemm_mr = gemm_mr,
    .gemm_nr = gemm_nr,
    .gemm_packed_b_floats = gemm_packed_b_floats,
    .gemm_pack_b_nk = gemm_pack_b_nk,
    .gemm_jobs = gemm_jobs,
    .gemm_run = gemm_run,
};

}  // namespace kernels::scalar
