// Mirrors segment_anything/modeling/prompt_encoder.py. Function comments name
// the official function each piece corresponds to.
#include "sam/modeling/prompt_encoder.h"

#include <cmath>
#include <string>

#include "engine/arena.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace sam {
namespace {

using engine::DType;
using engine::Shape;
using engine::Tensor;

// float(2 * np.pi): torch multiplies the f32 tensor by the Python scalar in f32.
constexpr float kTwoPi = 6.28318530717958647692f;

// [N, H, W, C] channels-last buffer -> the official [N, C, H, W] (a view).
Tensor nchw_view(const Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}); }

// im2col for a kernel-2, stride-2 convolution over a channels-last [H, W, C]
// image (H, W even): row (i, j) of `out` holds the 2x2 patch at (2i, 2j) in
// the order of a Conv2d weight [Cout, C, 2, 2] flattened to [Cout, C*4], so the
// convolution becomes one GEMM (nn.Conv2d(kernel_size=2, stride=2)).
void patchify2x2(const float* in, int64_t h, int64_t w, int64_t c, float* out) {
  const int64_t ho = h / 2, wo = w / 2;
  for (int64_t i = 0; i < ho; ++i)
    for (int64_t j = 0; j < wo; ++j) {
      float* row = out + (i * wo + j) * c * 4;
      for (int kh = 0; kh < 2; ++kh)
        for (int kw = 0; kw < 2; ++kw) {
          const float* px = in + ((2 * i + kh) * w + (2 * j + kw)) * c;
          for (int64_t ci = 0; ci < c; ++ci) row[ci * 4 + kh * 2 + kw] = px[ci];
        }
    }
}

}  // namespace

