#include "sam/modeling/config.h"

#include <algorithm>

namespace sam {

bool SamConfig::is_global_block(int block) const {
  return std::find(global_attn_indexes.begin(), global_attn_indexes.end(), block) != global_attn_indexes.end();
}

namespace {

SamConfig make_vit(const char* name, int embed_dim, int depth, int heads, std::vector<int> global) {
  SamConfig c;
  c.name = name;
  c.encoder_embed_dim = embed_dim;
  c.encoder_depth = depth;
  c.encoder_num_heads = heads;
  c.global_attn_indexes = std::move(global);
  return c;
}

SamConfig make_tiny() {
  SamConfig c;
  c.name = "tiny";
  c.img_size = 256;
  c.patch_size = 16;
  c.encoder_embed_dim = 64;
  c.encoder_depth = 4;
  c.encoder_num_heads = 4;
  c.window_size = 6;
  c.global_attn_indexes = {1, 3};
  c.prompt_embed_dim = 32;
  c.mask_in_chans = 8;
  c.decoder_mlp_dim = 64;
  c.decoder_num_heads = 2;
  c.iou_head_hidden_dim = 32;
  return c;
}

}  // namespace

const std::vector<SamConfig>& known_configs() {
  // build_sam.py: build_sam_vit_h / build_sam_vit_l / build_sam_vit_b.
  static const std::vector<SamConfig> configs = {
      make_vit("vit_b", 768, 12, 12, {2, 5, 8, 11}),
      make_vit("vit_l", 1024, 24, 16, {5, 11, 17, 23}),
      make_vit("vit_h", 1280, 32, 16, {7, 15, 23, 31}),
      make_tiny(),
  };
  return configs;
}

const SamConfig* find_config(const std::string& name) {
  for (const SamConfig& c : known_configs())
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace sam
