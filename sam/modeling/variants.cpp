#include "sam/modeling/variants.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sam/modeling/image_encoder.h"
#include "sam/modeling/tiny_vit_encoder.h"

namespace sam {
namespace {

std::unique_ptr<const ImageEncoder> create_vit(std::shared_ptr<const Weights> weights) {
  return std::make_unique<const ImageEncoderViT>(std::move(weights));
}

// modeling/image_encoder.py: ImageEncoderViT.
const ImageEncoderFamily kViT{"vit", create_vit, ImageEncoderViT::expected_weights};

std::unique_ptr<const ImageEncoder> create_tiny_vit(std::shared_ptr<const Weights> weights) {
  return std::make_unique<const TinyViTEncoder>(std::move(weights));
}

// MobileSAM's mobile_sam/modeling/tiny_vit_sam.py: TinyViT.
const ImageEncoderFamily kTinyViT{"tiny_vit", create_tiny_vit, TinyViTEncoder::expected_weights};

// build_sam.py: _build_sam(encoder_embed_dim, encoder_depth, encoder_num_heads,
// encoder_global_attn_indexes) with the shared prompt encoder / mask decoder.
SamConfig vit(const char* name, int embed_dim, int depth, int heads, std::vector<int> global) {
  SamConfig c;
  c.name = name;
  c.encoder_embed_dim = embed_dim;
  c.encoder_depth = depth;
  c.encoder_num_heads = heads;
  c.global_attn_indexes = std::move(global);
  return c;
}

// MobileSAM's build_sam.py: build_sam_vit_t, TinyViT(img_size=1024, embed_dims=[64, 128,
// 160, 320], depths=[2, 2, 6, 2], num_heads=[2, 4, 5, 10], window_sizes=[7, 7, 14, 7],
// mlp_ratio=4, mbconv_expand_ratio=4, local_conv_size=3) with SAM's prompt encoder and
// mask decoder (the defaults here). The ViT fields say what the encoder is in the
// ViT's terms for `sam info`: width and heads of the last stage, 12 blocks, no global ones.
SamConfig vit_t() {
  SamConfig c = vit("vit_t", 320, 12, 10, {});
  c.window_size = 7;
  c.tinyvit_dims = {64, 128, 160, 320};
  c.tinyvit_depths = {2, 2, 6, 2};
  c.tinyvit_heads = {2, 4, 5, 10};
  c.tinyvit_windows = {7, 7, 14, 7};
  return c;
}

// The tests' small model: every code path of vit_* (windows with padding:
// grid 16, window 6; global blocks) at a size that runs in milliseconds.
SamConfig tiny() {
  SamConfig c = vit("tiny", 64, 4, 4, {1, 3});
  c.img_size = 256;
  c.window_size = 6;
  c.prompt_embed_dim = 32;
  c.mask_in_chans = 8;
  c.decoder_mlp_dim = 64;
  c.decoder_num_heads = 2;
  c.iou_head_hidden_dim = 32;
  return c;
}

}  // namespace

const std::vector<SamVariant>& variants() {
  static const std::vector<SamVariant> registry = {
      {"vit_b", vit("vit_b", 768, 12, 12, {2, 5, 8, 11}), &kViT, "sam_vit_b_01ec64.pth"},
      {"vit_l", vit("vit_l", 1024, 24, 16, {5, 11, 17, 23}), &kViT, "sam_vit_l_0b3195.pth"},
      {"vit_h", vit("vit_h", 1280, 32, 16, {7, 15, 23, 31}), &kViT, "sam_vit_h_4b8939.pth"},
      {"vit_t", vit_t(), &kTinyViT, "mobile_sam.pt"},
      {"tiny", tiny(), &kViT, "", /*test_only=*/true},
  };
  return registry;
}

const SamVariant* find_variant(const std::string& name) {
  for (const SamVariant& v : variants())
    if (v.name == name) return &v;
  return nullptr;
}

std::string variant_names() {
  std::vector<std::string> names;
  for (const SamVariant& v : variants()) names.push_back(v.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace sam
