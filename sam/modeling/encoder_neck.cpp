#include "sam/modeling/encoder_neck.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "engine/error.h"
#include "engine/ops/rows.h"
#include "engine/runtime.h"
#include "engine/thread_pool.h"

namespace sam {
namespace {

using engine::DType;
using engine::Tensor;

constexpr float kNeckNormEps = 1e-6f;  // LayerNorm2d's default eps (modeling/common.py)

const Tensor& weight(const Weights& w, const std::string& name) {
  const Tensor& t = w.get(name);
  engine::check(t.dtype() == DType::F32 && t.is_contiguous(), "image encoder: {} must be contiguous f32", name);
  return t;
}

// A bias-free linear in the runtime's precision; when the GEMM keeps its own
// copy of the weight, the source is dropped (and with it the mapped original).
engine::ops::Linear make_linear(const Tensor& w) {
  engine::ops::Linear l(w, std::nullopt, engine::runtime_options().precision);
  if (l.owns_weight_copy()) l.drop_source_weight();
  return l;
}

// [1, G, G, C] channels-last activations viewed as the official NCHW module output [1, C, G, G].
Tensor nchw_view(float* p, int64_t g, int64_t c) {
  return Tensor::from_blob(p, DType::F32, {1, g, g, c}).permute({0, 3, 1, 2});
}

}  // namespace

EncoderNeck::EncoderNeck(const Weights& w, int64_t in_chans, int64_t out_chans) : out_chans_(out_chans) {
  const int64_t C = in_chans, D = out_chans;
  neck0_ = make_linear(weight(w, "image_encoder.neck.0.weight").reshape({D, C}));
  if (neck0_.owns_weight_copy()) w.release("image_encoder.neck.0.weight");
  neck1_w_ = weight(w, "image_encoder.neck.1.weight");
  neck1_b_ = weight(w, "image_encoder.neck.1.bias");
  // neck.2's weight [D, D, 3, 3] (cout, cin, ky, kx), repacked once to [D, (ky, kx, cin)]
  // so that the channels-last im2col rows are nine contiguous copies of D channels.
  const float* src = weight(w, "image_encoder.neck.2.weight").data<float>();
  Tensor repacked = Tensor::empty(DType::F32, {D, 9 * D});
  float* dst = repacked.data<float>();
  for (int64_t co = 0; co < D; ++co)
    for (int64_t ci = 0; ci < D; ++ci)
      for (int64_t tap = 0; tap < 9; ++tap) dst[(co * 9 + tap) * D + ci] = src[(co * D + ci) * 9 + tap];
  neck2_ = make_linear(repacked);
  w.release("image_encoder.neck.2.weight");  // only the repacked copy is read
  neck3_w_ = weight(w, "image_encoder.neck.3.weight");
  neck3_b_ = weight(w, "image_encoder.neck.3.bias");
}

void EncoderNeck::expected_weights(WeightListBuilder& b, int64_t in_chans, int64_t out_chans) {
  b.add("image_encoder.neck.0.weight", {out_chans, in_chans, 1, 1});
  b.norm("image_encoder.neck.1", out_chans);
  b.add("image_encoder.neck.2.weight", {out_chans, out_chans, 3, 3});
  b.norm("image_encoder.neck.3", out_chans);
}

void EncoderNeck::forward(const float* x, int64_t g, float* y1, float* y2, float* cols, Tensor& out,
                          Tracer* tracer) const {
  const int64_t d = out_chans_, n = g * g;
  neck0_.forward_rows(x, n, y1);
  if (tracer) trace(tracer, "image_encoder.neck.0", nchw_view(y1, g, d));
  engine::ops::layer_norm_rows(y1, y1, n, d, neck1_w_, neck1_b_, kNeckNormEps);
  if (tracer) trace(tracer, "image_encoder.neck.1", nchw_view(y1, g, d));

  // im2col, zero padding 1: cols[(i, j)][(ky, kx, :)] = y1[(i + ky - 1, j + kx - 1), :]
  engine::thread_pool().parallel_for(0, n, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t i = t / g, j = t % g;
      float* dst = cols + t * 9 * d;
      for (int64_t ky = 0; ky < 3; ++ky)
        for (int64_t kx = 0; kx < 3; ++kx, dst += d) {
          const int64_t yy = i + ky - 1, xx = j + kx - 1;
          if (yy < 0 || yy >= g || xx < 0 || xx >= g)
            std::fill(dst, dst + d, 0.f);
          else
            std::memcpy(dst, y1 + (yy * g + xx) * d, static_cast<size_t>(d) * sizeof(float));
        }
    }
  });
  neck2_.forward_rows(cols, n, y2);
  if (tracer) trace(tracer, "image_encoder.neck.2", nchw_view(y2, g, d));
  engine::ops::layer_norm_rows(y2, y2, n, d, neck3_w_, neck3_b_, kNeckNormEps);
  if (tracer) {
    trace(tracer, "image_encoder.neck.3", nchw_view(y2, g, d));
    trace(tracer, "image_encoder.neck", nchw_view(y2, g, d));
  }

  // [G, G, D] -> [1, D, G, G]
  float* dst = out.data<float>();
  engine::thread_pool().parallel_for(0, d, 8, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c)
      for (int64_t t = 0; t < n; ++t) dst[c * n + t] = y2[t * d + c];
  });
}

}  // namespace sam
