#include "engine/ops.h"
#include "kernel_table.h"
#include "ops/row_view.h"

#include <cstdlib>
#include <string_view>

#include "engine/runtime.h"
#include "engine/thread_pool.h"

#include "kernels/table.h"
#include "kernels/eltwise.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/norm.h"

namespace engine::ops {
namespace {

void require_f32(const Tensor& t, const char* what) {
  check(t.dtype() == DType::F32, "{}: expected f32, got {}", what, dtype_name(t.dtype()));
}

}  // namespace

void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  require_f32(x, "linear input");
  require_f32(w, "linear weight");
  require_f32(y, "linear output");
  if (!(w.rank() == 2 && w.is_contiguous())) fail("linear: weight must be a contiguous [N, K] matrix, got {}",
        w.shape().str());
  const Rows xr = as_rows(x, "linear input");
  const Rows yr = as_rows(y, "linear output");
  const int64_t n = w.dim(0), k = w.dim(1);
  if (!(xr.cols == k && yr.cols == n && xr.rows == yr.rows)) fail("linear: {} x {}^T -> {} does not fit",
        x.shape().str(), w.shape().str(), y.shape().str());
  if (bias) {
    require_f32(*bias, "linear bias");
    if (!(bias->rank() == 1 && bias->dim(0) == n && bias->is_contiguous())) fail("linear: bias {} for {} outputs",
          bias->shape().str(), n);
    const float* b = bias->data<float>();
    float* out = y.data<float>();
    for (int64_t r = 0; r < yr.rows; ++r)
      for (int64_t j = 0; j < n; ++j) out[r * yr.ld + j] = b[j];
  }
  kernels::GemmArgs g;
  g.trans_b = true;
  g.m = static_cast<int>(xr.rows);
  g.n = static_cast<int>(n);
  g.k = static_cast<int>(k);
  g.a = x.data<float>();
  g.lda = static_cast<int>(xr.ld);
  g.b = w.data<float>();
  g.ldb = static_cast<int>(k);
  g.beta = bias ? 1.f : 0.f;
  g.c = y.data<float>();
  g.ldc = static_cast<int>(yr.ld);
  kernels::sgemm_openblas(g);
}

bool use_packed_gemm() {
  static const bool packed = [] {
    const GemmBackend g = runtime_options().gemm;
    if (g != GemmBackend::OpenBlas) kernels::set_blas_threads(1);  // see blas_threads_for
    return g == GemmBackend::Packed;
  }();
  return packed;
}

int blas_threads_for(int pool_threads) {
  return runtime_options().gemm == GemmBackend::OpenBlas ? pool_threads : 1;
}

PackedLinear pack_linear(const Tensor& weight, DType dtype) {
  check(dtype == DType::F32 || dtype == DType::BF16, "pack_linear: panels are f32 or bf16, not {}",
        dtype_name(dtype));
  check(weight.rank() == 2 && weight.stride(1) == 1, "pack_linear: weight must be [N, K] with contiguous rows");
  check(is_floating(weight.dtype()), "pack_linear: weight must be f32, f16 or bf16, got {}", dtype_name(weight.dtype()));
  const kernels::KernelTable& t = kernel_table();
  PackedLinear p;
  p.n = static_cast<int>(weight.dim(0));
  p.k = static_cast<int>(weight.dim(1));
  p.dtype = dtype;
  const bool as_stored = weight.dtype() == DType::F32 || (dtype == DType::BF16 && weight.dtype() == DType::BF16);
  const Tensor w = as_stored ? weight : weight.contiguous().to(DType::F32);  // f16: exact widening
  const int64_t ldw = std::max<int64_t>(w.stride(0), p.k);
  if (dtype == DType::F32) {
    p.panels = Tensor::empty(DType::F32, {static_cast<int64_t>(t.gemm_packed_b_floats(p.n, p.k))});
    t.gemm_pack_b_nk(w.data<float>(), p.n, p.k, ldw, p.panels.data<float>());
    return p;
  }
  p.panels = Tensor::empty(DType::BF16, {static_cast<int64_t>(t.gemm_bf16_packed_b_elems(p.n, p.k))});
  uint16_t* out = static_cast<uint16_t*>(p.panels.raw_data());
  if (w.dtype() == DType::BF16)
    t.gemm_bf16_pack_b_nk_bf16(static_cast<const uint16_t*>(w.raw_data()), p.n, p.k, ldw, out);
  else
    t.gemm_bf16_pack_b_nk(w.data<float>(), p.n, p.k, ldw, out);
  return p;
}

