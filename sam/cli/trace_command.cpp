// sam trace: run layer by layer, write every layer's output as .npy named by
// its official module path, and optionally compare with the reference
// harness's dumps (tests/reference/dump_reference.py --layers).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <set>

#include "cli/commands.h"
#include "cli/output_dir.h"
#include "cli/prompt_args.h"
#include "engine/error.h"
#include "engine/text.h"
#include "engine/io/npy.h"
#include "engine/io/output_guard.h"
#include "engine/ops.h"
#include "engine/thread_pool.h"
#include "sam/predictor.h"

namespace sam::cli {
namespace {

struct TraceArgs {
  std::string model, image, outdir, compare;
  PromptArgs prompts;
  int threads = 0;
  std::string precision;  // --precision: "" keeps the runtime's (f32 or SAM_PRECISION)
  double threshold = 1e-4;
  bool overwrite = false;
  bool ignore_exif = false;
};

// Writes each recorded tensor as <path>.npy into the staging folder, in order.
class NpyTracer : public Tracer {
 public:
  explicit NpyTracer(OutputDir& out) : out_(out) {}
  void record(const std::string& path, const engine::Tensor& t) override {
    std::string name = path;
    for (int i = 2; seen_.count(name); ++i) name = fmt::format("{}#{}", path, i);  // modules called twice
    seen_.insert(name);
    engine::write_npy(out_.staged(name + ".npy"), t.contiguous());
    order_.push_back(name);
  }
  const std::vector<std::string>& order() const { return order_; }

 private:
  OutputDir& out_;
  std::set<std::string> seen_;
  std::vector<std::string> order_;
};

struct Diff {
  double max_abs = 0, rel_l2 = 0;
};

Diff compare(const engine::Tensor& a, const engine::Tensor& b) {
  const engine::Tensor x = a.to(engine::DType::F32), y = b.to(engine::DType::F32);
  double err = 0, ref = 0;
  Diff d;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double e = static_cast<double>(x.data<float>()[i]) - y.data<float>()[i];
    err += e * e;
    ref += static_cast<double>(y.data<float>()[i]) * y.data<float>()[i];
    d.max_abs = std::max(d.max_abs, std::fabs(e));
  }
  d.rel_l2 = ref > 0 ? std::sqrt(err / ref) : std::sqrt(err);
  return d;
}

int run_trace(const TraceArgs& a) {
  set_runtime(a.threads, a.precision);
  // The output contract (README "Outputs"): the folder is new or empty, or with
  // --overwrite holds an earlier trace (.npy files with image_embedding.npy) and
  // nothing else; no input lies in it.
  OutputDir out(a.outdir);
  const auto is_trace_file = [](const std::string& name) {
    return name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0;
  };
  out.claim({"sam trace", is_trace_file, "image_embedding.npy"}, a.overwrite,
            {{"--model", a.model}, {"--image", a.image}, {"--mask-input", a.prompts.mask_input}});
  if (!a.compare.empty() && engine::is_inside(a.compare, a.outdir))
    engine::fail("--compare {}: lies inside the output folder {}; choose a path outside it", a.compare, a.outdir);
  const auto weights = Weights::load(a.model);
  const Image image = load_image(a.image, a.ignore_exif ? ExifOrientation::kIgnore : ExifOrientation::kApply);
  const std::vector<PromptSet> sets = a.prompts.build(image.width, image.height, weights->config().embedding_grid());
  NpyTracer tracer(out);
  Predictor predictor(std::make_shared<const SamModel>(weights));
  predictor.set_image(image, &tracer);
  tracer.record("image_embedding", predictor.embedding());
  const Prediction pred = predictor.predict(sets, !a.prompts.single_mask, /*return_logits=*/true, &tracer);
  tracer.record("low_res_logits", pred.low_res_logits);
  tracer.record("iou_predictions", pred.iou_predictions);
  tracer.record("mask_logits", pred.masks);
  out.commit();
  fmt::print("wrote {} layer outputs to {}\n", tracer.order().size(), engine::printable(a.outdir));
  if (a.compare.empty()) return 0;

  namespace fs = std::filesystem;
  fmt::print("\n{:>3}  {:<58} {:<20} {:>11} {:>11}  {}\n", "#", "layer", "shape", "max abs", "rel L2", "");
  int first_bad = -1, compared = 0, missing = 0;
  for (size_t i = 0; i < tracer.order().size(); ++i) {
    const std::string& name = tracer.order()[i];
    fs::path ref = fs::path(a.compare) / (name + ".npy");
    if (!fs::exists(ref)) ref = fs::path(a.compare) / "layers" / (name + ".npy");
    const engine::Tensor ours = engine::read_npy((fs::path(a.outdir) / (name + ".npy")).string());
    if (!fs::exists(ref)) {
      ++missing;
      continue;
    }
    engine::Tensor theirs = engine::read_npy(ref.string());
    std::string status;
    Diff d;
    if (theirs.shape() != ours.shape() && theirs.numel() == ours.numel()) theirs = theirs.reshape(ours.shape());
    if (theirs.shape() != ours.shape()) {
      status = fmt::format("shape differs: reference {}", theirs.shape().str());
      if (first_bad < 0) first_bad = static_cast<int>(i);
    } else {
      d = compare(ours, theirs);
      ++compared;
      if (d.rel_l2 > a.threshold) {
        status = first_bad < 0 ? "<-- first divergence" : "diverges";
        if (first_bad < 0) first_bad = static_cast<int>(i);
      }
    }
    fmt::print("{:>3}  {:<58} {:<20} {:>11.3e} {:>11.3e}  {}\n", i, name, ours.shape().str(), d.max_abs, d.rel_l2,
               status);
  }
  fmt::print("\n{} layers compared, {} without a reference dump; ", compared, missing);
  if (first_bad < 0) fmt::print("all within rel L2 {:g}\n", a.threshold);
  else fmt::print("first divergence at #{} {}\n", first_bad, tracer.order()[static_cast<size_t>(first_bad)]);
  return 0;
}

}  // namespace

Command add_trace_command(CLI::App& app) {
  auto a = std::make_shared<TraceArgs>();
  CLI::App* sub = app.add_subcommand("trace", "Write every layer's output (.npy, official module paths); compare "
                                              "with reference dumps");
  sub->add_option("-m,--model", a->model, "converted model (.safetensors)")->required();
  sub->add_option("-i,--image", a->image, "image file")->required();
  a->prompts.add_to(sub);
  sub->add_option("-o,--output", a->outdir, "folder for the layer outputs")->required();
  sub->add_option("--compare", a->compare, "reference folder from tests/reference/dump_reference.py --layers");
  sub->add_option("--threshold", a->threshold, "rel L2 above which a layer counts as diverging (default 1e-4)");
  sub->add_option("--threads", a->threads, "worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  add_precision_option(sub, a->precision);
  sub->add_flag("--ignore-exif", a->ignore_exif, "keep a JPEG's stored orientation (default: apply its EXIF rotation)");
  sub->add_flag("--overwrite", a->overwrite, "replace an earlier trace in the output folder");
  return {sub, [a] { return run_trace(*a); }};
}

}  // namespace sam::cli
