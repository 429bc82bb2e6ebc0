// sam bench: medians of the image encoder, the decoder per prompt (prompt
// encoder + mask decoder + upscaling to the original size) and end to end
// (decode image -> masks), a per-layer time table and the peak RSS.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "engine/thread_pool.h"
#include "engine/ops/blas.h"
#include "engine/runtime.h"
#include "engine/text.h"
#include "engine/ops.h"
#include "sam/io/embedding_cache.h"
#include "sam/predictor.h"

namespace sam::cli {
namespace {

struct BenchArgs {
  std::string model, image, load_embedding;
  int runs = 3, decoder_runs = 10, threads = 0;
  std::string precision;  // --precision: "" keeps the runtime's (f32 or SAM_PRECISION)
  bool json = false;
};

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Time between consecutive layer reports = that layer's time (layers run one after another).
class TimingTracer : public Tracer {
 public:
  TimingTracer() : last_(Clock::now()) {}
  bool needs_tensors() const override { return false; }
  void record(const std::string& path, const engine::Tensor&) override {
    const auto now = Clock::now();
    rows_.push_back({path, std::chrono::duration<double, std::milli>(now - last_).count()});
    last_ = now;
  }
  void restart() { last_ = Clock::now(); }
  std::vector<std::pair<std::string, double>> rows_;

