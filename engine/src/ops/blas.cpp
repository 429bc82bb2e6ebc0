#include "engine/ops/blas.h"

#include <mutex>

#include "engine/ops.h"
#include "engine/thread_pool.h"
#include "kernels/gemm.h"

namespace engine::ops {

void gemm_blas(bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
               float* c, int ldc) {
  kernels::GemmArgs g;
  g.trans_b = trans_b;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = alpha;
  g.a = a;
  g.lda = lda;
  g.b = b;
  g.ldb = ldb;
  g.c = c;
  g.ldc = ldc;
  kernels::sgemm_openblas(g);
}

void set_blas_threads(int n) { kernels::set_blas_threads(n); }

namespace {

std::mutex& blas_mutex() {
  static std::mutex m;
  return m;
}
int& blas_users() {
  static int n = 0;
  return n;
}

}  // namespace

SingleThreadedBlas::SingleThreadedBlas() {
  std::lock_guard<std::mutex> lock(blas_mutex());
  if (blas_users()++ == 0) kernels::set_blas_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  std::lock_guard<std::mutex> lock(blas_mutex());
  if (--blas_users() == 0) kernels::set_blas_threads(blas_threads_for(thread_pool().num_threads()));
}

}  // namespace engine::ops
