#include "sam/modeling/weight_schema.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.h"
#include "sam/modeling/variants.h"

namespace sam {
void WeightListBuilder::linear(const std::string& p, int64_t in, int64_t outf, bool bias) {
  add(p + ".weight", {outf, in});
  if (bias) add(p + ".bias", {outf});
}

void WeightListBuilder::norm(const std::string& p, int64_t c) {
  add(p + ".weight", {c});
  add(p + ".bias", {c});
}

void WeightListBuilder::attention(const std::string& p, int64_t dim, int64_t downsample) {
  const int64_t internal = dim / downsample;
  linear(p + ".q_proj", dim, internal);
  linear(p + ".k_proj", dim, internal);
  linear(p + ".v_proj", dim, internal);
  linear(p + ".out_proj", internal, dim);
}

void WeightListBuilder::mlp(const std::string& p, int64_t in, int64_t hidden, int64_t outf, int layers) {
  for (int i = 0; i < layers; ++i) {
    const int64_t a = i == 0 ? in : hidden;
    const int64_t b = i == layers - 1 ? outf : hidden;
    linear(fmt::format("{}.layers.{}", p, i), a, b);
  }
}

std::vector<WeightSpec> expected_weights(const SamConfig& c) {
  const SamVariant* v = find_variant(c.name);
  engine::check(v != nullptr, "no variant named '{}' in the registry", c.name);
  WeightListBuilder b;
  v->encoder->expected_weights(c, b.out);  // image_encoder.*: the encoder family's own schema
  const int64_t D = c.prompt_embed_dim;
  // modeling/prompt_encoder.py: PromptEncoder
  b.add("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", {2, D / 2});
  for (int i = 0; i < 4; ++i) b.add(fmt::format("prompt_encoder.point_embeddings.{}.weight", i), {1, D});
  b.add("prompt_encoder.not_a_point_embed.weight", {1, D});
  const int64_t mc = c.mask_in_chans;
  b.add("prompt_encoder.mask_downscaling.0.weight", {mc / 4, 1, 2, 2});
  b.add("prompt_encoder.mask_downscaling.0.bias", {mc / 4});
  b.norm("prompt_encoder.mask_downscaling.1", mc / 4);
  b.add("prompt_encoder.mask_downscaling.3.weight", {mc, mc / 4, 2, 2});
  b.add("prompt_encoder.mask_downscaling.3.bias", {mc});
  b.norm("prompt_encoder.mask_downscaling.4", mc);
  b.add("prompt_encoder.mask_downscaling.6.weight", {D, mc, 1, 1});
  b.add("prompt_encoder.mask_downscaling.6.bias", {D});
  b.add("prompt_encoder.no_mask_embed.weight", {1, D});
  // modeling/transformer.py: TwoWayTransformer inside modeling/mask_decoder.py: MaskDecoder
  for (int i = 0; i < c.decoder_depth; ++i) {
    const std::string p = fmt::format("mask_decoder.transformer.layers.{}", i);
    b.attention(p + ".self_attn", D, 1);
    b.norm(p + ".norm1", D);
    b.attention(p + ".cross_attn_token_to_image", D, c.attention_downsample_rate);
    b.norm(p + ".norm2", D);
    b.linear(p + ".mlp.lin1", D, c.decoder_mlp_dim);
    b.linear(p + ".mlp.lin2", c.decoder_mlp_dim, D);
    b.norm(p + ".norm3", D);
    b.norm(p + ".norm4", D);
    b.attention(p + ".cross_attn_image_to_token", D, c.attention_downsample_rate);
  }
  b.attention("mask_decoder.transformer.final_attn_token_to_image", D, c.attention_downsample_rate);
  b.norm("mask_decoder.transformer.norm_final_attn", D);
  b.add("mask_decoder.iou_token.weight", {1, D});
  b.add("mask_decoder.mask_tokens.weight", {c.num_mask_tokens(), D});
  // ConvTranspose2d weights are [in, out, kH, kW].
  b.add("mask_decoder.output_upscaling.0.weight", {D, D / 4, 2, 2});
  b.add("mask_decoder.output_upscaling.0.bias", {D / 4});
  b.norm("mask_decoder.output_upscaling.1", D / 4);
  b.add("mask_decoder.output_upscaling.3.weight", {D / 4, D / 8, 2, 2});
  b.add("mask_decoder.output_upscaling.3.bias", {D / 8});
  for (int i = 0; i < c.num_mask_tokens(); ++i)
    b.mlp(fmt::format("mask_decoder.output_hypernetworks_mlps.{}", i), D, D, D / 8, 3);
  b.mlp("mask_decoder.iou_prediction_head", D, c.iou_head_hidden_dim, c.num_mask_tokens(), c.iou_head_depth);
  return b.out;
}

bool is_large_matrix(const std::string& name, size_t rank) {
  if (rank < 2) return false;
  if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) return false;
  for (const char* embedding : {"point_embeddings", "not_a_point_embed", "no_mask_embed", "iou_token", "mask_tokens"})
    if (name.find(embedding) != std::string::npos) return false;
  return true;
}

