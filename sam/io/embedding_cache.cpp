#include "sam/io/embedding_cache.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "engine/error.h"
#include "engine/io/mapped_file.h"
#include "engine/io/npy.h"
#include "engine/io/sha256.h"
#include "sam/modeling/weight_schema.h"

namespace sam {

namespace {
constexpr const char* kTag = "sam-engine-embedding ";

// The variant named in an embedding file's header, from its first bytes only ("" when
// there is none): lets a file too large for this model (another variant's embedding
// grid or width) be refused as another model's, without reading it whole.
std::string peek_variant(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string head(4096, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(f.gcount(), 0)));
  if (head.find(kTag) == std::string::npos) return "";
  const std::string key = "\"variant\":\"";
  const size_t at = head.find(key);
  if (at == std::string::npos) return "";
  const size_t end = head.find('"', at + key.size());
  return end == std::string::npos || end - at > 64 ? "" : head.substr(at + key.size(), end - at - key.size());
}
}  // namespace

std::string model_identity(const Weights& weights) {
  std::string text;
  for (const auto& [k, v] : weights.metadata()) text += k + "=" + v + "\n";
  const auto specs = expected_weights(weights.config());
  // The shapes as stored: get() would widen every tensor of an f16 / bf16 file to an f32 copy kept for
  // the model's life (the whole encoder again, in RAM) and fault back the pages dropped after packing.
  for (const auto& s : specs) text += fmt::format("{} {}\n", s.name, weights.stored(s.name).shape().str());
  // Different weights converted from the same source share all of the above only
  // if they are the same checkpoint; add a sample of the values to tell apart
  // files whose metadata was edited or stripped.
  const engine::Tensor& probe = weights.get("mask_decoder.iou_token.weight");
  text += engine::sha256_bytes(probe.raw_data(), probe.nbytes());
  return engine::sha256_bytes(text.data(), text.size());
}

std::string image_identity(const Image& image) {
  std::string head = fmt::format("{}x{}x{}:", image.width, image.height, image.channels);
  std::string all = head;
  all.append(reinterpret_cast<const char*>(image.pixels.data()), image.pixels.size());
  return engine::sha256_bytes(all.data(), all.size());
}

void save_embedding(const std::string& path, const engine::Tensor& embedding, const Weights& weights,
                    const Image& image) {
  nlohmann::json j = {{"model", model_identity(weights)},
                      {"image", image_identity(image)},
                      {"width", image.width},
                      {"height", image.height},
                      {"variant", weights.config().name}};
  engine::write_npy(path, embedding, kTag + j.dump());
}

engine::Tensor load_embedding(const std::string& path, const Weights& weights, const Image* image, int* width,
                              int* height) {
  const int D = weights.config().prompt_embed_dim, G = weights.config().embedding_grid();
  // Refuse a file too large to be an embedding before reading it.
  const size_t max_bytes = sizeof(float) * D * G * G + engine::kMaxNpyHeader + 12;
  const size_t bytes = engine::check_regular_file(path);
  if (bytes > max_bytes) {
    const std::string variant = peek_variant(path);
    engine::check(variant.empty() || variant == weights.config().name,
                  "{}: embedding was computed with another model (variant {}), not {}", path, variant, weights.path());
  }
  engine::check(bytes <= max_bytes, "{}: {} bytes, too large for an embedding of this model (at most {})", path, bytes,
                max_bytes);
  std::string comment;
  engine::Tensor t = engine::read_npy(path, &comment);
  engine::check(comment.rfind(kTag, 0) == 0, "{}: not an embedding written by sam segment --save-embedding", path);
  const nlohmann::json j = nlohmann::json::parse(comment.substr(std::string(kTag).size()), nullptr, false);
  engine::check(j.is_object() && j.contains("model") && j.contains("image") && j.contains("width") &&
                    j.contains("height") && j["width"].is_number_integer() && j["height"].is_number_integer(),
                "{}: damaged embedding header", path);
  engine::check(j["model"] == model_identity(weights), "{}: embedding was computed with another model (variant {}), "
                "not {}",
                path, j.value("variant", "?"), weights.path());
  if (image)
    engine::check(j["image"] == image_identity(*image), "{}: embedding was computed for another image", path);
  engine::check(t.dtype() == engine::DType::F32 && t.shape() == engine::Shape({1, D, G, G}),
                "{}: embedding of shape {}, expected [1, {}, {}, {}]", path, t.shape().str(), D, G, G);
  *width = j["width"].get<int>();
  *height = j["height"].get<int>();
  engine::check(*width > 0 && *height > 0 && static_cast<int64_t>(*width) * *height <= kMaxImagePixels,
                "{}: damaged embedding header (image size)", path);
  return t;
}

}  // namespace sam
