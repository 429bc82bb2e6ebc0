// Hyper-parameters of a SAM variant, as segment_anything/build_sam.py builds
// them. The variants themselves are declared once, in variants.cpp.
#pragma once

#include <string>
#include <vector>

namespace sam {

struct SamConfig {
  std::string name;
  // image_encoder (modeling/image_encoder.py: ImageEncoderViT)
  int img_size = 1024;
  int patch_size = 16;
  int encoder_embed_dim = 768;
  int encoder_depth = 12;
  int encoder_num_heads = 12;
  int mlp_ratio = 4;
  int window_size = 14;
  std::vector<int> global_attn_indexes;
  // image_encoder of MobileSAM (mobile_sam/modeling/tiny_vit_sam.py: TinyViT; the
  // "tiny_vit" family, empty for ViT variants): per stage (layers.i) the embed dim,
  // depth, heads and window (stage 0 is MBConv blocks: no heads or window there).
  std::vector<int> tinyvit_dims, tinyvit_depths, tinyvit_heads, tinyvit_windows;
  int mbconv_expand_ratio = 4;  // MBConv hidden = dim * ratio
  int local_conv_size = 3;      // TinyViTBlock.local_conv kernel
  // prompt_encoder (modeling/prompt_encoder.py: PromptEncoder)
  int prompt_embed_dim = 256;
  int mask_in_chans = 16;
  // mask_decoder (modeling/mask_decoder.py, modeling/transformer.py)
  int decoder_depth = 2;
  int decoder_mlp_dim = 2048;
  int decoder_num_heads = 8;
  int attention_downsample_rate = 2;
  int num_multimask_outputs = 3;
  int iou_head_depth = 3;
  int iou_head_hidden_dim = 256;

  int embedding_grid() const { return img_size / patch_size; }  // 64 for the real models
  int num_mask_tokens() const { return num_multimask_outputs + 1; }
  bool is_global_block(int block) const;
};

// The configs of variants(), in registry order.
const std::vector<SamConfig>& known_configs();
// nullptr when `name` is not a registered variant.
const SamConfig* find_config(const std::string& name);

}  // namespace sam