void linear(const Tensor& x, const PackedLinear& w, const Tensor* bias, Tensor& y, bool accumulate, bool gelu) {
  require_f32(x, "linear input");
  require_f32(y, "linear output");
  const Rows xr = as_rows(x, "linear input");
  const Rows yr = as_rows(y, "linear output");
  if (xr.cols != w.k || yr.cols != w.n || xr.rows != yr.rows)
    fail("linear: {} x [{}, {}]^T -> {} does not fit", x.shape().str(), w.n, w.k, y.shape().str());
  if (bias && (bias->numel() != w.n || !bias->is_contiguous()))
    fail("linear: bias {} for {} outputs", bias->shape().str(), w.n);
  const kernels::KernelTable& t = kernel_table();
  ThreadPool& pool = thread_pool();
  const int threads = pool.num_threads();
  kernels::GemmEpilogue epilogue;
  epilogue.bias = bias ? bias->data<float>() : nullptr;
  epilogue.accumulate = accumulate;
  epilogue.activation = gelu ? kernels::Activation::Gelu : kernels::Activation::None;
  if (w.dtype == DType::BF16) {
    kernels::PackedGemmBf16Args g;
    g.m = static_cast<int>(xr.rows);
    g.n = w.n;
    g.k = w.k;
    g.a = x.data<float>();
    g.lda = xr.ld;
    g.b_packed = static_cast<const uint16_t*>(w.panels.raw_data());
    g.c = y.data<float>();
    g.ldc = yr.ld;
    g.epilogue = epilogue;
    const int64_t jobs = t.gemm_bf16_jobs(g, threads);
    pool.parallel_for(0, jobs, 1, [&](int64_t j0, int64_t j1) { t.gemm_bf16_run(g, threads, j0, j1); });
    return;
  }
  kernels::PackedGemmArgs g;
  g.m = static_cast<int>(xr.rows);
  g.n = w.n;
  g.k = w.k;
  g.a = x.data<float>();
  g.lda = xr.ld;
  g.b_packed = w.panels.data<float>();
  g.c = y.data<float>();
  g.ldc = yr.ld;
  g.epilogue = epilogue;
  const int64_t jobs = t.gemm_jobs(g, threads);
  pool.parallel_for(0, jobs, 1, [&](int64_t j0, int64_t j1) { t.gemm_run(g, threads, j0, j1); });
}

void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha, float beta) {
  require_f32(a, "matmul A");
  require_f32(b, "matmul B");
  require_f32(c, "matmul C");
  check(a.rank() == 2 && b.rank() == 2 && c.rank() == 2, "matmul: 2-D tensors expected");
  check(a.stride(1) == 1 && b.stride(1) == 1 && c.stride(1) == 1, "matmul: rows must be contiguous");
  const int64_t m = trans_a ? a.dim(1) : a.dim(0);
  const int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t kb = trans_b ? b.dim(1) : b.dim(0);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  if (!(k == kb && c.dim(0) == m && c.dim(1) == n)) fail("matmul: {}{} x {}{} -> {} does not fit", a.shape().str(),
        trans_a ? "^T" : "", b.shape().str(), trans_b ? "^T" : "", c.shape().str());
  kernels::GemmArgs g;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.m = static_cast<int>(m);
  g.n = static_cast<int>(n);
  g.k = static_cast<int>(k);
  g.alpha = alpha;
  g.a = a.data<float>();
  g.lda = static_cast<int>(std::max<int64_t>(a.stride(0), a.dim(1)));
  g.b = b.data<float>();
  g.ldb = static_cast<int>(std::max<int64_t>(b.stride(0), b.dim(1)));
  g.beta = beta;
  g.c = c.data<float>();
  g.ldc = static_cast<int>(std::max<int64_t>(c.stride(0), c.dim(1)));
  kernels::sgemm_openblas(g);
}

void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps, Tensor& y) {
  require_f32(x, "layer_norm input");
  require_f32(y, "layer_norm output");
  const Rows xr = as_rows(x, "layer_norm input");
  const Rows yr = as_rows(y, "layer_norm output");
  if (!(xr.rows == yr.rows && xr.cols == yr.cols)) fail("layer_norm: {} -> {}", x.shape().str(), y.shape().str());
  check(weight.numel() == xr.cols && bias.numel() == xr.cols && weight.is_contiguous() && bias.is_contiguous(),
        "layer_norm: weight/bias of {} for {} channels", weight.numel(), xr.cols);
  kernels::LayerNormArgs a;
  a.x = x.data<float>();
  a.ldx = xr.ld;
  a.y = y.data<float>();
  a.ldy = yr.ld;
  a.weight = weight.data<float>();
  a.bias = bias.data<float>();
  a.rows = xr.rows;
  a.cols = xr.cols;
  a.eps = eps;
  kernel_table().layer_norm(a);
}

void gelu_(Tensor& x) {
  require_f32(x, "gelu");
  check(x.is_contiguous(), "gelu: contiguous tensor expected");
  kernel_table().gelu(x.data<float>(), x.numel());
}

void add_(Tensor& y, const Tensor& x) {
  require_f32(y, "add");
  require_f32(x, "add");
  if (!(x.shape() == y.shape() && x.is_contiguous() && y.is_contiguous())) fail("add: {} += {}", y.shape().str(),
        x.shape().str());
  kernel_table().add(y.data<float>(), x.data<float>(), y.numel());
}

int64_t find_nonfinite(const Tensor& x) {
  check(x.is_contiguous(), "find_nonfinite: contiguous tensor expected");
  const int64_t n = x.numel();
  if (x.dtype() == DType::BF16 || x.dtype() == DType::F16) {
    // All-ones exponent: bf16 0x7f80, f16 0x7c00.
    const uint16_t e = x.dtype() == DType::BF16 ? 0x7f80 : 0x7c00;
    const uint16_t* h = static_cast<const uint16_t*>(x.raw_data());
    for (int64_t i = 0; i < n; ++i)
      if ((h[i] & e) == e) return i;
    return -1;
  }
  require_f32(x, "find_nonfinite");
  const int64_t i = kernel_table().find_nonfinite(x.data<float>(), n);
  return i == n ? -1 : i;
}

void softmax_(Tensor& x) {
  require_f32(x, "softmax");
  const Rows r = as_rows(x, "softmax");
  kernel_table().softmax_rows(x.data<float>(), r.rows, r.cols, r.ld);
}

}  // namespace engine::ops
