// The Hugging Face SamModel <-> official key mapping (weights_tools/hf_sam_mapping.h).
// The end-to-end check against transformers itself is tests/weights_tools/test_hf_checkpoints.py.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>

#include "engine/error.h"
#include "sam/modeling/variants.h"
#include "sam/modeling/weight_schema.h"
#include "weights_tools/hf_sam_mapping.h"

using weights_tools::hf_name_from_official;
using weights_tools::official_name_from_hf;

namespace {

std::string write_config(const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / ("hf_cfg_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "config.json";
  std::ofstream(path) << text;
  return path.string();
}

void require_refused(const std::string& json, const std::string& words) {
  try {
    (void)weights_tools::variant_from_hf_config(write_config(json));
    FAIL("accepted: " << json);
  } catch (const engine::Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains(words));
  }
}

}  // namespace

TEST_CASE("every official key maps to a distinct HF key and back", "[hf_mapping]") {
  for (const sam::SamVariant& v : sam::variants()) {
    if (std::string(v.encoder->name) != "vit") continue;  // Hugging Face's SamModel holds ViT encoders only
    std::set<std::string> seen;
    for (const sam::WeightSpec& w : sam::expected_weights(v.config)) {
      const std::string hf = hf_name_from_official(w.name, v.config);
      INFO(v.name << ": " << w.name << " -> " << hf);
      CHECK(seen.insert(hf).second);
      CHECK(official_name_from_hf(hf, v.config) == w.name);
      CHECK(hf.rfind("image_encoder.", 0) == std::string::npos);
    }
  }
}

TEST_CASE("the HF names are transformers' SamModel names", "[hf_mapping]") {
  const sam::SamConfig& c = *sam::find_config("vit_b");
  const std::pair<const char*, const char*> pairs[] = {
      {"vision_encoder.patch_embed.projection.weight", "image_encoder.patch_embed.proj.weight"},
      {"vision_encoder.pos_embed", "image_encoder.pos_embed"},
      {"vision_encoder.layers.11.layer_norm2.bias", "image_encoder.blocks.11.norm2.bias"},
      {"vision_encoder.layers.3.attn.rel_pos_h", "image_encoder.blocks.3.attn.rel_pos_h"},
      {"vision_encoder.layers.0.mlp.lin1.weight", "image_encoder.blocks.0.mlp.lin1.weight"},
      {"vision_encoder.neck.conv2.weight", "image_encoder.neck.2.weight"},
      {"vision_encoder.neck.layer_norm2.bias", "image_encoder.neck.3.bias"},
      {"shared_image_embedding.positional_embedding", "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"},
      {"prompt_encoder.point_embed.3.weight", "prompt_encoder.point_embeddings.3.weight"},
      {"prompt_encoder.mask_embed.conv3.bias", "prompt_encoder.mask_downscaling.6.bias"},
      {"prompt_encoder.mask_embed.layer_norm2.weight", "prompt_encoder.mask_downscaling.4.weight"},
      {"prompt_encoder.not_a_point_embed.weight", "prompt_encoder.not_a_point_embed.weight"},
      {"mask_decoder.transformer.layers.1.layer_norm4.weight", "mask_decoder.transformer.layers.1.norm4.weight"},
      {"mask_decoder.transformer.layers.0.cross_attn_image_to_token.out_proj.bias",
       "mask_decoder.transformer.layers.0.cross_attn_image_to_token.out_proj.bias"},
      {"mask_decoder.transformer.layer_norm_final_attn.bias", "mask_decoder.transformer.norm_final_attn.bias"},
      {"mask_decoder.upscale_layer_norm.weight", "mask_decoder.output_upscaling.1.weight"},
      {"mask_decoder.upscale_conv2.bias", "mask_decoder.output_upscaling.3.bias"},
      {"mask_decoder.output_hypernetworks_mlps.2.proj_in.weight", "mask_decoder.output_hypernetworks_mlps.2.layers.0.weight"},
      {"mask_decoder.output_hypernetworks_mlps.2.layers.0.bias", "mask_decoder.output_hypernetworks_mlps.2.layers.1.bias"},
      {"mask_decoder.output_hypernetworks_mlps.2.proj_out.weight", "mask_decoder.output_hypernetworks_mlps.2.layers.2.weight"},
      {"mask_decoder.iou_prediction_head.proj_out.bias", "mask_decoder.iou_prediction_head.layers.2.bias"},
  };
  for (const auto& [hf, official] : pairs) {
    CHECK(official_name_from_hf(hf, c) == official);
    CHECK(hf_name_from_official(official, c) == hf);
  }
  CHECK(official_name_from_hf("prompt_encoder.shared_embedding.positional_embedding", c) ==
        "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
  CHECK(weights_tools::is_hf_sam_layout({"shared_image_embedding.positional_embedding", "vision_encoder.pos_embed"}));
  CHECK_FALSE(weights_tools::is_hf_sam_layout({"image_encoder.pos_embed", "vision_encoder.pos_embed"}));
  CHECK_FALSE(weights_tools::is_hf_sam_layout({"mask_decoder.iou_token.weight"}));
}

TEST_CASE("config.json gives the variant; transformers' defaults fill absent fields", "[hf_mapping]") {
  CHECK(weights_tools::variant_from_hf_config(write_config(R"({"model_type": "sam"})")).name == "vit_b");
  CHECK(weights_tools::variant_from_hf_config(write_config(R"({"vision_config": {"model_type": ""}})")).name == "vit_b");
  CHECK(weights_tools::variant_from_hf_config(
            write_config(R"({"vision_config": {"hidden_size": 1280, "num_hidden_layers": 32,
              "num_attention_heads": 16, "global_attn_indexes": [7, 15, 23, 31], "mlp_dim": null}})"))
            .name == "vit_h");
  CHECK(weights_tools::variant_from_hf_config(
            write_config(R"({"vision_config": {"hidden_size": 1024, "num_hidden_layers": 24, "mlp_dim": 4096,
              "num_attention_heads": 16, "global_attn_indexes": [5, 11, 17, 23]}})"))
            .name == "vit_l");
  require_refused(R"({"vision_config": {"hidden_size": 168, "mlp_dim": 696}})", "describes no registered SAM variant");
  require_refused(R"({"vision_config": {"num_attention_heads": 8}})", "vision_config.num_attention_heads 8");
  require_refused(R"({"model_type": "sam2"})", "model_type");
  require_refused(R"({"vision_config": {"use_rel_pos": false}})", "use_rel_pos");
  require_refused(R"({"vision_config": {"hidden_size": "big"}})", "not a size");
  require_refused(R"({"vision_config": [1]})", "not an object");
  require_refused(R"([1, 2])", "not a config object");
  require_refused("{", "not valid JSON");
}
