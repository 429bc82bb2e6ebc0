// TinyViTEncoder: construction (BatchNorm folding, the attention-bias tables) and
// the state_dict schema, mirroring mobile_sam/modeling/tiny_vit_sam.py's TinyViT.__init__.
// The forward pass is in tiny_vit_forward.cpp.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <utility>

#include "engine/error.h"
#include "engine/runtime.h"
#include "sam/modeling/tiny_vit_encoder.h"

namespace sam {
namespace {

using engine::DType;
using engine::Tensor;

constexpr double kBatchNormEps = 1e-5;  // nn.BatchNorm2d's default

const Tensor& weight(const Weights& w, const std::string& name) {
  const Tensor& t = w.get(name);
  engine::check(t.dtype() == DType::F32 && t.is_contiguous(), "image encoder: {} must be contiguous f32", name);
  return t;
}

engine::ops::Linear make_linear(const Tensor& w, const Tensor* bias) {
  engine::ops::Linear l(w, bias ? std::optional<Tensor>(*bias) : std::nullopt, engine::runtime_options().precision);
  if (l.packed()) l.drop_source_weight();
  return l;
}

// A block's nn.Linear at `prefix` (its .weight and .bias): once packed, the file's pages (and an f32 copy
// widened from an f16 / bf16 file) are released, as the ViT encoder does.
engine::ops::Linear make_linear(const Weights& w, const std::string& prefix) {
  engine::ops::Linear l = make_linear(weight(w, prefix + ".weight"), &weight(w, prefix + ".bias"));
  if (l.owns_weight_copy()) w.release(prefix + ".weight");
  return l;
}

// Conv2d_BN(a, b, ks, stride, pad, groups) at `prefix` (its .c and .bn), folded as
// Conv2d_BN.fuse does: w' = w * g / sqrt(var + eps), b' = beta - mean * g / sqrt(var + eps).
// Kinds: 1x1 -> Linear [cout, cin]; depthwise -> [k, k, c]; dense -> [k, k, cin, cout].
enum class ConvKind { Pointwise, Depthwise, Dense };

TinyViTEncoder::Conv fold_conv(const Weights& w, const std::string& prefix, ConvKind kind, int stride) {
  const Tensor& c = weight(w, prefix + ".c.weight");  // [cout, cin / groups, k, k]
  const float* gamma = weight(w, prefix + ".bn.weight").data<float>();
  const float* beta = weight(w, prefix + ".bn.bias").data<float>();
  const float* mean = weight(w, prefix + ".bn.running_mean").data<float>();
  const float* var = weight(w, prefix + ".bn.running_var").data<float>();
  TinyViTEncoder::Conv out;
  out.cout = static_cast<int>(c.dim(0));
  out.k = static_cast<int>(c.dim(2));
  out.stride = stride;
  const int cin_g = static_cast<int>(c.dim(1)), k2 = out.k * out.k;
  out.cin = kind == ConvKind::Depthwise ? out.cout : cin_g;
  std::vector<double> scale(static_cast<size_t>(out.cout));
  out.bias.resize(static_cast<size_t>(out.cout));
  for (int o = 0; o < out.cout; ++o) {
    scale[size_t(o)] = double(gamma[o]) / std::sqrt(double(var[o]) + kBatchNormEps);
    out.bias[size_t(o)] = static_cast<float>(double(beta[o]) - double(mean[o]) * scale[size_t(o)]);
  }
  const float* src = c.data<float>();
  if (kind == ConvKind::Pointwise) {
    engine::check(out.k == 1, "{}: expected a 1x1 conv", prefix);
    Tensor folded = Tensor::empty(DType::F32, {out.cout, out.cin});
    float* dst = folded.data<float>();
    for (int o = 0; o < out.cout; ++o)
      for (int i = 0; i < out.cin; ++i)
        dst[o * out.cin + i] = static_cast<float>(src[o * out.cin + i] * scale[size_t(o)]);
    Tensor bias = Tensor::from_blob(out.bias.data(), DType::F32, {out.cout}).clone();
    out.linear = make_linear(folded, &bias);
  } else if (kind == ConvKind::Depthwise) {
    engine::check(cin_g == 1, "{}: expected a depthwise conv", prefix);
    out.weight.resize(size_t(k2) * out.cout);
    for (int o = 0; o < out.cout; ++o)
      for (int t = 0; t < k2; ++t) out.weight[size_t(t) * out.cout + o] = static_cast<float>(src[o * k2 + t] * scale[size_t(o)]);
  } else {
    out.weight.resize(size_t(k2) * out.cin * out.cout);
    for (int o = 0; o < out.cout; ++o)
      for (int i = 0; i < out.cin; ++i)
        for (int t = 0; t < k2; ++t)
          out.weight[(size_t(t) * out.cin + i) * out.cout + o] =
              static_cast<float>(src[(o * out.cin + i) * k2 + t] * scale[size_t(o)]);
  }
  for (const char* p : {".c.weight", ".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var"})
    w.release(prefix + p);
  return out;
}

// Attention.__init__: attention_offsets numbered in order of first appearance over
// (p1, p2) in itertools.product(points, points), offset = (|dy|, |dx|); then the
// eval-mode `ab = attention_biases[:, attention_bias_idxs]` ([heads, N, N]).
std::vector<float> gather_attention_bias(const Tensor& table, int window) {
  const int n = window * window, heads = static_cast<int>(table.dim(0));
  std::map<std::pair<int, int>, int> offsets;
  std::vector<int> idxs(size_t(n) * n);
  for (int p1 = 0; p1 < n; ++p1)
    for (int p2 = 0; p2 < n; ++p2) {
      const std::pair<int, int> off{std::abs(p1 / window - p2 / window), std::abs(p1 % window - p2 % window)};
      auto it = offsets.find(off);
      if (it == offsets.end()) it = offsets.emplace(off, static_cast<int>(offsets.size())).first;
      idxs[size_t(p1) * n + p2] = it->second;
    }
  engine::check(static_cast<int64_t>(offsets.size()) == table.dim(1), "attention_biases has {} offsets, window {} has {}",
                table.dim(1), window, offsets.size());
  std::vector<float> ab(size_t(heads) * n * n);
  const float* t = table.data<float>();
  for (int h = 0; h < heads; ++h)
    for (size_t i = 0; i < idxs.size(); ++i) ab[size_t(h) * n * n + i] = t[size_t(h) * offsets.size() + size_t(idxs[i])];
  return ab;
}

// PatchMerging: stride 1 for out_dim 320, 448 or 576 (the official special case), else 2.
int merging_stride(int out_dim) { return out_dim == 320 || out_dim == 448 || out_dim == 576 ? 1 : 2; }

// TinyViT.__init__'s input_resolution of layer i: patches_resolution // 2^(i - 1 if i == 3 else i).
int stage_resolution(int patches, int i) { return patches >> (i == 3 ? i - 1 : i); }

void check_config(const SamConfig& c) {
  const size_t n = c.tinyvit_dims.size();
  engine::check(n >= 2 && c.tinyvit_depths.size() == n && c.tinyvit_heads.size() == n && c.tinyvit_windows.size() == n,
                "TinyViT config {}: per-stage lists of different lengths", c.name);
}

}  // namespace

TinyViTEncoder::TinyViTEncoder(std::shared_ptr<const Weights> weights) : weights_(std::move(weights)) {
  engine::check(weights_ != nullptr, "image encoder: no weights");
  config_ = weights_->config();
  const SamConfig& c = config_;
  const Weights& w = *weights_;
  check_config(c);
  embed0_ = fold_conv(w, "image_encoder.patch_embed.seq.0", ConvKind::Dense, 2);
  embed1_ = fold_conv(w, "image_encoder.patch_embed.seq.2", ConvKind::Dense, 2);
  const int patches = c.img_size / 4;
  const int n = static_cast<int>(c.tinyvit_dims.size());
  for (int i = 0; i < n; ++i) {
    Stage s;
    s.dim = c.tinyvit_dims[size_t(i)];
    s.res = stage_resolution(patches, i);
    const std::string pre = fmt::format("image_encoder.layers.{}", i);
    if (i > 0) {
      engine::check(stages_.back().out_res == s.res, "TinyViT {}: layer {} gets {}x{} tokens, expects {}x{}", c.name,
                    i, stages_.back().out_res, stages_.back().out_res, s.res, s.res);
      s.heads = c.tinyvit_heads[size_t(i)];
      s.window = c.tinyvit_windows[size_t(i)];
      engine::check(s.heads > 0 && s.dim % s.heads == 0 && s.window > 0, "TinyViT {}: layer {} heads/window", c.name, i);
    }
    for (int j = 0; j < c.tinyvit_depths[size_t(i)]; ++j) {
      const std::string b = fmt::format("{}.blocks.{}", pre, j);
      if (i == 0) {
        s.mbconv.push_back({fold_conv(w, b + ".conv1", ConvKind::Pointwise, 1),
                            fold_conv(w, b + ".conv2", ConvKind::Depthwise, 1),
                            fold_conv(w, b + ".conv3", ConvKind::Pointwise, 1)});
        continue;
      }
      Block blk;
      blk.attention_bias = gather_attention_bias(weight(w, b + ".attn.attention_biases"), s.window);
      blk.attn_norm_w = weight(w, b + ".attn.norm.weight");
      blk.attn_norm_b = weight(w, b + ".attn.norm.bias");
      blk.qkv = make_linear(w, b + ".attn.qkv");
      blk.proj = make_linear(w, b + ".attn.proj");
      blk.qkv_pad_row.resize(size_t(3 * s.dim));
      blk.qkv.forward_rows(blk.attn_norm_b.data<float>(), 1, blk.qkv_pad_row.data());
      blk.mlp_norm_w = weight(w, b + ".mlp.norm.weight");
      blk.mlp_norm_b = weight(w, b + ".mlp.norm.bias");
      blk.fc1 = make_linear(w, b + ".mlp.fc1");
      blk.fc2 = make_linear(w, b + ".mlp.fc2");
      blk.local_conv = fold_conv(w, b + ".local_conv", ConvKind::Depthwise, 1);
      s.blocks.push_back(std::move(blk));
    }
    s.out_dim = s.dim;
    s.out_res = s.res;
    if (i + 1 < n) {
      s.has_downsample = true;
      s.out_dim = c.tinyvit_dims[size_t(i + 1)];
      const int stride = merging_stride(s.out_dim);
      s.downsample = {fold_conv(w, pre + ".downsample.conv1", ConvKind::Pointwise, 1),
                      fold_conv(w, pre + ".downsample.conv2", ConvKind::Depthwise, stride),
                      fold_conv(w, pre + ".downsample.conv3", ConvKind::Pointwise, 1)};
      s.out_res = (s.res + 2 - 3) / stride + 1;
    }
    stages_.push_back(std::move(s));
  }
  // forward_features: x.view(B, 64, 64, C) -- the grid the prompt encoder expects.
  out_grid_ = stages_.back().out_res;
  out_dim_ = c.prompt_embed_dim;
  engine::check(out_grid_ == c.embedding_grid(), "TinyViT {}: last stage is {}x{}, the embedding grid is {}", c.name,
                out_grid_, out_grid_, c.embedding_grid());
  const int64_t D = out_dim_, C = stages_.back().dim;
  neck_ = EncoderNeck(w, C, D);
  plan_ = make_plan();
}

void TinyViTEncoder::expected_weights(const SamConfig& c, std::vector<WeightSpec>& out) {
  check_config(c);
  WeightListBuilder b;
  auto conv_bn = [&](const std::string& p, int64_t cin, int64_t cout, int64_t k, bool depthwise) {
    b.add(p + ".c.weight", {cout, depthwise ? 1 : cin, k, k});
    for (const char* s : {".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var"}) b.add(p + s, {cout});
  };
  const int64_t d0 = c.tinyvit_dims[0];
  conv_bn("image_encoder.patch_embed.seq.0", 3, d0 / 2, 3, false);
  conv_bn("image_encoder.patch_embed.seq.2", d0 / 2, d0, 3, false);
  const size_t n = c.tinyvit_dims.size();
  for (size_t i = 0; i < n; ++i) {
    const int64_t dim = c.tinyvit_dims[i];
    const std::string pre = fmt::format("image_encoder.layers.{}", i);
    for (int j = 0; j < c.tinyvit_depths[i]; ++j) {
      const std::string p = fmt::format("{}.blocks.{}", pre, j);
      if (i == 0) {
        const int64_t hidden = dim * c.mbconv_expand_ratio;
        conv_bn(p + ".conv1", dim, hidden, 1, false);
        conv_bn(p + ".conv2", hidden, hidden, 3, true);
        conv_bn(p + ".conv3", hidden, dim, 1, false);
        continue;
      }
      const int64_t ws = c.tinyvit_windows[i];
      b.add(p + ".attn.attention_biases", {c.tinyvit_heads[i], ws * ws});
      b.norm(p + ".attn.norm", dim);
      b.linear(p + ".attn.qkv", dim, 3 * dim);
      b.linear(p + ".attn.proj", dim, dim);
      b.norm(p + ".mlp.norm", dim);
      b.linear(p + ".mlp.fc1", dim, dim * c.mlp_ratio);
      b.linear(p + ".mlp.fc2", dim * c.mlp_ratio, dim);
      conv_bn(p + ".local_conv", dim, dim, c.local_conv_size, true);
    }
    if (i + 1 < n) {
      const int64_t od = c.tinyvit_dims[i + 1];
      conv_bn(pre + ".downsample.conv1", dim, od, 1, false);
      conv_bn(pre + ".downsample.conv2", od, od, 3, true);
      conv_bn(pre + ".downsample.conv3", od, od, 1, false);
    }
  }
  const int64_t D = c.prompt_embed_dim;
  EncoderNeck::expected_weights(b, c.tinyvit_dims.back(), D);
  out.insert(out.end(), b.out.begin(), b.out.end());
}

}  // namespace sam
