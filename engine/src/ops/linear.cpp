#include "engine/ops/linear.h"

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "kernels/gemm_onednn.h"
#include "row_view.h"

namespace engine::ops {
namespace {

// The oneDNN baseline's layer: the weight widened to f32 rows (exact for f16 /
// bf16 files), then reordered by oneDNN into its layout (rounded to bf16 there
// when `precision` is bf16).
std::shared_ptr<const kernels::OnednnLinear> make_onednn(const Tensor& weight, Precision precision) {
  const Tensor w = weight.dtype() == DType::F32 && weight.stride(1) == 1 ? weight : weight.contiguous().to(DType::F32);
  const int64_t ldw = std::max<int64_t>(w.stride(0), w.dim(1));
  try {
    return std::make_shared<const kernels::OnednnLinear>(w.data<float>(), static_cast<int>(w.dim(0)),
                                                         static_cast<int>(w.dim(1)), static_cast<int>(ldw),
                                                         precision == Precision::Bf16);
  } catch (const std::exception& e) {
    fail("Linear {}: oneDNN: {}", weight.shape().str(), e.what());
  }
}

}  // namespace

Linear::Linear(Tensor weight, std::optional<Tensor> bias, Precision precision)
    : weight_(std::move(weight)), bias_(std::move(bias)), precision_(precision) {
  check(weight_.defined() && weight_.rank() == 2 && weight_.dim(0) > 0,
        "Linear: weight must be [out, in] with out > 0, got {}", weight_.shape().str());
  out_features_ = weight_.dim(0);
  in_features_ = weight_.dim(1);
  if (bias_) check(bias_->numel() == weight_.dim(0) && bias_->dtype() == DType::F32, "Linear: bias {} {} for weight {}",
                   dtype_name(bias_->dtype()), bias_->shape().str(), weight_.shape().str());
  const GemmBackend backend = runtime_options().gemm;
  if (use_packed_gemm()) {
    packed_ = pack_linear(weight_, precision == Precision::Bf16 ? DType::BF16 : DType::F32);
    return;
  }
  if (backend == GemmBackend::OneDnn) {
    onednn_ = make_onednn(weight_, precision);
    return;
  }
  check(precision == Precision::F32, "Linear: bf16 needs the packed GEMM or oneDNN (SAM_GEMM=openblas is f32 only)");
  if (weight_.dtype() != DType::F32) weight_ = weight_.contiguous().to(DType::F32);
}

void Linear::forward(const Tensor& x, Tensor& y, bool accumulate, bool gelu) const {
  if (!packed_.empty()) {
    linear(x, packed_, bias(), y, accumulate, gelu);
    return;
  }
  if (onednn_) {
    forward_onednn(x, y, bias(), accumulate, gelu);
    return;
  }
  check(!accumulate && !gelu, "Linear: fused epilogues need the packed GEMM or oneDNN (not available with SAM_GEMM=openblas)");
  linear(x, weight_, bias(), y);
}

void Linear::forward_onednn(const Tensor& x, Tensor& y, const Tensor* b, bool accumulate, bool gelu) const {
  check(x.dtype() == DType::F32 && y.dtype() == DType::F32, "linear (oneDNN): f32 input and output expected");
  const Rows xr = as_rows(x, "linear input");
  const Rows yr = as_rows(y, "linear output");
  if (xr.cols != in_features_ || yr.cols != out_features_ || xr.rows != yr.rows)
    fail("linear (oneDNN): {} x [{}, {}]^T -> {} does not fit", x.shape().str(), out_features_, in_features_,
         y.shape().str());
  try {
    onednn_->run(x.data<float>(), static_cast<int>(xr.rows), static_cast<int>(xr.ld), b ? b->data<float>() : nullptr,
                 y.data<float>(), static_cast<int>(yr.ld), accumulate, gelu, thread_pool().num_threads());
  } catch (const std::exception& e) {
    fail("linear (oneDNN) {} x [{}, {}]^T: {}", x.shape().str(), out_features_, in_features_, e.what());
  }
}

void Linear::forward_rows(const float* x, int64_t rows, float* y, bool accumulate, bool gelu) const {
  const Tensor xt = Tensor::from_blob(const_cast<float*>(x), DType::F32, {rows, in_features()});
  Tensor yt = Tensor::from_blob(y, DType::F32, {rows, out_features()});
  forward(xt, yt, accumulate, gelu);
}

void Linear::drop_source_weight() {
  if (owns_weight_copy()) weight_ = Tensor();
}

void Linear::forward_no_bias(const Tensor& x, Tensor& y) const {
  if (!packed_.empty()) linear(x, packed_, nullptr, y);
  else if (onednn_) forward_onednn(x, y, nullptr, false, false);
  else linear(x, weight_, nullptr, y);
}

}  // namespace engine::ops
