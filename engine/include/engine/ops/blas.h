// The OpenBLAS baseline as an op: raw-pointer sgemm for the small per-head
// products of the decoder's attention and the unfused reference paths, and the
// process-wide OpenBLAS thread count.
#pragma once

namespace engine::ops {

// c[m, n] = alpha * a[m, k] @ (trans_b ? b[n, k]^T : b[k, n]); row-major with
// leading dimensions; c is overwritten.
void gemm_blas(bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
               float* c, int ldc);

// OpenBLAS's own thread count (process-wide).
void set_blas_threads(int n);

// While alive, OpenBLAS runs single-threaded: for loops of small GEMMs inside
// our pool's workers (OpenBLAS must not start threads of its own there). Several
// holders on several threads nest: the last one out restores one BLAS thread
// per pool thread (blas_threads_for).
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;
};

}  // namespace engine::ops
