// The state_dict a SAM checkpoint must hold: every key of the official
// modeling/ modules with its shape, for a given config. Used by the converter
// to validate input and by the model loader to validate converted files.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sam/modeling/config.h"

namespace sam {

struct WeightSpec {
  std::string name;               // state_dict key, e.g. "image_encoder.blocks.0.attn.qkv.weight"
  std::vector<int64_t> shape;
};

// Keys in the order the official Sam.state_dict() lists them: the variant's
// image-encoder family's keys (variants.h), then the prompt encoder's and the
// mask decoder's, which every variant shares.
std::vector<WeightSpec> expected_weights(const SamConfig& config);

// Appends state_dict entries for the official building blocks.
struct WeightListBuilder {
  std::vector<WeightSpec> out;
  void add(const std::string& name, std::vector<int64_t> shape) { out.push_back({name, std::move(shape)}); }
  void linear(const std::string& prefix, int64_t in, int64_t out_features, bool bias = true);  // nn.Linear
  void norm(const std::string& prefix, int64_t channels);  // nn.LayerNorm / LayerNorm2d
  // modeling/transformer.py: Attention(embedding_dim, num_heads, downsample_rate)
  void attention(const std::string& prefix, int64_t dim, int64_t downsample);
  // modeling/mask_decoder.py: MLP(input_dim, hidden_dim, output_dim, num_layers)
  void mlp(const std::string& prefix, int64_t in, int64_t hidden, int64_t out_features, int layers);
};

// Which tensors a 16-bit conversion turns into f16/bf16: the weight matrices
// of Linear / Conv / ConvTranspose layers (".weight", rank >= 2). Biases, norm
// parameters, positional tables and nn.Embedding tables stay f32: they are
// 3.6% of vit_b's bytes (mostly pos_embed) and feed additions and sin/cos directly.
bool is_large_matrix(const std::string& name, size_t rank);

struct SchemaReport {
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  std::vector<std::string> wrong_shape;  // "name [got] (expected [want])"
  bool ok() const { return missing.empty() && unexpected.empty() && wrong_shape.empty(); }
  // One line: "missing 2 (a, b); unexpected 1 (c); wrong shape 1 (d [1] (expected [2]))"
  std::string summary(size_t max_names = 4) const;
};

SchemaReport check_weights(const SamConfig& config, const std::map<std::string, std::vector<int64_t>>& shapes);

// Picks the variant from the shapes (image encoder width and depth). Throws
// engine::Error with a one-line reason when the tensors are not a SAM state_dict.
const SamConfig& detect_variant(const std::map<std::string, std::vector<int64_t>>& shapes);

}  // namespace sam
