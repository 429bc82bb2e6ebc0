// Hugging Face transformers' SamModel state_dict (model.safetensors, with
// config.json beside it) mapped to the official segment-anything key names.
//
// The two layouts hold the same tensors with the same shapes and values; only
// the names differ (and SamModel ties prompt_encoder.shared_embedding to
// shared_image_embedding, which save_pretrained usually stores once):
//   vision_encoder.patch_embed.projection.*    image_encoder.patch_embed.proj.*
//   vision_encoder.layers.N.layer_norm{1,2}.*  image_encoder.blocks.N.norm{1,2}.*
//   vision_encoder.layers.N.{attn,mlp}.*       image_encoder.blocks.N.{attn,mlp}.*
//   vision_encoder.neck.{conv1,layer_norm1,conv2,layer_norm2}.*  image_encoder.neck.{0,1,2,3}.*
//   vision_encoder.pos_embed                   image_encoder.pos_embed
//   shared_image_embedding.positional_embedding
//   (or prompt_encoder.shared_embedding.positional_embedding)
//                                              prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
//   prompt_encoder.point_embed.N.*             prompt_encoder.point_embeddings.N.*
//   prompt_encoder.mask_embed.{conv1,layer_norm1,conv2,layer_norm2,conv3}.*
//                                              prompt_encoder.mask_downscaling.{0,1,3,4,6}.*
//   mask_decoder.transformer.*.layer_normK.*   mask_decoder.transformer.*.normK.*
//   mask_decoder.transformer.layer_norm_final_attn.*  mask_decoder.transformer.norm_final_attn.*
//   mask_decoder.{upscale_conv1,upscale_layer_norm,upscale_conv2}.*
//                                              mask_decoder.output_upscaling.{0,1,3}.*
//   <mlp>.proj_in / <mlp>.layers.K / <mlp>.proj_out  <mlp>.layers.0 / .layers.K+1 / .layers.D-1
//     for mask_decoder.iou_prediction_head (D = iou_head_depth) and
//     mask_decoder.output_hypernetworks_mlps.N (D = 3)
// Everything else (no_mask_embed, not_a_point_embed, iou_token, mask_tokens,
// the attention projections, mlp.lin1/lin2, rel_pos_h/w) keeps its name.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "sam/modeling/config.h"
#include "sam/modeling/weight_schema.h"

namespace weights_tools {

// True when the keys are SamModel's (vision_encoder.*, shared_image_embedding.*)
// rather than the official ones (image_encoder.*).
bool is_hf_sam_layout(const std::vector<std::string>& names);

// The official name of an HF key (keys outside the mapping come back with the
// same renames applied, so the schema check reports them as unexpected).
std::string official_name_from_hf(const std::string& hf, const sam::SamConfig& config);
// The HF name of an official key (for messages that name the file's tensors).
std::string hf_name_from_official(const std::string& official, const sam::SamConfig& config);

// The registered variant a transformers SamConfig (config.json) describes;
// absent fields take transformers' defaults (save_pretrained writes only the
// fields that differ from them). Throws engine::Error with a one-line reason
// when the JSON is not a SAM config or matches no registered variant.
const sam::SamConfig& variant_from_hf_config(const std::string& config_json_path);

// The plan for one HF file: which HF tensor each official key reads.
struct HfSamPlan {
  const sam::SamConfig* config = nullptr;
  std::string config_source;                          // "config.json" or "keys and shapes"
  std::vector<std::pair<std::string, std::string>> official_to_hf;  // in the official state_dict order
  std::pair<std::string, std::string> tied;           // both positional tables when both are present
};

// Builds the plan for the HF tensors `shapes` of the file at `path`, reading
// config.json beside it when present. Throws engine::Error (one line) when the
// file fits no registered variant: config.json refused, keys missing or
// unexpected, wrong shapes (named by their HF keys).
HfSamPlan plan_hf_sam(const std::string& path, const std::map<std::string, std::vector<int64_t>>& shapes);

// SamModel ties the two positional tables; when a file holds both they must be
// equal bit for bit. `load` returns an HF tensor by name.
void check_tied_tables(const HfSamPlan& plan, const std::function<engine::Tensor(const std::string&)>& load);

}  // namespace weights_tools
