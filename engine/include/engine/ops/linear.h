// nn.Linear as one op object: the weight view, the optional bias and the
// weight's packed form for the kernel table's GEMM, made once (at model load)
// and read-only afterwards (shared by every session and thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "engine/ops.h"
#include "engine/runtime.h"
#include "engine/tensor.h"

namespace kernels {
class OnednnLinear;
}

namespace engine::ops {

class Linear {
 public:
  Linear() = default;
  // weight [N, K] with contiguous rows (a view of the model file or an owned
  // tensor; f32, or f16/bf16 as stored), bias [N] f32 or none. The weight is
  // packed for the GEMM in `precision` (bf16: panels of bf16 values, a bf16
  // weight packed as stored) unless the runtime uses a baseline
  // (RuntimeOptions::gemm): OpenBLAS (f32 only) reads the weight as it is,
  // oneDNN keeps its own reordered copy (f32 or bf16).
  Linear(Tensor weight, std::optional<Tensor> bias, Precision precision = Precision::F32);

  bool defined() const { return out_features_ > 0; }
  int64_t out_features() const { return out_features_; }
  int64_t in_features() const { return in_features_; }
  const Tensor& weight() const { return weight_; }
  const Tensor* bias() const { return bias_ ? &*bias_ : nullptr; }
  bool packed() const { return !packed_.empty(); }
  // The bias / accumulate / GELU epilogues run inside the GEMM (our packed
  // GEMM, or oneDNN's post-ops); false only for the OpenBLAS baseline.
  bool fused_epilogues() const { return packed() || onednn_ != nullptr; }
  // The GEMM works from its own copy of the weight (packed panels or oneDNN's
  // layout): weight() is not read by forward() and may be dropped.
  bool owns_weight_copy() const { return fused_epilogues(); }
  Precision precision() const { return precision_; }
  // The f32 panels (nullptr when not packed or packed in bf16).
  const float* packed_panels() const {
    return packed_.empty() || packed_.dtype != DType::F32 ? nullptr : packed_.panels.data<float>();
  }
  // The bf16 panels (table().gemm_bf16_pack_b_*; nullptr unless packed in bf16).
  const uint16_t* packed_panels_bf16() const {
    return packed_.empty() || packed_.dtype != DType::BF16 ? nullptr : packed_.panels.data<uint16_t>();
  }

  // y[..., N] = x[..., K] @ W^T + b, then (accumulate) + the previous y, then
  // (gelu) GELU, in one pass over y. The fused epilogues need the packed form
  // or oneDNN (the OpenBLAS baseline refuses them). x and y row-contiguous.
  void forward(const Tensor& x, Tensor& y, bool accumulate = false, bool gelu = false) const;
  // The same on raw rows: x [rows, K], y [rows, N].
  void forward_rows(const float* x, int64_t rows, float* y, bool accumulate = false, bool gelu = false) const;
  // With a copy of its own (owns_weight_copy()), the source weight is not read
  // again by forward(): this drops the reference to it (its memory goes when no
  // one else holds it, e.g. an f32 copy widened from a bf16 file). weight() is
  // then undefined; the features stay. No-op otherwise.
  void drop_source_weight();
  // y = x @ W^T (the bias left out).
  void forward_no_bias(const Tensor& x, Tensor& y) const;

 private:
  void forward_onednn(const Tensor& x, Tensor& y, const Tensor* b, bool accumulate, bool gelu) const;

  Tensor weight_;
  int64_t out_features_ = 0, in_features_ = 0;
  std::optional<Tensor> bias_;
  PackedLinear packed_;
  std::shared_ptr<const kernels::OnednnLinear> onednn_;  // SAM_GEMM=onednn
  Precision precision_ = Precision::F32;
};

}  // namespace engine::ops
