#include "random_checkpoint.h"

#include <chrono>
#include <cmath>
#include <map>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "sam/modeling/weight_schema.h"

namespace weights_tools {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s, uint64_t h = 0xCBF29CE484222325ull) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// Standard normal samples (Box-Muller on 53-bit uniforms).
struct Normal {
  uint64_t state;
  bool has_spare = false;
  double spare = 0;
  double next() {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    const double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1p-53;  // (0, 1]
    const double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare = r * std::sin(2 * M_PI * u2);
    has_spare = true;
    return r * std::cos(2 * M_PI * u2);
  }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

struct Spec {
  double mean, std;
};

// The rule table of sam_configs.py, keyed on state_dict names and shapes.
Spec spec_for(const std::string& key, const std::vector<int64_t>& shape) {
  if (ends_with(key, "pos_embed")) return {0, 0.1};
  if (contains(key, "rel_pos_")) return {0, 0.5 / std::sqrt(static_cast<double>(shape[1]))};
  if (contains(key, "positional_encoding_gaussian_matrix")) return {0, 1.0};
  for (const char* e : {"point_embeddings", "not_a_point_embed", "no_mask_embed", "iou_token", "mask_tokens"})
    if (contains(key, e)) return {0, 1.0};
  // MobileSAM (TinyViT): BatchNorm running statistics (a variance must stay positive: 1 +- 0.1)
  // and the per-head attention bias tables.
  if (ends_with(key, ".running_var")) return {1.0, 0.1};
  if (ends_with(key, ".running_mean")) return {0, 0.1};
  if (ends_with(key, ".attention_biases")) return {0, 0.5};
  if (ends_with(key, ".weight") && shape.size() == 1) return {1.0, 0.1};  // LayerNorm / LayerNorm2d / BatchNorm
  if (ends_with(key, ".bias")) return {0, 0.05};  // layer and norm biases alike
  engine::check(ends_with(key, ".weight") && shape.size() >= 2, "random weights: no rule for '{}'", key);
  double fan_in = static_cast<double>(shape[1]);
  for (size_t i = 2; i < shape.size(); ++i) fan_in *= static_cast<double>(shape[i]);
  if (contains(key, "output_upscaling")) {
    // ConvTranspose2d weight [in, out, kh, kw], stride 2x2: fan_in = in * kh * kw / 4.
    fan_in = static_cast<double>(shape[0] * shape[2] * shape[3]) / 4.0;
  }
  const bool residual_out = (contains(key, "image_encoder.blocks.") && contains(key, "attn.proj")) ||
                            contains(key, "mlp.lin2") || contains(key, "out_proj");
  const double gain = residual_out ? 0.7 : 1.0;
  return {0, gain / std::sqrt(fan_in)};
}

}  // namespace

ConvertSummary write_random_checkpoint(const sam::SamConfig& config, uint64_t seed, const std::string& path,
                                       engine::DType dtype, bool show_progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<sam::WeightSpec> specs = sam::expected_weights(config);

  std::vector<engine::SafetensorsSpec> out;
  std::vector<const sam::WeightSpec*> order;
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& s : specs) {
      const bool narrow = dtype != engine::DType::F32 && sam::is_large_matrix(s.name, s.shape.size());
      if (narrow != (pass == 1)) continue;
      out.push_back({s.name, narrow ? dtype : engine::DType::F32, engine::Shape{std::span<const int64_t>(s.shape)}});
      order.push_back(&s);
    }
  const std::map<std::string, std::string> metadata = {
      {"format", "sam-engine"},
      {"format_version", "1"},
      {"variant", config.name},
      {"dtype", std::string(engine::dtype_name(dtype))},
      {"converter", std::string("sam-convert ") + kConverterVersion},
      {"source_format", "random"},
      {"source_file", "-"},
      {"source_sha256", "-"},
      {"random_seed", std::to_string(seed)},
      {"note", "seeded random weights: the masks are meaningless"},
  };
  ConvertSummary summary;
  summary.variant = config.name;
  summary.source_format = "random";
  std::vector<float> values;
  write_tensors(
      path, out, metadata,
      [&](size_t i) {
        const sam::WeightSpec& s = *order[i];
        const Spec sp = spec_for(s.name, s.shape);
        const engine::Shape shape{std::span<const int64_t>(s.shape)};
        values.resize(static_cast<size_t>(shape.numel()));
        Normal rng{fnv1a(s.name, fnv1a(std::to_string(seed)))};
        for (float& v : values) v = static_cast<float>(sp.mean + sp.std * rng.next());
        return engine::Tensor::from_blob(values.data(), engine::DType::F32, shape);
      },
      "generating", show_progress, summary);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace weights_tools
