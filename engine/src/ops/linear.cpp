#include "engine/ops/linear.h"

#include "engine/error.h"

namespace engine::ops {

Linear::Linear(Tensor weight, std::optional<Tensor> bias, Precision precision)
    : weight_(std::move(weight)), bias_(std::move(bias)) {
  check(weight_.defined() && weight_.rank() == 2 && weight_.dim(0) > 0,
        "Linear: weight must be [out, in] with out > 0, got {}", weight_.shape().str());
  out_features_ = weight_.dim(0);
  in_features_ = weight_.dim(1);
  if (bias_) check(bias_->numel() == weight_.dim(0) && bias_->dtype() == DType::F32, "Linear: bias {} {} for weight {}",
                   dtype_name(bias_->dtype()), bias_->shape().str(), weight_.shape().str());
  if (use_packed_gemm()) {
    packed_ = pack_linear(weight_, precision == Precision::Bf16 ? DType::BF16 : DType::F32);
    return;
  }
  check(precision == Precision::F32, "Linear: bf16 needs the packed GEMM (SAM_GEMM=openblas is f32 only)");
  if (weight_.dtype() != DType::F32) weight_ = weight_.contiguous().to(DType::F32);
}

void Linear::forward(const Tensor& x, Tensor& y, bool accumulate, bool gelu) const {
  if (!packed_.empty()) {
    linear(x, packed_, bias(), y, accumulate, gelu);
    return;
  }
  check(!accumulate && !gelu, "Linear: fused epilogues need the packed GEMM (not available with SAM_GEMM=openblas)");
  linear(x, weight_, bias(), y);
}

void Linear::forward_rows(const float* x, int64_t rows, float* y, bool accumulate, bool gelu) const {
  const Tensor xt = Tensor::from_blob(const_cast<float*>(x), DType::F32, {rows, in_features()});
  Tensor yt = Tensor::from_blob(y, DType::F32, {rows, out_features()});
  forward(xt, yt, accumulate, gelu);
}

void Linear::drop_source_weight() {
  if (!packed_.empty()) weight_ = Tensor();
}

void Linear::forward_no_bias(const Tensor& x, Tensor& y) const {
  if (!packed_.empty()) linear(x, packed_, nullptr, y);
  else linear(x, weight_, nullptr, y);
}

}  // namespace engine::ops
