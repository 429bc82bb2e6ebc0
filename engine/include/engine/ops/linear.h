// nn.Linear as one op object: the weight view, the optional bias and the
// weight's packed form for the kernel table's GEMM, made once (at model load)
// and read-only afterwards (shared by every session and thread).
#pragma once

#include <cstdint>
#include <optional>

#include "engine/ops.h"
#include "engine/tensor.h"

namespace engine::ops {

class Linear {
 public:
  Linear() = default;
  // weight [N, K] f32 with contiguous rows (a view of the model file or an
  // owned tensor), bias [N] or none. The weight is packed for the GEMM unless
  // the runtime uses the OpenBLAS baseline (RuntimeOptions::gemm).
  Linear(Tensor weight, std::optional<Tensor> bias);

  bool defined() const { return weight_.defined(); }
  int64_t out_features() const { return weight_.dim(0); }
  int64_t in_features() const { return weight_.dim(1); }
  const Tensor& weight() const { return weight_; }
  const Tensor* bias() const { return bias_ ? &*bias_ : nullptr; }
  bool packed() const { return !packed_.empty(); }
  const float* packed_panels() const { return packed_.empty() ? nullptr : packed_.panels.data<float>(); }

  // y[..., N] = x[..., K] @ W^T + b, then (accumulate) + the previous y, then
  // (gelu) GELU, in one pass over y. The fused epilogues need the packed form
  // (the OpenBLAS baseline refuses them). x and y row-contiguous.
  void forward(const Tensor& x, Tensor& y, bool accumulate = false, bool gelu = false) const;
  // The same on raw rows: x [rows, K], y [rows, N].
  void forward_rows(const float* x, int64_t rows, float* y, bool accumulate = false, bool gelu = false) const;
  // y = x @ W^T (the bias left out).
  void forward_no_bias(const Tensor& x, Tensor& y) const;

 private:
  Tensor weight_;
  std::optional<Tensor> bias_;
  PackedLinear packed_;
};

}  // namespace engine::ops