PromptEncoder::PromptEncoder(std::shared_ptr<const Weights> w) : weights_(std::move(w)) {
  engine::check(weights_ != nullptr, "PromptEncoder: no weights");
  const SamConfig& c = weights_->config();
  dim_ = c.prompt_embed_dim;
  grid_ = c.embedding_grid();
  input_size_ = c.img_size;
  engine::check(dim_ % 2 == 0 && c.mask_in_chans % 4 == 0, "PromptEncoder: bad config {}", c.name);
  const Tensor& g = weights_->get("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
  engine::check(g.rank() == 2 && g.dim(0) == 2 && g.dim(1) == dim_ / 2 && g.is_contiguous(),
                "PromptEncoder: gaussian matrix {}", g.shape().str());
  gaussian_ = g.data<float>();

  // PositionEmbeddingRandom.forward((G, G)): grid.cumsum() - 0.5 over each
  // axis, divided by the side, i.e. pixel centres (x + 0.5) / G, stacked as
  // (x, y). Prompt-independent, so computed once here.
  const int64_t gg = static_cast<int64_t>(grid_) * grid_;
  pe_tokens_ = Tensor::empty(DType::F32, {gg, dim_});
  float* pt = pe_tokens_.data<float>();
  for (int y = 0; y < grid_; ++y)
    for (int x = 0; x < grid_; ++x)
      pe_encoding((static_cast<float>(x) + 0.5f) / static_cast<float>(grid_),
                  (static_cast<float>(y) + 0.5f) / static_cast<float>(grid_), pt + (y * grid_ + x) * dim_);
  // pe.permute(2, 0, 1).unsqueeze(0): [1, D, G, G] NCHW.
  pe_nchw_ = Tensor::empty(DType::F32, {1, dim_, grid_, grid_});
  pe_nchw_.copy_from(pe_tokens_.reshape({1, grid_, grid_, dim_}).permute({0, 3, 1, 2}));
}

void PromptEncoder::pe_encoding(float x01, float y01, float* out) const {
  // PositionEmbeddingRandom._pe_encoding: coords = 2 * coords - 1;
  // coords @ gaussian; 2 * pi * coords; cat([sin, cos], -1). All in f32.
  const int half = dim_ / 2;
  const float cx = 2.f * x01 - 1.f, cy = 2.f * y01 - 1.f;
  for (int j = 0; j < half; ++j) {
    const float v = kTwoPi * (cx * gaussian_[j] + cy * gaussian_[half + j]);
    out[j] = std::sin(v);
    out[half + j] = std::cos(v);
  }
}

Tensor PromptEncoder::dense_pe(Tracer* t) const {
  trace(t, "prompt_encoder.pe_layer", pe_nchw_.select(0, 0));
  return pe_nchw_;
}

Tensor PromptEncoder::embed_masks(const std::vector<Prompt>& prompts, Tracer* t, bool features_only) const {
  // PromptEncoder._embed_masks = mask_downscaling:
  //   Conv2d(1, mc/4, k2, s2) -> LayerNorm2d -> GELU -> Conv2d(mc/4, mc, k2, s2)
  //   -> LayerNorm2d -> GELU -> Conv2d(mc, D, 1)
  // computed channels-last: each stride-2 conv is patchify + one GEMM, each
  // LayerNorm2d (over channels, eps 1e-6) a row LayerNorm, the 1x1 conv a linear.
  const std::string p = "prompt_encoder.mask_downscaling";
  const int64_t n = static_cast<int64_t>(prompts.size());
  const int64_t s = 4LL * grid_, h1 = 2LL * grid_, g = grid_;
  const int64_t c4 = weights_->config().mask_in_chans / 4, mc = weights_->config().mask_in_chans;

  // One scratch block per call for the intermediates; the outputs (a1 as the
  // features, or dense) are allocated for the caller.
  engine::Arena arena;
  const int64_t floats = n * s * s + n * h1 * h1 * 4 + n * h1 * h1 * c4 + n * g * g * c4 * 4;
  arena.reserve(static_cast<size_t>(floats) * sizeof(float) + 8 * engine::kTensorAlignment);
  Tensor masks = arena.tensor(DType::F32, {n, s, s});
  for (int64_t i = 0; i < n; ++i) {
    const Tensor& m = *prompts[static_cast<size_t>(i)].mask_input;
    engine::check(m.dtype() == DType::F32 && m.numel() == s * s && m.rank() >= 2 && m.dim(-1) == s && m.dim(-2) == s,
                  "PromptEncoder: mask_input must be f32 [1,1,{},{}], got {}", s, s, m.shape().str());
    masks.select(0, i).copy_from(m.contiguous().reshape({s, s}));
  }

  // mask_downscaling.0: Conv2d(1, mc/4, 2, 2) -> [N, 2G, 2G, mc/4]
  Tensor cols0 = arena.tensor(DType::F32, {n * h1 * h1, 4});
  for (int64_t i = 0; i < n; ++i)
    patchify2x2(masks.data<float>() + i * s * s, s, s, 1, cols0.data<float>() + i * h1 * h1 * 4);
  Tensor a0 = arena.tensor(DType::F32, {n, h1, h1, c4});
  engine::ops::linear(cols0, weights_->get(p + ".0.weight").reshape({c4, 4}), &weights_->get(p + ".0.bias"), a0);
  trace(t, p + ".0", nchw_view(a0));
  // .1 LayerNorm2d (eps 1e-6), .2 GELU
  engine::ops::layer_norm(a0, weights_->get(p + ".1.weight"), weights_->get(p + ".1.bias"), 1e-6f, a0);
  trace(t, p + ".1", nchw_view(a0));
  engine::ops::gelu_(a0);
  trace(t, p + ".2", nchw_view(a0));

  // .3 Conv2d(mc/4, mc, 2, 2) -> [N, G, G, mc]; .4 LayerNorm2d; .5 GELU
  Tensor cols1 = arena.tensor(DType::F32, {n * g * g, c4 * 4});
  for (int64_t i = 0; i < n; ++i)
    patchify2x2(a0.data<float>() + i * h1 * h1 * c4, h1, h1, c4, cols1.data<float>() + i * g * g * c4 * 4);
  Tensor a1 = Tensor::empty(DType::F32, {n, g, g, mc});  // outlives the call as the features
  engine::ops::linear(cols1, weights_->get(p + ".3.weight").reshape({mc, c4 * 4}), &weights_->get(p + ".3.bias"), a1);
  trace(t, p + ".3", nchw_view(a1));
  engine::ops::layer_norm(a1, weights_->get(p + ".4.weight"), weights_->get(p + ".4.bias"), 1e-6f, a1);
  trace(t, p + ".4", nchw_view(a1));
  engine::ops::gelu_(a1);
  trace(t, p + ".5", nchw_view(a1));
  if (features_only) return a1.reshape({n, g * g, mc});

  // .6 Conv2d(mc, D, 1): a linear over channels. The result outlives the call.
  Tensor dense = Tensor::empty(DType::F32, {n, g, g, dim_});
  engine::ops::linear(a1, weights_->get(p + ".6.weight").reshape({dim_, mc}), &weights_->get(p + ".6.bias"), dense);
  trace(t, p + ".6", nchw_view(dense));
  trace(t, p, nchw_view(dense));
  return dense;
}

void PromptEncoder::forward(const std::vector<Prompt>& prompts, Tensor& sparse, Tensor& dense, Tracer* t,
                            Tensor* mask_features) const {
  engine::check(!prompts.empty(), "PromptEncoder: no prompts");
  const Prompt& first = prompts.front();
  const size_t npts = first.point_labels.size();
  const bool has_box = first.box.has_value(), has_mask = first.mask_input.has_value();
  for (const Prompt& pr : prompts) {
    engine::check(pr.point_coords.size() == 2 * pr.point_labels.size(),
                  "PromptEncoder: {} point coordinates for {} labels", pr.point_coords.size(), pr.point_labels.size());
    engine::check(
        pr.point_labels.size() == npts && pr.box.has_value() == has_box && pr.mask_input.has_value() == has_mask,
        "PromptEncoder: batched prompt sets must share point count, box and mask presence");
  }
  const int64_t n = static_cast<int64_t>(prompts.size());
  // forward(): points first (with the padding point when there is no box), then the box corners.
  const bool pad = npts > 0 && !has_box;
  const int64_t ntok = static_cast<int64_t>(npts) + (pad ? 1 : 0) + (has_box ? 2 : 0);
  const float* pe_w[4];
  for (int i = 0; i < 4; ++i)
    pe_w[i] = weights_->get("prompt_encoder.point_embeddings." + std::to_string(i) + ".weight").data<float>();
  const float* not_a_point = weights_->get("prompt_encoder.not_a_point_embed.weight").data<float>();
  const float size = static_cast<float>(input_size_);

  sparse = Tensor::empty(DType::F32, {n, ntok, dim_});
  for (int64_t b = 0; b < n; ++b) {
    const Prompt& pr = prompts[static_cast<size_t>(b)];
    float* row = sparse.data<float>() + b * ntok * dim_;
    // _embed_points: points + 0.5 (pixel centre), normalised by input_image_size
    // (forward_with_coords), then label -1 -> zero PE + not_a_point_embed,
    // label 0 / 1 -> + point_embeddings[0] / [1]. Other labels keep the bare PE
    // (as the official code does).
    for (size_t i = 0; i < npts + (pad ? 1 : 0); ++i, row += dim_) {
      // The padding point is (0, 0) with label -1 (added after the +0.5 shift).
      const bool is_pad = i == npts;
      const float x = is_pad ? 0.f : pr.point_coords[2 * i] + 0.5f;
      const float y = is_pad ? 0.f : pr.point_coords[2 * i + 1] + 0.5f;
      const int label = is_pad ? -1 : pr.point_labels[i];
      pe_encoding(x / size, y / size, row);
      const float* add = label == -1 ? not_a_point : label == 0 ? pe_w[0] : label == 1 ? pe_w[1] : nullptr;
      if (label == -1)
        for (int c = 0; c < dim_; ++c) row[c] = 0.f;
      if (add)
        for (int c = 0; c < dim_; ++c) row[c] += add[c];
    }
    if (has_box) {
      // _embed_boxes: boxes + 0.5, two corners, + point_embeddings[2] / [3].
      const std::array<float, 4>& bx = *pr.box;
      for (int k = 0; k < 2; ++k, row += dim_) {
        pe_encoding((bx[2 * k] + 0.5f) / size, (bx[2 * k + 1] + 0.5f) / size, row);
        for (int c = 0; c < dim_; ++c) row[c] += pe_w[2 + k][c];
      }
    }
  }

  if (mask_features) *mask_features = Tensor();
  if (has_mask && mask_features && !t) {
    *mask_features = embed_masks(prompts, t, true);
    dense = Tensor();
  } else if (has_mask) {
    dense = nchw_view(embed_masks(prompts, t, false));
  } else {
    // no_mask_embed.weight.reshape(1, -1, 1, 1).expand(N, -1, G, G): a broadcast
    // view; the aliasing shared_ptr keeps the weights (and their mapping) alive.
    const Tensor& e = weights_->get("prompt_encoder.no_mask_embed.weight");
    dense = Tensor::from_blob(e.data<float>(), DType::F32, {n, dim_, grid_, grid_}, {0, 1, 0, 0},
                              std::shared_ptr<const void>(weights_, e.raw_data()));
  }
  trace(t, "prompt_encoder.0", sparse);
  trace(t, "prompt_encoder.1", dense);
}

}  // namespace sam