std::string SchemaReport::summary(size_t max_names) const {
  std::vector<std::string> parts;
  auto part = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    std::vector<std::string> shown(names.begin(), names.begin() + static_cast<long>(std::min(names.size(), max_names)));
    if (names.size() > max_names) shown.push_back(fmt::format("... {} more", names.size() - max_names));
    parts.push_back(fmt::format("{} {} ({})", what, names.size(), fmt::join(shown, ", ")));
  };
  part("missing", missing);
  part("unexpected", unexpected);
  part("wrong shape", wrong_shape);
  return fmt::format("{}", fmt::join(parts, "; "));
}

SchemaReport check_weights(const SamConfig& config, const std::map<std::string, std::vector<int64_t>>& shapes) {
  SchemaReport r;
  std::map<std::string, const WeightSpec*> want;
  const std::vector<WeightSpec> specs = expected_weights(config);
  for (const WeightSpec& s : specs) want[s.name] = &s;
  for (const WeightSpec& s : specs) {
    auto it = shapes.find(s.name);
    if (it == shapes.end()) {
      r.missing.push_back(s.name);
    } else if (it->second != s.shape) {
      r.wrong_shape.push_back(fmt::format("{} [{}] (expected [{}])", s.name, fmt::join(it->second, ", "),
                                          fmt::join(s.shape, ", ")));
    }
  }
  for (const auto& [name, shape] : shapes)
    if (!want.count(name)) r.unexpected.push_back(name);
  return r;
}

const SamConfig& detect_variant(const std::map<std::string, std::vector<int64_t>>& shapes) {
  // MobileSAM (TinyViT image encoder): the variant whose whole schema the shapes fit.
  if (shapes.count("image_encoder.patch_embed.seq.0.c.weight")) {
    std::vector<std::string> reasons;
    for (const SamVariant& v : variants()) {
      if (std::string(v.encoder->name) != "tiny_vit") continue;
      const SchemaReport r = check_weights(v.config, shapes);
      if (r.ok()) return v.config;
      reasons.push_back(fmt::format("not {}: {}", v.name, r.summary(3)));
    }
    engine::fail("a MobileSAM (TinyViT) image encoder of no registered variant ({})", fmt::join(reasons, "; "));
  }
  const auto it = shapes.find("image_encoder.patch_embed.proj.weight");
  if (it == shapes.end() || it->second.size() != 4) {
    std::vector<std::string> some;
    for (const auto& [name, s] : shapes) {
      if (some.size() == 3) break;
      some.push_back(name);
    }
    engine::fail("not a SAM checkpoint: no image_encoder.patch_embed.proj.weight among its {} tensors ({}{})",
                 shapes.size(), fmt::join(some, ", "), shapes.size() > 3 ? ", ..." : "");
  }
  const int64_t width = it->second[0];
  std::vector<std::string> known;
  for (const SamVariant& v : variants()) {
    if (std::string(v.encoder->name) != "vit") continue;
    if (v.config.encoder_embed_dim == width) return v.config;
    known.push_back(fmt::format("{} ({})", v.config.encoder_embed_dim, v.name));
  }
  engine::fail("unknown SAM variant: image encoder width {}; known widths are {}", width, fmt::join(known, ", "));
}

}  // namespace sam
