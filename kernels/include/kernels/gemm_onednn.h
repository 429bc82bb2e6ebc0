// oneDNN (Debian libdnnl-dev) as the selectable baseline of the model's Linear
// layers (SAM_GEMM=onednn), the way OpenBLAS is for f32 (SAM_GEMM=openblas):
// one dnnl::matmul per layer with oneDNN's own weight layout, f32 or bf16
// (bf16 src and weights, f32 accumulation, bias and output), the epilogue
// (accumulate into C, erf GELU) as oneDNN post-ops. For comparisons only: our
// packed GEMM stays the default.
//
// Threads: oneDNN runs on its own OpenMP threads (Debian's build), as many as
// run() is told; our pool idles meanwhile.
#pragma once

#include <memory>
#include <string>

namespace kernels {

// False when this build has no oneDNN (libdnnl-dev was absent at configure time).
bool onednn_available();
// "oneDNN 2.6.3 (OpenMP runtime)", or why it is not there.
std::string onednn_description();
// Whether oneDNN offers a bf16 matmul on this CPU (probed once: oneDNN 2.x
// has bf16 kernels only from AVX-512 on, e.g. none on AVX2-only Zen 1/2).
bool onednn_bf16_available();

class OnednnLinear {
 public:
  // w [n, k] f32 row-major with row stride ldw: reordered (and in bf16
  // rounded) into oneDNN's layout; not read after construction. Throws
  // std::runtime_error for bf16 where !onednn_bf16_available().
  OnednnLinear(const float* w, int n, int k, int ldw, bool bf16);
  ~OnednnLinear();
  OnednnLinear(const OnednnLinear&) = delete;
  OnednnLinear& operator=(const OnednnLinear&) = delete;

  int n() const;
  int k() const;
  bool bf16() const;

  // c[m, n] = a[m, k] @ w^T (+ bias[n]) (+ the previous c when accumulate),
  // then erf GELU when gelu. Row strides lda, ldc (>= k, n). With
  // accumulate == false, c is not read. Thread-safe (calls on one layer are
  // serialised: the layer keeps its bf16 copy of a); `threads` OpenMP threads.
  void run(const float* a, int m, int lda, const float* bias, float* c, int ldc, bool accumulate, bool gelu,
           int threads) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kernels
