#include "hf_sam_mapping.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"
#include "sam/modeling/variants.h"

namespace weights_tools {
namespace {

using nlohmann::json;

constexpr const char* kPeOfficial = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix";
constexpr const char* kPeHf = "shared_image_embedding.positional_embedding";
constexpr const char* kPeHfTied = "prompt_encoder.shared_embedding.positional_embedding";
constexpr const char* kPatchHf = "vision_encoder.patch_embed.projection.weight";

// Whole-prefix renames, most specific first (HF, official).
struct Prefix {
  const char* hf;
  const char* official;
};
constexpr Prefix kPrefixes[] = {
    {"vision_encoder.patch_embed.projection.", "image_encoder.patch_embed.proj."},
    {"vision_encoder.layers.", "image_encoder.blocks."},
    {"vision_encoder.neck.conv1.", "image_encoder.neck.0."},
    {"vision_encoder.neck.layer_norm1.", "image_encoder.neck.1."},
    {"vision_encoder.neck.conv2.", "image_encoder.neck.2."},
    {"vision_encoder.neck.layer_norm2.", "image_encoder.neck.3."},
    {"vision_encoder.", "image_encoder."},
    {"prompt_encoder.point_embed.", "prompt_encoder.point_embeddings."},
    {"prompt_encoder.mask_embed.conv1.", "prompt_encoder.mask_downscaling.0."},
    {"prompt_encoder.mask_embed.layer_norm1.", "prompt_encoder.mask_downscaling.1."},
    {"prompt_encoder.mask_embed.conv2.", "prompt_encoder.mask_downscaling.3."},
    {"prompt_encoder.mask_embed.layer_norm2.", "prompt_encoder.mask_downscaling.4."},
    {"prompt_encoder.mask_embed.conv3.", "prompt_encoder.mask_downscaling.6."},
    {"mask_decoder.upscale_conv1.", "mask_decoder.output_upscaling.0."},
    {"mask_decoder.upscale_layer_norm.", "mask_decoder.output_upscaling.1."},
    {"mask_decoder.upscale_conv2.", "mask_decoder.output_upscaling.3."},
};

// Segment renames inside the encoder blocks and the two-way transformer.
constexpr Prefix kNorms[] = {{"layer_norm1", "norm1"},
                             {"layer_norm2", "norm2"},
                             {"layer_norm3", "norm3"},
                             {"layer_norm4", "norm4"},
                             {"layer_norm_final_attn", "norm_final_attn"}};

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string rename_prefix(const std::string& key, bool to_official) {
  for (const Prefix& p : kPrefixes) {
    const std::string from = to_official ? p.hf : p.official;
    if (starts_with(key, from)) return (to_official ? p.official : p.hf) + key.substr(from.size());
  }
  return key;
}

std::string rename_norms(const std::string& key, bool to_official) {
  if (!starts_with(key, "image_encoder.blocks.") && !starts_with(key, "mask_decoder.transformer.") &&
      !starts_with(key, "vision_encoder.layers."))
    return key;
  std::stringstream in(key);
  std::string seg, out;
  while (std::getline(in, seg, '.')) {
    for (const Prefix& n : kNorms)
      if (seg == (to_official ? n.hf : n.official)) {
        seg = to_official ? n.official : n.hf;
        break;
      }
    out += (out.empty() ? "" : ".") + seg;
  }
  return out;
}

// The MLP heads: official layers.0 .. layers.D-1 are HF proj_in, layers.0 ..
// layers.D-3, proj_out. Returns the key unchanged outside them.
std::string rename_mlp(const std::string& key, const sam::SamConfig& config, bool to_official) {
  std::string head;
  int depth = 0;
  if (starts_with(key, "mask_decoder.iou_prediction_head.")) {
    head = "mask_decoder.iou_prediction_head.";
    depth = config.iou_head_depth;
  } else if (starts_with(key, "mask_decoder.output_hypernetworks_mlps.")) {
    const size_t dot = key.find('.', std::strlen("mask_decoder.output_hypernetworks_mlps."));
    if (dot == std::string::npos) return key;
    head = key.substr(0, dot + 1);
    depth = 3;  // modeling/mask_decoder.py: MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3)
  } else {
    return key;
  }
  const std::string rest = key.substr(head.size());
  const size_t dot = rest.find('.');
  const std::string layer = rest.substr(0, dot), tail = dot == std::string::npos ? "" : rest.substr(dot);
  auto index_after = [&](const std::string& s) -> int {  // "layers.K..." -> K, else -1
    if (!starts_with(s, "layers.")) return -1;
    const std::string k = s.substr(7, s.find('.', 7) - 7);
    if (k.empty() || k.size() > 3 || k.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(k);
  };
  if (to_official) {
    if (layer == "proj_in") return head + "layers.0" + tail;
    if (layer == "proj_out") return head + fmt::format("layers.{}", depth - 1) + tail;
    const int k = index_after(rest);
    if (k < 0) return key;
    const std::string after = rest.substr(7 + std::to_string(k).size());
    return head + fmt::format("layers.{}", k + 1) + after;
  }
  const int k = index_after(rest);
  if (k < 0) return key;
  const std::string after = rest.substr(7 + std::to_string(k).size());
  if (k == 0) return head + "proj_in" + after;
  if (k == depth - 1) return head + "proj_out" + after;
  return head + fmt::format("layers.{}", k - 1) + after;
}


// One integer field of transformers' SamConfig and the value a variant has.
struct IntField {
  const char* section;  // "vision_config", "prompt_encoder_config", "mask_decoder_config"
  const char* key;
  int hf_default;       // transformers' default (vit_b); -1: computed (mlp_dim)
  int (*of)(const sam::SamConfig&);
};

const IntField kIntFields[] = {
    {"vision_config", "hidden_size", 768, [](const sam::SamConfig& c) { return c.encoder_embed_dim; }},
    {"vision_config", "num_hidden_layers", 12, [](const sam::SamConfig& c) { return c.encoder_depth; }},
    {"vision_config", "num_attention_heads", 12, [](const sam::SamConfig& c) { return c.encoder_num_heads; }},
    {"vision_config", "mlp_dim", -1, [](const sam::SamConfig& c) { return c.encoder_embed_dim * c.mlp_ratio; }},
    {"vision_config", "image_size", 1024, [](const sam::SamConfig& c) { return c.img_size; }},
    {"vision_config", "patch_size", 16, [](const sam::SamConfig& c) { return c.patch_size; }},
    {"vision_config", "window_size", 14, [](const sam::SamConfig& c) { return c.window_size; }},
    {"vision_config", "output_channels", 256, [](const sam::SamConfig& c) { return c.prompt_embed_dim; }},
    {"vision_config", "num_pos_feats", 128, [](const sam::SamConfig& c) { return c.prompt_embed_dim / 2; }},
    {"vision_config", "num_channels", 3, [](const sam::SamConfig&) { return 3; }},
    {"prompt_encoder_config", "hidden_size", 256, [](const sam::SamConfig& c) { return c.prompt_embed_dim; }},
    {"prompt_encoder_config", "image_size", 1024, [](const sam::SamConfig& c) { return c.img_size; }},
    {"prompt_encoder_config", "patch_size", 16, [](const sam::SamConfig& c) { return c.patch_size; }},
    {"prompt_encoder_config", "mask_input_channels", 16, [](const sam::SamConfig& c) { return c.mask_in_chans; }},
    {"prompt_encoder_config", "num_point_embeddings", 4, [](const sam::SamConfig&) { return 4; }},
    {"mask_decoder_config", "hidden_size", 256, [](const sam::SamConfig& c) { return c.prompt_embed_dim; }},
    {"mask_decoder_config", "mlp_dim", 2048, [](const sam::SamConfig& c) { return c.decoder_mlp_dim; }},
    {"mask_decoder_config", "num_hidden_layers", 2, [](const sam::SamConfig& c) { return c.decoder_depth; }},
    {"mask_decoder_config", "num_attention_heads", 8, [](const sam::SamConfig& c) { return c.decoder_num_heads; }},
    {"mask_decoder_config", "attention_downsample_rate", 2,
     [](const sam::SamConfig& c) { return c.attention_downsample_rate; }},
    {"mask_decoder_config", "num_multimask_outputs", 3,
     [](const sam::SamConfig& c) { return c.num_multimask_outputs; }},
    {"mask_decoder_config", "iou_head_depth", 3, [](const sam::SamConfig& c) { return c.iou_head_depth; }},
    {"mask_decoder_config", "iou_head_hidden_dim", 256, [](const sam::SamConfig& c) { return c.iou_head_hidden_dim; }},
};

// What the official modules fix and transformers makes configurable.
struct FixedField {
  const char* section;
  const char* key;
  json value;  // transformers' default, the only value SAM's modules implement
};

const json& section_of(const json& root, const char* section) {
  static const json empty = json::object();
  const auto it = root.find(section);
  if (it == root.end() || it->is_null()) return empty;
  if (!it->is_object()) engine::fail("{} is a {}, not an object", section, it->type_name());
  return *it;
}

int int_field(const json& root, const IntField& f) {
  const json& sec = section_of(root, f.section);
  const auto it = sec.find(f.key);
  if (f.hf_default < 0) {  // vision_config.mlp_dim: None means hidden_size * mlp_ratio
    if (it == sec.end() || it->is_null()) {
      const auto h = sec.find("hidden_size");
      const auto r = sec.find("mlp_ratio");
      const int hidden = h != sec.end() && h->is_number_integer() ? h->get<int>() : 768;
      const double ratio = r != sec.end() && r->is_number() ? r->get<double>() : 4.0;
      return static_cast<int>(hidden * ratio);
    }
  } else if (it == sec.end() || it->is_null()) {
    return f.hf_default;
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > (1 << 24))
    engine::fail("{}.{} is {}, not a size", f.section, f.key, it->dump());
  return it->get<int>();
}

std::vector<int> global_attn_indexes(const json& root) {
  const json& sec = section_of(root, "vision_config");
  const auto it = sec.find("global_attn_indexes");
  if (it == sec.end() || it->is_null()) return {2, 5, 8, 11};
  std::vector<int> out;
  if (it->is_array())
    for (const json& v : *it)
      if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < 4096) out.push_back(v.get<int>());
  if (!it->is_array() || out.size() != it->size())
    engine::fail("vision_config.global_attn_indexes is {}, not a list of block indexes", it->dump());
  return out;
}

void check_fixed_fields(const json& root) {
  const FixedField fixed[] = {
      {"vision_config", "hidden_act", "gelu"},      {"vision_config", "qkv_bias", true},
      {"vision_config", "use_abs_pos", true},       {"vision_config", "use_rel_pos", true},
      {"prompt_encoder_config", "hidden_act", "gelu"}, {"mask_decoder_config", "hidden_act", "relu"},
  };
  for (const FixedField& f : fixed) {
    const json& sec = section_of(root, f.section);
    const auto it = sec.find(f.key);
    if (it != sec.end() && !it->is_null() && *it != f.value)
      engine::fail("{}.{} is {}; SAM's modules implement only {}", f.section, f.key, it->dump(),
                   f.value.dump());
  }
}

json read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  engine::check(f.good(), "cannot open {}", path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  engine::check(text.size() <= (1u << 20), "{}: {} bytes; a SamConfig is a few KB", path, text.size());
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) engine::fail("{}: not valid JSON", path);
  if (!root.is_object()) engine::fail("{}: holds a JSON {}, not a config object", path, root.type_name());
  return root;
}

}  // namespace

