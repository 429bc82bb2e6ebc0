#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/error.h"
#include "sam/modeling/config.h"
#include "sam/modeling/variants.h"
#include "sam/modeling/weight_schema.h"

using sam::SamConfig;
using sam::WeightSpec;

namespace {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

const SamConfig& config(const std::string& name) {
  const SamConfig* c = sam::find_config(name);
  REQUIRE(c != nullptr);
  return *c;
}

ShapeMap shape_map(const std::vector<WeightSpec>& specs) {
  ShapeMap m;
  for (const WeightSpec& s : specs) m[s.name] = s.shape;
  return m;
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

}  // namespace

TEST_CASE("known configs are the build_sam.py variants plus tiny", "[schema]") {
  std::set<std::string> names;
  for (const SamConfig& c : sam::known_configs()) names.insert(c.name);
  CHECK(names == std::set<std::string>{"vit_b", "vit_l", "vit_h", "vit_t", "tiny"});
  CHECK(sam::find_config("vit_x") == nullptr);
  for (const SamConfig& c : sam::known_configs()) {
    INFO(c.name);
    CHECK(c.encoder_embed_dim % c.encoder_num_heads == 0);
    CHECK(c.img_size % c.patch_size == 0);
    for (int g : c.global_attn_indexes) {
      CHECK(g < c.encoder_depth);
      CHECK(c.is_global_block(g));
    }
    CHECK(c.num_mask_tokens() == c.num_multimask_outputs + 1);
  }
}

TEST_CASE("expected_weights follows the structure of the config", "[schema]") {
  for (const SamConfig& c : sam::known_configs()) {
    if (!c.tinyvit_dims.empty()) continue;  // MobileSAM's TinyViT: tests/sam/test_tiny_vit.cpp
    INFO(c.name);
    const std::vector<WeightSpec> w = expected_weights(c);
    REQUIRE(!w.empty());
    const int64_t C = c.encoder_embed_dim, G = c.embedding_grid(), D = c.prompt_embed_dim;
    const int64_t head_dim = C / c.encoder_num_heads;

    // First key: the absolute position embedding [1, grid, grid, C].
    CHECK(w.front().name == "image_encoder.pos_embed");
    CHECK(w.front().shape == std::vector<int64_t>{1, G, G, C});

    // Names are unique.
    std::set<std::string> names;
    for (const WeightSpec& s : w) CHECK(names.insert(s.name).second);

    // Per block (modeling/image_encoder.py Block): norm1 {weight, bias}, attn.qkv
    // {weight, bias}, attn.proj {weight, bias}, attn.rel_pos_h, attn.rel_pos_w,
    // norm2 {weight, bias}, mlp.lin1 {weight, bias}, mlp.lin2 {weight, bias}.
    const std::vector<std::string> block_keys = {"norm1.weight",      "norm1.bias",        "attn.qkv.weight",
                                                 "attn.qkv.bias",     "attn.proj.weight",  "attn.proj.bias",
                                                 "attn.rel_pos_h",    "attn.rel_pos_w",    "norm2.weight",
                                                 "norm2.bias",        "mlp.lin1.weight",   "mlp.lin1.bias",
                                                 "mlp.lin2.weight",   "mlp.lin2.bias"};
    size_t n_block_keys = 0;
    for (const WeightSpec& s : w) n_block_keys += starts_with(s.name, "image_encoder.blocks.");
    CHECK(n_block_keys == static_cast<size_t>(c.encoder_depth) * block_keys.size());
    const ShapeMap m = shape_map(w);
    for (int b = 0; b < c.encoder_depth; ++b) {
      const std::string p = "image_encoder.blocks." + std::to_string(b) + ".";
      for (const std::string& k : block_keys) CHECK(m.count(p + k) == 1);
      // Relative position tables: 2 * (window or full grid) - 1 rows of head_dim.
      const int64_t size = c.is_global_block(b) ? G : c.window_size;
      CHECK(m.at(p + "attn.rel_pos_h") == std::vector<int64_t>{2 * size - 1, head_dim});
      CHECK(m.at(p + "attn.rel_pos_w") == std::vector<int64_t>{2 * size - 1, head_dim});
      CHECK(m.at(p + "attn.qkv.weight") == std::vector<int64_t>{3 * C, C});
      CHECK(m.at(p + "mlp.lin1.weight") == std::vector<int64_t>{C * c.mlp_ratio, C});
      CHECK(m.at(p + "mlp.lin2.weight") == std::vector<int64_t>{C, C * c.mlp_ratio});
    }
    // No block beyond the depth.
    CHECK(m.count("image_encoder.blocks." + std::to_string(c.encoder_depth) + ".norm1.weight") == 0);

    // Module order: image_encoder, then prompt_encoder, then mask_decoder.
    int stage = 0;
    for (const WeightSpec& s : w) {
      const int st = starts_with(s.name, "image_encoder.")    ? 0
                     : starts_with(s.name, "prompt_encoder.") ? 1
                     : starts_with(s.name, "mask_decoder.")   ? 2
                                                               : 99;
      REQUIRE(st != 99);
      CHECK(st >= stage);
      stage = st;
    }
    CHECK(m.at("image_encoder.patch_embed.proj.weight") ==
          std::vector<int64_t>{C, 3, c.patch_size, c.patch_size});
    CHECK(m.at("image_encoder.neck.0.weight") == std::vector<int64_t>{D, C, 1, 1});
    CHECK(m.at("mask_decoder.mask_tokens.weight") == std::vector<int64_t>{c.num_mask_tokens(), D});
    CHECK(m.at("mask_decoder.iou_prediction_head.layers." + std::to_string(c.iou_head_depth - 1) + ".weight") ==
          std::vector<int64_t>{c.num_mask_tokens(), c.iou_head_hidden_dim});
    for (int i = 0; i < c.num_mask_tokens(); ++i)
      CHECK(m.count("mask_decoder.output_hypernetworks_mlps." + std::to_string(i) + ".layers.2.bias") == 1);
    CHECK(m.count("mask_decoder.output_hypernetworks_mlps." + std::to_string(c.num_mask_tokens()) +
                  ".layers.0.weight") == 0);
    for (int i = 0; i < c.decoder_depth; ++i) {
      const std::string p = "mask_decoder.transformer.layers." + std::to_string(i) + ".";
      const int64_t internal = D / c.attention_downsample_rate;
      CHECK(m.at(p + "self_attn.q_proj.weight") == std::vector<int64_t>{D, D});
      CHECK(m.at(p + "cross_attn_token_to_image.q_proj.weight") == std::vector<int64_t>{internal, D});
      CHECK(m.at(p + "cross_attn_image_to_token.out_proj.weight") == std::vector<int64_t>{D, internal});
      CHECK(m.at(p + "mlp.lin1.weight") == std::vector<int64_t>{c.decoder_mlp_dim, D});
    }
    // Pixel mean / std are non-persistent buffers: not in the state_dict.
    CHECK(m.count("pixel_mean") == 0);
  }
  // vit_b specifically: window 14 -> 27 rows, global blocks (64 grid) -> 127 rows, head dim 64.
  const ShapeMap b = shape_map(expected_weights(config("vit_b")));
  CHECK(b.at("image_encoder.blocks.0.attn.rel_pos_h") == std::vector<int64_t>{2 * 14 - 1, 768 / 12});
  CHECK(b.at("image_encoder.blocks.2.attn.rel_pos_w") == std::vector<int64_t>{2 * 64 - 1, 768 / 12});
  CHECK(b.at("image_encoder.blocks.11.attn.rel_pos_h") == std::vector<int64_t>{127, 64});
  CHECK(b.at("image_encoder.blocks.10.attn.rel_pos_h") == std::vector<int64_t>{27, 64});
}

TEST_CASE("parameter counts are in the published ballpark", "[schema]") {
  // Published sizes of the released checkpoints: vit_b ~93.7M, vit_l ~312M, vit_h ~641M.
  const std::vector<std::pair<std::string, double>> published = {
      {"vit_b", 93.7e6}, {"vit_l", 312e6}, {"vit_h", 641e6}};
  for (const auto& [name, count] : published) {
    int64_t total = 0;
    for (const WeightSpec& s : expected_weights(config(name))) total += numel(s.shape);
    INFO(name << ": " << total << " parameters");
    CHECK(static_cast<double>(total) > count * 0.99);
    CHECK(static_cast<double>(total) < count * 1.01);
  }
}

TEST_CASE("detect_variant picks the config from the shapes", "[schema]") {
  for (const SamConfig& c : sam::known_configs()) {
    if (!c.tinyvit_dims.empty()) continue;  // MobileSAM's TinyViT: tests/sam/test_tiny_vit.cpp
    INFO(c.name);
    const ShapeMap m = shape_map(expected_weights(c));
    CHECK(&sam::detect_variant(m) == sam::find_config(c.name));
    // Only the patch embedding matters.
    ShapeMap only;
    only["image_encoder.patch_embed.proj.weight"] = m.at("image_encoder.patch_embed.proj.weight");
    CHECK(sam::detect_variant(only).name == c.name);
  }
  // No patch embedding: the message says so and names a few tensors.
  ShapeMap none = {{"a", {1}}, {"b", {2}}, {"c", {3}}, {"d", {4}}};
  try {
    (void)sam::detect_variant(none);
    FAIL("no error");
  } catch (const engine::Error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("patch_embed"));
    CHECK_THAT(what, Catch::Contains("4 tensors"));
    CHECK_THAT(what, Catch::Contains("a, b, c, ..."));
  }
  CHECK_THROWS_AS(sam::detect_variant({}), engine::Error);
  // Wrong rank of the patch embedding.
  CHECK_THROWS_AS(sam::detect_variant({{"image_encoder.patch_embed.proj.weight", {768, 3, 16}}}), engine::Error);
  // An unknown width.
  try {
    (void)sam::detect_variant({{"image_encoder.patch_embed.proj.weight", {896, 3, 16, 16}}});
    FAIL("no error");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("896"));
    CHECK_THAT(e.what(), Catch::Contains("768 (vit_b)"));
  }
}