 private:
  Clock::time_point last_;
};

// A synthetic image when none is given (sam demo-image's picture), so that the
// benchmark needs no files.
Image synthetic_image() {
  Image img;
  img.width = 1800;
  img.height = 1200;
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      uint8_t* p = img.row(y) + x * 3;
      p[0] = static_cast<uint8_t>((x * 255) / img.width);
      p[1] = static_cast<uint8_t>((y * 255) / img.height);
      p[2] = static_cast<uint8_t>(((x / 60 + y / 40) % 2) * 200 + 30);
    }
  return img;
}

int run_bench(const BenchArgs& a) {
  set_runtime(a.threads, a.precision);
  const int threads = engine::thread_pool().num_threads();
  auto t0 = Clock::now();
  const auto weights = Weights::load(a.model);
  Predictor predictor(std::make_shared<const SamModel>(weights));
  const double load_ms = ms_since(t0);
  const Image image = a.image.empty() ? synthetic_image() : load_image(a.image);
  // --load-embedding: decoder only, on a cached embedding of this image (no encoder runs).
  const bool encode = a.load_embedding.empty();
  if (!encode) {
    int w = 0, h = 0;
    const engine::Tensor emb = load_embedding(a.load_embedding, *weights, &image, &w, &h);
    predictor.set_embedding(emb, h, w);
  }
  PromptSet prompt;
  prompt.points.push_back({image.width * 0.45f, image.height * 0.55f});
  prompt.labels.push_back(1);

  if (encode) predictor.set_image(image);  // warm-up (first-touch of weights and arena)
  predictor.predict({prompt}, true);
  std::vector<double> enc, dec, e2e;
  for (int r = 0; encode && r < a.runs; ++r) {
    t0 = Clock::now();
    predictor.set_image(image);
    enc.push_back(ms_since(t0));
  }
  for (int r = 0; r < a.decoder_runs; ++r) {
    t0 = Clock::now();
    predictor.predict({prompt}, true);
    dec.push_back(ms_since(t0));
  }
  // A refinement click as sam serve's page sends it: a second point with the
  // best low-res logits of the first answer fed back as mask_input.
  PromptSet refine = prompt;
  {
    const Prediction first = predictor.predict({prompt}, true);
    const float* iou = first.iou_predictions.data<float>();
    const int64_t c = first.iou_predictions.shape()[1];
    int64_t best = 0;
    for (int64_t k = 1; k < c; ++k)
      if (iou[k] > iou[best]) best = k;
    const engine::Tensor one = first.low_res_logits.select(1, best).select(0, 0);
    refine.mask_input = one.clone().reshape({1, 1, one.shape()[0], one.shape()[1]});
    refine.points.push_back({image.width * 0.55f, image.height * 0.5f});
    refine.labels.push_back(0);
  }
  std::vector<double> ref;
  for (int r = 0; r < a.decoder_runs; ++r) {
    t0 = Clock::now();
    predictor.predict({refine}, true);
    ref.push_back(ms_since(t0));
  }
  for (int r = 0; encode && r < a.runs; ++r) {
    t0 = Clock::now();
    const Image img = a.image.empty() ? synthetic_image() : load_image(a.image);
    predictor.set_image(img);
    predictor.predict({prompt}, true);
    e2e.push_back(ms_since(t0));
  }
  TimingTracer layers;
  if (encode) predictor.set_image(image, &layers);
  layers.restart();
  predictor.predict({prompt}, true, false, &layers);

  const double enc_ms = median(enc), dec_ms = median(dec), ref_ms = median(ref), total_ms = median(e2e), rss = peak_rss_mb();
  if (a.json) {
    nlohmann::json j = {{"model", a.model},
                        {"variant", weights->config().name},
                        {"image", a.image.empty() ? "synthetic 1800x1200" : a.image},
                        {"threads", threads},
                        {"isa", engine::kernel_isa()},
                        {"gemm", engine::gemm_backend_name(engine::runtime_options().gemm)},
                        {"precision", engine::precision_name(engine::runtime_options().precision)},
                        {"runs", a.runs},
                        {"load_ms", load_ms},
                        {"encoder_ms", encode ? nlohmann::json(enc_ms) : nlohmann::json(nullptr)},
                        {"decoder_ms", dec_ms},
                        {"decoder_refine_ms", ref_ms},
                        {"total_ms", encode ? nlohmann::json(total_ms) : nlohmann::json(nullptr)},
                        {"peak_rss_mb", rss}};
    nlohmann::json table = nlohmann::json::array();
    for (const auto& [path, ms] : layers.rows_) table.push_back({{"layer", path}, {"ms", ms}});
    j["layers"] = table;
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("sam bench: {} ({}), {} threads, {} kernels, {} GEMM, {} precision, image {}x{}\n",
             engine::printable(a.model), weights->config().name, threads, engine::kernel_isa(),
             engine::gemm_backend_name(engine::runtime_options().gemm),
             engine::precision_name(engine::runtime_options().precision), image.width, image.height);
  fmt::print("  model load        {:9.1f} ms\n", load_ms);
  if (encode)
    fmt::print("  encoder           {:9.1f} ms   (median of {})\n", enc_ms, a.runs);
  else
    fmt::print("  encoder           skipped: embedding from {}\n", engine::printable(a.load_embedding));
  fmt::print("  decoder / prompt  {:9.1f} ms   (median of {}; prompt encoder + mask decoder + upscaling to {}x{})\n",
             dec_ms, a.decoder_runs, image.width, image.height);
  fmt::print("  decoder / refine  {:9.1f} ms   (median of {}; a second point with the first answer's logits as mask input)\n",
             ref_ms, a.decoder_runs);
  if (encode) fmt::print("  end to end        {:9.1f} ms   (median of {}; decode image -> masks)\n", total_ms, a.runs);
  fmt::print("  peak RSS          {:9.1f} MB\n\nper layer (one run):\n", rss);
  double sum = 0;
  for (const auto& r : layers.rows_) sum += r.second;
  for (const auto& [path, ms] : layers.rows_)
    if (ms >= 0.05 * sum / static_cast<double>(std::max<size_t>(layers.rows_.size(), 1)))
      fmt::print("  {:<58} {:9.2f} ms {:5.1f}%\n", path, ms, 100 * ms / sum);
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench", "Time the encoder, the decoder per prompt and the whole pipeline");
  sub->add_option("-m,--model", a->model, "converted model (.safetensors)")->required();
  sub->add_option("-i,--image", a->image, "image (default: a synthetic 1800x1200 picture)");
  sub->add_option("--load-embedding", a->load_embedding,
                  "time the decoder only, on a cached embedding of the image (sam segment --save-embedding)");
  sub->add_option("--runs", a->runs, "runs per median (encoder, end to end)")->check(CLI::Range(1, 1000));
  sub->add_option("--decoder-runs", a->decoder_runs, "runs for the decoder median")->check(CLI::Range(1, 10000));
  sub->add_option("--threads", a->threads, "worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  add_precision_option(sub, a->precision);
  sub->add_flag("--json", a->json, "print one JSON object (encoder_ms, decoder_ms, total_ms, peak_rss_mb, layers)");
  return {sub, [a] { return run_bench(*a); }};
}

}  // namespace sam::cli
