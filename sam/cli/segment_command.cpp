// sam segment: one image, point / box / mask prompts -> binary masks, overlay, JSON.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/commands.h"
#include "cli/output_dir.h"
#include "cli/overlay.h"
#include "cli/prompt_args.h"
#include "engine/error.h"
#include "engine/text.h"
#include "engine/io/atomic_file.h"
#include "engine/io/output_guard.h"
#include "engine/io/npy.h"
#include "engine/ops.h"
#include "engine/thread_pool.h"
#include "sam/io/embedding_cache.h"
#include "sam/predictor.h"

namespace sam::cli {
namespace {

struct SegmentArgs {
  std::string model, image, outdir, save_logits, save_embedding, load_embedding;
  PromptArgs prompts;
  int threads = 0;
  std::string precision;  // --precision: "" keeps the runtime's (f32 or SAM_PRECISION)
  bool overwrite = false;
  bool ignore_exif = false;
};

class Stopwatch {
 public:
  double lap_ms() {
    const auto now = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
    return ms;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

void write_text(const std::string& path, const std::string& text) {
  engine::AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

bool is_segment_file(const std::string& name) {
  if (name == "result.json" || name == "overlay.png") return true;
  if (name.size() <= 9 || name.rfind("mask_", 0) != 0 || name.substr(name.size() - 4) != ".png") return false;
  const std::string k = name.substr(5, name.size() - 9);
  return !k.empty() && std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string not_npy(const std::string& path) { return engine::starts_with_bytes(path, "\x93NUMPY") ? "" : "not a .npy file"; }

// The output contract (README "Outputs"), checked before any work: no output is
// an input, the outputs do not overlap, an existing output is replaced only
// with --overwrite and only if sam segment wrote it. Returns the output folder,
// locked and claimed.
std::unique_ptr<OutputDir> open_outputs(const SegmentArgs& a) {
  const std::vector<engine::InputFile> inputs = {{"--model", a.model},
                                                 {"--image", a.image},
                                                 {"--mask-input", a.prompts.mask_input},
                                                 {"--load-embedding", a.load_embedding}};
  for (const auto& [opt, path] : {std::pair<const char*, const std::string&>{"--save-logits", a.save_logits},
                                  {"--save-embedding", a.save_embedding}}) {
    if (path.empty()) continue;
    engine::check_not_an_input(opt, path, inputs);
    if (engine::is_inside(path, a.outdir))
      engine::fail("{} {}: lies inside the output folder {}; choose a path outside it", opt, path, a.outdir);
    engine::check_replaceable_file(path, a.overwrite, "sam segment", not_npy);
  }
  if (!a.save_logits.empty() && !a.save_embedding.empty() && engine::same_path(a.save_logits, a.save_embedding))
    engine::fail("--save-embedding {}: is also the --save-logits output", a.save_embedding);
  auto out = std::make_unique<OutputDir>(a.outdir);
  out->claim({"sam segment", is_segment_file, "result.json"}, a.overwrite, inputs);
  return out;
}

// The masks as PNGs (best first per prompt set) and their records; by_score
// collects them for the overlay.
nlohmann::json write_masks(OutputDir& out, const Prediction& pred, int W, int H,
                           std::vector<std::pair<float, OverlayMask>>& by_score) {
  const int N = static_cast<int>(pred.masks.dim(0)), C = static_cast<int>(pred.masks.dim(1));
  const size_t plane = static_cast<size_t>(H) * W;
  nlohmann::json masks_json = nlohmann::json::array();
  int k = 0;
  for (int n = 0; n < N; ++n) {
    std::vector<int> order(static_cast<size_t>(C));
    std::iota(order.begin(), order.end(), 0);
    const float* iou = pred.iou_predictions.data<float>() + static_cast<size_t>(n) * C;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return iou[x] > iou[y]; });
    for (int c : order) {
      const uint8_t* m = pred.masks.data<uint8_t>() + (static_cast<size_t>(n) * C + c) * plane;
      Image png;
      png.width = W;
      png.height = H;
      png.channels = 1;
      png.pixels.resize(plane);
      int64_t area = 0;
      int x0 = W, y0 = H, x1 = -1, y1 = -1;
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const uint8_t v = m[static_cast<size_t>(y) * W + x];
          png.pixels[static_cast<size_t>(y) * W + x] = v ? 255 : 0;
          if (!v) continue;
          ++area;
          x0 = std::min(x0, x);
          y0 = std::min(y0, y);
          x1 = std::max(x1, x);
          y1 = std::max(y1, y);
        }
      const std::string name = fmt::format("mask_{}.png", k);
      write_png(out.staged(name), png);
      nlohmann::json bbox = area ? nlohmann::json::array({x0, y0, x1 - x0 + 1, y1 - y0 + 1}) : nlohmann::json::array();
      masks_json.push_back({{"file", name},
                            {"prompt_set", n},
                            {"mask_index", c},
                            {"score", iou[c]},
                            {"area", area},
                            {"bbox_xywh", bbox}});
      by_score.push_back({iou[c], {m, n * C + c}});
      ++k;
    }
  }
  return masks_json;
}

// overlay.png (the best mask of the whole call drawn last); returns the prompts' record.
nlohmann::json write_overlay(OutputDir& out, const Image& image, const std::vector<PromptSet>& sets,
                             std::vector<std::pair<float, OverlayMask>> by_score, const std::string& mask_input) {
  std::stable_sort(by_score.begin(), by_score.end(), [](const auto& p, const auto& q) { return p.first < q.first; });
  std::vector<OverlayMask> overlay_masks;
  for (const auto& [score, om] : by_score) overlay_masks.push_back({om.mask, static_cast<int>(overlay_masks.size())});
  std::vector<std::array<float, 4>> boxes;
  std::vector<std::array<float, 3>> points;
  nlohmann::json prompts_json = {{"points", nlohmann::json::array()}, {"boxes", nlohmann::json::array()}};
  for (size_t i = 0; i < sets[0].points.size(); ++i) {
    points.push_back({sets[0].points[i][0], sets[0].points[i][1], static_cast<float>(sets[0].labels[i])});
    prompts_json["points"].push_back({sets[0].points[i][0], sets[0].points[i][1], sets[0].labels[i]});
  }
  for (const PromptSet& s : sets)
    if (s.box) {
      boxes.push_back(*s.box);
      prompts_json["boxes"].push_back(*s.box);
    }
  if (!mask_input.empty()) prompts_json["mask_input"] = mask_input;
  write_png(out.staged("overlay.png"), draw_overlay(image, overlay_masks, boxes, points));
  return prompts_json;
}

int run_segment(const SegmentArgs& a) {
  Stopwatch total, sw;
  nlohmann::json timing;
  set_runtime(a.threads, a.precision);
  // Every output is checked and staged (temporary names) before the model is
  // read, so that an unwritable or forbidden destination fails early and a
  // failure later (or SIGINT / SIGTERM / SIGHUP) leaves nothing behind.
  const std::unique_ptr<OutputDir> out = open_outputs(a);
  const auto weights = Weights::load(a.model);
  timing["load_model_ms"] = sw.lap_ms();
  const Image image = load_image(a.image, a.ignore_exif ? ExifOrientation::kIgnore : ExifOrientation::kApply);
  timing["load_image_ms"] = sw.lap_ms();
  // Validate every prompt before the expensive encoder runs.
  const std::vector<PromptSet> sets = a.prompts.build(image.width, image.height, weights->config().embedding_grid());
  const bool multimask = !a.prompts.single_mask;
  const int64_t n_masks = static_cast<int64_t>(sets.size()) * (multimask ? 3 : 1);
  engine::check(n_masks * image.width * image.height <= kMaxMaskPixels,
                "{} masks of {}x{} pixels exceed the limit of {} mask pixels: use fewer boxes or --single-mask",
                n_masks, image.width, image.height, kMaxMaskPixels);
  const std::string logits_path = a.save_logits.empty() ? "" : out->staged_file(a.save_logits);
  const std::string embedding_path = a.save_embedding.empty() ? "" : out->staged_file(a.save_embedding);

  Predictor predictor(std::make_shared<const SamModel>(weights));
  predictor.set_release_scratch(true);  // one encode: its activations can go before decoding
  if (!a.load_embedding.empty()) {
    int w = 0, h = 0;
    const engine::Tensor emb = load_embedding(a.load_embedding, *weights, &image, &w, &h);
    predictor.set_embedding(emb, h, w);
    timing["encoder_ms"] = 0.0;
    timing["embedding_loaded_from"] = a.load_embedding;
  } else {
    predictor.set_image(image);
    timing["encoder_ms"] = sw.lap_ms();
  }
  const Prediction pred = predictor.predict(sets, multimask);
  timing["decoder_ms"] = sw.lap_ms();

  std::vector<std::pair<float, OverlayMask>> by_score;
  const nlohmann::json masks_json = write_masks(*out, pred, image.width, image.height, by_score);
  const nlohmann::json prompts_json = write_overlay(*out, image, sets, by_score, a.prompts.mask_input);
  if (!logits_path.empty()) write_npy(logits_path, pred.low_res_logits);
  if (!embedding_path.empty()) save_embedding(embedding_path, predictor.embedding(), *weights, image);
  timing["write_ms"] = sw.lap_ms();
  timing["total_ms"] = total.lap_ms();
  nlohmann::json result = {{"model", a.model},
                           {"variant", weights->config().name},
                           {"image", a.image},
                           {"image_size", {image.width, image.height}},
                           {"multimask_output", multimask},
                           {"prompts", prompts_json},
                           {"masks", masks_json},
                           {"timing", timing}};
  if (weights->metadata().count("source_format") && weights->metadata().at("source_format") == "random")
    result["note"] = "random-weight model: the masks are meaningless";
  write_text(out->staged("result.json"), result.dump(2) + "\n");  // staged last: moved into place last
  out->commit();
  fmt::print("wrote {} mask(s), overlay.png and result.json to {} (encoder {:.0f} ms, decoder {:.0f} ms)\n",
             masks_json.size(), engine::printable(a.outdir), timing["encoder_ms"].get<double>(),
             timing["decoder_ms"].get<double>());
  if (result.contains("note")) fmt::print("note: {}\n", result["note"].get<std::string>());
  return 0;
}

}  // namespace

Command add_segment_command(CLI::App& app) {
  auto a = std::make_shared<SegmentArgs>();
  CLI::App* sub = app.add_subcommand("segment", "Segment one image from point / box / mask prompts");
  sub->add_option("-m,--model", a->model, "converted model (.safetensors from sam-convert)")->required();
  sub->add_option("-i,--image", a->image, "image file (PNG, JPEG, BMP, ...)")->required();
  a->prompts.add_to(sub);
  sub->add_option("-o,--output", a->outdir, "output folder: mask_K.png, overlay.png, result.json")->required();
  sub->add_option("--save-logits", a->save_logits, "write the low-res logits [N,C,256,256] float32 .npy");
  auto* save = sub->add_option("--save-embedding", a->save_embedding, "cache the image embedding in this .npy");
  auto* load = sub->add_option("--load-embedding", a->load_embedding, "reuse a cached embedding (skips the encoder)");
  save->excludes(load);
  sub->add_flag("--ignore-exif", a->ignore_exif, "keep a JPEG's stored orientation (default: apply its EXIF rotation)");
  sub->add_flag("--overwrite", a->overwrite,
                "replace an earlier result of sam segment in the output folder (and --save-* files it wrote)");
  sub->add_option("--threads", a->threads, "worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  add_precision_option(sub, a->precision);
  return {sub, [a] { return run_segment(*a); }};
}

}  // namespace sam::cli