const sam::SamConfig& variant_from_hf_config(const std::string& path) {
  const json root = read_json(path);
  return engine::with_context(path, [&]() -> const sam::SamConfig& {
    if (const auto mt = root.find("model_type"); mt != root.end() && *mt != "sam")
      engine::fail("model_type is {}, not \"sam\" (transformers' SamModel)", mt->dump());
    check_fixed_fields(root);
    std::vector<int> values;
    for (const IntField& f : kIntFields) values.push_back(int_field(root, f));
    const std::vector<int> global = global_attn_indexes(root);
    const sam::SamVariant* nearest = nullptr;
    std::vector<std::string> nearest_diffs;
    for (const sam::SamVariant& v : sam::variants()) {
      if (std::string(v.encoder->name) != "vit") continue;  // SamModel's vision encoder is a ViT
      std::vector<std::string> diffs;
      for (size_t i = 0; i < std::size(kIntFields); ++i)
        if (values[i] != kIntFields[i].of(v.config))
          diffs.push_back(fmt::format("{}.{} {} ({} has {})", kIntFields[i].section, kIntFields[i].key, values[i],
                                      v.name, kIntFields[i].of(v.config)));
      if (global != v.config.global_attn_indexes)
        diffs.push_back(fmt::format("vision_config.global_attn_indexes [{}] ({} has [{}])", fmt::join(global, ", "),
                                    v.name, fmt::join(v.config.global_attn_indexes, ", ")));
      if (diffs.empty()) return v.config;
      if (!nearest || diffs.size() < nearest_diffs.size()) {
        nearest = &v;
        nearest_diffs = std::move(diffs);
      }
    }
    if (nearest_diffs.size() > 3) {
      const size_t more = nearest_diffs.size() - 3;
      nearest_diffs.resize(3);
      nearest_diffs.push_back(fmt::format("{} more", more));
    }
    engine::fail("describes no registered SAM variant ({}); nearest {} differs in {}", sam::variant_names(),
                 nearest->name, fmt::join(nearest_diffs, ", "));
  });
}