TEST_CASE("check_weights reports missing, unexpected and wrong shapes", "[schema]") {
  const SamConfig& c = config("tiny");
  const std::vector<WeightSpec> w = expected_weights(c);
  ShapeMap m = shape_map(w);
  const sam::SchemaReport ok = sam::check_weights(c, m);
  CHECK(ok.ok());
  CHECK(ok.summary().empty());

  // Drop two, add one, change one shape.
  const std::string gone1 = w[3].name, gone2 = w.back().name;
  m.erase(gone1);
  m.erase(gone2);
  m["image_encoder.extra.weight"] = {1, 2};
  const std::string changed = "mask_decoder.iou_token.weight";
  const std::vector<int64_t> want = m.at(changed);
  m[changed] = {want[0], want[1] + 1};
  const sam::SchemaReport r = sam::check_weights(c, m);
  CHECK_FALSE(r.ok());
  CHECK(r.missing == std::vector<std::string>{gone1, gone2});  // in schema order
  CHECK(r.unexpected == std::vector<std::string>{"image_encoder.extra.weight"});
  REQUIRE(r.wrong_shape.size() == 1);
  CHECK(r.wrong_shape[0] == changed + " [" + std::to_string(want[0]) + ", " + std::to_string(want[1] + 1) +
                                "] (expected [" + std::to_string(want[0]) + ", " + std::to_string(want[1]) + "])");
  CHECK(r.summary() == "missing 2 (" + gone1 + ", " + gone2 + "); unexpected 1 (image_encoder.extra.weight); wrong shape 1 (" +
                           r.wrong_shape[0] + ")");

  // tiny's weights against vit_b: blocks 4..11 missing, most shapes wrong.
  const ShapeMap tiny = shape_map(w);
  const std::vector<WeightSpec> vb = expected_weights(config("vit_b"));
  std::vector<std::string> want_missing;
  size_t want_wrong = 0;
  for (const WeightSpec& s : vb) {
    auto it = tiny.find(s.name);
    if (it == tiny.end()) want_missing.push_back(s.name);
    else want_wrong += it->second != s.shape;
  }
  const sam::SchemaReport other = sam::check_weights(config("vit_b"), tiny);
  CHECK_FALSE(other.ok());
  CHECK(other.missing == want_missing);
  CHECK(other.missing.size() == static_cast<size_t>(12 - 4) * 14);
  CHECK(other.unexpected.empty());
  CHECK(other.wrong_shape.size() == want_wrong);
  CHECK(want_wrong > 0);
}