bool is_hf_sam_layout(const std::vector<std::string>& names) {
  bool hf = false;
  for (const std::string& n : names) {
    if (starts_with(n, "image_encoder.")) return false;
    hf = hf || starts_with(n, "vision_encoder.") || n == kPeHf;
  }
  return hf;
}

std::string official_name_from_hf(const std::string& hf, const sam::SamConfig& config) {
  if (hf == kPeHf || hf == kPeHfTied) return kPeOfficial;
  return rename_mlp(rename_norms(rename_prefix(hf, true), true), config, true);
}

std::string hf_name_from_official(const std::string& official, const sam::SamConfig& config) {
  if (official == kPeOfficial) return kPeHf;
  return rename_prefix(rename_norms(rename_mlp(official, config, false), false), false);
}

namespace {

// The config: from config.json beside the file when present, else from the
// shapes (the image encoder's width, as for official checkpoints). Both must agree.
const sam::SamConfig& pick_config(const std::string& path, const std::map<std::string, std::vector<int64_t>>& shapes,
                                  std::string& source) {
  const auto patch = shapes.find(kPatchHf);
  if (patch == shapes.end() || patch->second.size() != 4)
    engine::fail("not a Hugging Face SAM checkpoint: no 4-d {} among its {} tensors", kPatchHf, shapes.size());
  const std::map<std::string, std::vector<int64_t>> probe = {{"image_encoder.patch_embed.proj.weight", patch->second}};
  const sam::SamConfig& by_shapes = sam::detect_variant(probe);
  const std::filesystem::path json_path = std::filesystem::path(path).parent_path() / "config.json";
  std::error_code ec;
  if (!std::filesystem::exists(json_path, ec)) {
    source = "keys and shapes";
    return by_shapes;
  }
  const sam::SamConfig& by_json = variant_from_hf_config(json_path.string());
  source = "config.json";
  engine::check(by_json.name == by_shapes.name,
                "{} describes SAM {}, but the tensors are {}'s (image encoder width {})", json_path.string(),
                by_json.name, by_shapes.name, patch->second[0]);
  return by_json;
}

// The schema report with the file's own (HF) names.
std::string hf_report(const sam::SchemaReport& r, const std::map<std::string, std::string>& to_hf,
                      const sam::SamConfig& config) {
  sam::SchemaReport out;
  auto hf = [&](const std::string& official) {
    const auto it = to_hf.find(official);
    return it != to_hf.end() ? it->second : hf_name_from_official(official, config);
  };
  for (const std::string& n : r.missing) out.missing.push_back(hf(n));
  for (const std::string& n : r.unexpected) out.unexpected.push_back(hf(n));
  for (const std::string& n : r.wrong_shape) {
    const size_t space = n.find(' ');
    out.wrong_shape.push_back(hf(n.substr(0, space)) + (space == std::string::npos ? "" : n.substr(space)));
  }
  return out.summary();
}

}  // namespace

HfSamPlan plan_hf_sam(const std::string& path, const std::map<std::string, std::vector<int64_t>>& shapes) {
  HfSamPlan plan;
  plan.config = &pick_config(path, shapes, plan.config_source);
  const sam::SamConfig& config = *plan.config;
  std::map<std::string, std::string> to_hf;  // official -> HF
  std::map<std::string, std::vector<int64_t>> official_shapes;
  for (const auto& [name, shape] : shapes) {
    if (name == kPeHfTied && shapes.count(kPeHf)) {  // the tied copy: checked equal, not converted
      plan.tied = {kPeHf, kPeHfTied};
      continue;
    }
    const std::string official = official_name_from_hf(name, config);
    const auto [it, fresh] = to_hf.emplace(official, name);
    engine::check(fresh, "tensors '{}' and '{}' both map to the official key '{}'", it->second, name, official);
    official_shapes[official] = shape;
  }
  if (!plan.tied.first.empty() && shapes.at(kPeHf) != shapes.at(kPeHfTied))
    engine::fail("{} and {} have different shapes; SamModel ties them", kPeHf, kPeHfTied);
  const sam::SchemaReport report = sam::check_weights(config, official_shapes);
  engine::check(report.ok(), "does not match the SAM {} layout (Hugging Face SamModel keys; variant from {}): {}",
                config.name, plan.config_source, hf_report(report, to_hf, config));
  for (const sam::WeightSpec& w : sam::expected_weights(config)) plan.official_to_hf.emplace_back(w.name, to_hf.at(w.name));
  return plan;
}

void check_tied_tables(const HfSamPlan& plan, const std::function<engine::Tensor(const std::string&)>& load) {
  if (plan.tied.first.empty()) return;
  const engine::Tensor a = load(plan.tied.first), b = load(plan.tied.second);
  engine::check(a.dtype() == b.dtype() && a.nbytes() == b.nbytes() &&
                    std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0,
                "{} and {} differ; SamModel ties them, so a valid file holds one table", plan.tied.first,
                plan.tied.second);
}

}  // namespace weights_tools