TEST_CASE("summary truncates long lists", "[schema]") {
  sam::SchemaReport r;
  for (int i = 0; i < 9; ++i) r.missing.push_back("m" + std::to_string(i));
  r.unexpected = {"u0", "u1"};
  CHECK(r.summary() == "missing 9 (m0, m1, m2, m3, ... 5 more); unexpected 2 (u0, u1)");
  CHECK(r.summary(2) == "missing 9 (m0, m1, ... 7 more); unexpected 2 (u0, u1)");
  CHECK(r.summary(9) == "missing 9 (m0, m1, m2, m3, m4, m5, m6, m7, m8); unexpected 2 (u0, u1)");
  CHECK(r.summary(0) == "missing 9 (... 9 more); unexpected 2 (... 2 more)");
  sam::SchemaReport s;
  s.wrong_shape = {"x [1] (expected [2])"};
  CHECK(s.summary() == "wrong shape 1 (x [1] (expected [2]))");
}

TEST_CASE("is_large_matrix policy", "[schema]") {
  using sam::is_large_matrix;
  CHECK(is_large_matrix("image_encoder.blocks.0.attn.qkv.weight", 2));
  CHECK_FALSE(is_large_matrix("image_encoder.blocks.0.attn.qkv.bias", 1));
  CHECK_FALSE(is_large_matrix("image_encoder.blocks.0.norm1.weight", 1));
  CHECK_FALSE(is_large_matrix("prompt_encoder.point_embeddings.0.weight", 2));
  CHECK_FALSE(is_large_matrix("prompt_encoder.not_a_point_embed.weight", 2));
  CHECK_FALSE(is_large_matrix("prompt_encoder.no_mask_embed.weight", 2));
  CHECK_FALSE(is_large_matrix("mask_decoder.iou_token.weight", 2));
  CHECK_FALSE(is_large_matrix("mask_decoder.mask_tokens.weight", 2));
  CHECK(is_large_matrix("mask_decoder.output_upscaling.0.weight", 4));
  CHECK(is_large_matrix("image_encoder.patch_embed.proj.weight", 4));
  CHECK(is_large_matrix("image_encoder.neck.0.weight", 4));
  CHECK_FALSE(is_large_matrix("image_encoder.pos_embed", 4));
  CHECK_FALSE(is_large_matrix("image_encoder.blocks.0.attn.rel_pos_h", 2));
  CHECK_FALSE(is_large_matrix("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", 2));
  CHECK_FALSE(is_large_matrix("weight", 2));
  CHECK_FALSE(is_large_matrix(".weight", 0));

  // Over the whole schema: exactly the rank >= 2 ".weight" keys minus the embeddings.
  for (const SamConfig& c : sam::known_configs()) {
    size_t large = 0, rank2_weights = 0, embeddings = 0;
    for (const WeightSpec& s : expected_weights(c)) {
      const bool weight = s.name.size() > 7 && s.name.substr(s.name.size() - 7) == ".weight";
      const bool emb = s.name.find("point_embeddings") != std::string::npos ||
                       s.name.find("not_a_point_embed") != std::string::npos ||
                       s.name.find("no_mask_embed") != std::string::npos ||
                       s.name.find("iou_token") != std::string::npos || s.name.find("mask_tokens") != std::string::npos;
      if (weight && s.shape.size() >= 2) {
        ++rank2_weights;
        embeddings += emb;
      }
      large += is_large_matrix(s.name, s.shape.size());
    }
    INFO(c.name);
    CHECK(large == rank2_weights - embeddings);
    // 4 point embeddings + not_a_point + no_mask + iou_token + mask_tokens.
    CHECK(embeddings == 8);
  }
}

TEST_CASE("the variant registry declares each variant once, consistently", "[sam]") {
  std::set<std::string> names;
  for (const sam::SamVariant& v : sam::variants()) {
    INFO(v.name);
    CHECK(names.insert(v.name).second);
    CHECK(v.config.name == v.name);
    REQUIRE(v.encoder != nullptr);
    CHECK(sam::find_variant(v.name) == &v);
    CHECK(sam::find_config(v.name) == &v.config);
    CHECK(v.test_only == v.official_checkpoint.empty());
    // The schema starts with the encoder family's keys, then the shared prompt encoder / mask decoder.
    const std::vector<sam::WeightSpec> all = sam::expected_weights(v.config);
    std::vector<sam::WeightSpec> encoder;
    v.encoder->expected_weights(v.config, encoder);
    REQUIRE(encoder.size() < all.size());
    for (size_t i = 0; i < encoder.size(); ++i) CHECK(all[i].name == encoder[i].name);
    CHECK(all[encoder.size()].name.rfind("prompt_encoder.", 0) == 0);
  }
  CHECK(sam::find_variant("vit_x") == nullptr);
  CHECK(sam::variant_names() == "vit_b, vit_l, vit_h, vit_t, tiny");
}
