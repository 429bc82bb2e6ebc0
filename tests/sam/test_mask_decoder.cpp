// sam::PromptEncoder + sam::MaskDecoder (with the TwoWayTransformer) against the
// official segment_anything code: reference dumps of tests/reference/dump_reference.py
// (SamPredictor.predict / predict_torch with forward hooks on every submodule),
// fed the official image_embedding.npy so that only the prompt path is tested.
//
// Needs SAM_TESTDATA = the testdata directory of tests/reference/prepare_test_data.sh:
// tiny.pth and the cases in kTinyCases (ref_tiny_point, ref_tiny_box, ref_tiny_boxes,
// ref_tiny_mask). Optional "[vit_b]" case: vit_b.pth and SAM_TESTDATA/ref_vit_b_point
// (or the directory in SAM_VIT_B_REF) made with
//   dump_reference.py --pth vit_b.pth --variant vit_b --random-image 640 427 3
//       --point 300,200,1 --out SAM_TESTDATA/ref_vit_b_point
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "converter.h"
#include "engine/io/npy.h"
#include "engine/tensor.h"
#include "engine/thread_pool.h"
#include "kernels/gemm.h"
#include "sam/modeling/mask_decoder.h"
#include "sam/modeling/prompt_encoder.h"
#include "sam/io/weights.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using engine::Tensor;

constexpr double kRelL2Tol = 1e-4;   // logits, embeddings and every traced layer
constexpr double kIouAbsTol = 1e-4;  // iou predictions, max abs

fs::path testdata_dir() {
  const char* dir = std::getenv("SAM_TESTDATA");
  if (dir == nullptr || *dir == '\0')
    FAIL(
        "SAM_TESTDATA is not set: point it at the testdata directory written by "
        "tests/reference/prepare_test_data.sh BUILD_DIR (e.g. BUILD_DIR/testdata)");
  return dir;
}

// ||a - b|| / ||b|| in double; a and b may be strided views of the same shape.
double rel_l2(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  double num = 0, den = 0;
  for (int64_t i = 0; i < ac.numel(); ++i) {
    const double d = static_cast<double>(ac.data<float>()[i]) - bc.data<float>()[i];
    num += d * d;
    den += static_cast<double>(bc.data<float>()[i]) * bc.data<float>()[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  double m = 0;
  for (int64_t i = 0; i < ac.numel(); ++i)
    m = std::max(m, std::fabs(static_cast<double>(ac.data<float>()[i]) - bc.data<float>()[i]));
  return m;
}

// Compares every traced tensor with layers/<path>.npy as it is recorded (the
// modules hand out arena views that later layers overwrite).
struct ReferenceTracer : sam::Tracer {
  fs::path layers;
  std::map<std::string, double> errors;  // path -> rel L2 (INFINITY: shape mismatch)
  std::vector<std::string> unmatched;    // traced paths without a dump
  explicit ReferenceTracer(fs::path dir) : layers(std::move(dir)) {}
  void record(const std::string& path, const Tensor& t) override {
    const fs::path f = layers / (path + ".npy");
    if (!fs::exists(f)) {
      unmatched.push_back(path);
      return;
    }
    errors[path] = rel_l2(t, engine::read_npy(f.string()));
  }
};

// Converts a .pth in-process (as sam-convert does) into `tmp` and loads it.
std::shared_ptr<const sam::Weights> load_converted(const test_util::TempDir& tmp, const fs::path& pth) {
  INFO(pth.string());
  REQUIRE(fs::exists(pth));
  weights_tools::ConvertOptions o;
  o.input = pth.string();
  o.output = tmp.file(pth.stem().string() + ".safetensors");
  o.show_progress = false;
  weights_tools::convert_checkpoint(o);
  return sam::Weights::load(o.output);
}

// utils/transforms.py: ResizeLongestSide.apply_coords, original image pixels ->
// model input frame: x * (new_w / old_w), y * (new_h / old_h) with the rounded
// new size int(old * target / max(old_h, old_w) + 0.5). predict() does this in
// float64 numpy and casts to f32 afterwards; predict_torch's callers use
// apply_*_torch, i.e. f32 arithmetic (`in_f32`).
struct ResizeLongestSide {
  int target;
  float apply(double v, int old_size, int old_h, int old_w, bool in_f32) const {
    const double scale = target * 1.0 / std::max(old_h, old_w);
    const int new_size = static_cast<int>(old_size * scale + 0.5);
    const double ratio = static_cast<double>(new_size) / old_size;
    if (in_f32) return static_cast<float>(v) * static_cast<float>(ratio);
    return static_cast<float>(v * ratio);
  }
  float x(double v, int h, int w, bool f32) const { return apply(v, w, h, w, f32); }
  float y(double v, int h, int w, bool f32) const { return apply(v, h, h, w, f32); }
};

nlohmann::json read_meta(const fs::path& dir) {
  std::ifstream in(dir / "meta.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

// The prompt sets of a dump, transformed into the input frame as SamPredictor does:
// "predict" mode: one set (points, at most one box, optional mask); "predict_torch"
// mode: one set per box, the points repeated for each (dump_reference.py).
std::vector<sam::Prompt> prompts_from_meta(const nlohmann::json& meta, const fs::path& dir, int img_size) {
  const int h = meta["image_size_hw"][0], w = meta["image_size_hw"][1];
  const bool batched = meta["mode"] == "predict_torch";
  const ResizeLongestSide tf{img_size};
  sam::Prompt base;
  for (size_t i = 0; i < meta["points"].size(); ++i) {
    const auto& p = meta["points"][i];
    base.point_coords.push_back(tf.x(p[0].get<double>(), h, w, batched));
    base.point_coords.push_back(tf.y(p[1].get<double>(), h, w, batched));
    base.point_labels.push_back(meta["labels"][i].get<int>());
    // The helper must agree with the official transform recorded in meta.json.
    CHECK(std::fabs(base.point_coords[2 * i] - meta["points_transformed"][i][0].get<double>()) < 1e-3);
    CHECK(std::fabs(base.point_coords[2 * i + 1] - meta["points_transformed"][i][1].get<double>()) < 1e-3);
  }
  Tensor mask;
  if (!meta["mask_input"].is_null()) {
    // By convention the mask a case was made from is stored next to it.
    mask = engine::read_npy((dir / "mask_input.npy").string());
    mask = mask.reshape({-1, mask.dim(-2), mask.dim(-1)});
  }
  const size_t nboxes = meta["boxes"].size();
  std::vector<sam::Prompt> out;
  for (size_t b = 0; b < std::max<size_t>(nboxes, 1); ++b) {
    sam::Prompt pr = base;
    if (nboxes > 0) {
      const auto& bx = meta["boxes"][b];
      pr.box = std::array<float, 4>{tf.x(bx[0].get<double>(), h, w, batched), tf.y(bx[1].get<double>(), h, w, batched),
                                    tf.x(bx[2].get<double>(), h, w, batched), tf.y(bx[3].get<double>(), h, w, batched)};
      for (int k = 0; k < 4; ++k) CHECK(std::fabs((*pr.box)[k] - meta["boxes_transformed"][b][k].get<double>()) < 1e-3);
    }
    if (mask.defined()) pr.mask_input = mask.select(0, mask.dim(0) == 1 ? 0 : static_cast<int64_t>(b)).clone();
    out.push_back(std::move(pr));
  }
  return out;
}

struct CaseResult {
  double sparse = 0, dense = 0, pe = 0, logits = 0, iou = 0;
  ReferenceTracer tracer;
  explicit CaseResult(const fs::path& layers) : tracer(layers) {}
};

// Runs prompt encoder + mask decoder on one dump and compares everything.
void run_case(const std::shared_ptr<const sam::Weights>& weights, const fs::path& dir, bool layers) {
  INFO("case " << dir.string());
  REQUIRE(fs::exists(dir / "meta.json"));
  const nlohmann::json meta = read_meta(dir);
  const std::vector<sam::Prompt> prompts = prompts_from_meta(meta, dir, weights->config().img_size);
  const bool multimask = meta["multimask_output"].get<bool>();

  sam::PromptEncoder pe(weights);
  const sam::MaskDecoder decoder(weights);
  const std::unique_ptr<engine::Arena> arena = decoder.make_arena();
  CaseResult r(dir / "layers");
  sam::Tracer* t = layers ? &r.tracer : nullptr;
  Tensor sparse, dense;
  const Tensor image_pe = pe.dense_pe(t);
  pe.forward(prompts, sparse, dense, t);
  const Tensor embedding = engine::read_npy((dir / "image_embedding.npy").string());
  const sam::MaskDecoder::Output out = decoder.forward(embedding, image_pe, sparse, dense, multimask, *arena, t);

  r.pe = rel_l2(image_pe, engine::read_npy((dir / "image_pe.npy").string()));
  r.sparse = rel_l2(sparse, engine::read_npy((dir / "sparse_embeddings.npy").string()));
  r.dense = rel_l2(dense, engine::read_npy((dir / "dense_embeddings.npy").string()));
  r.logits = rel_l2(out.low_res_masks, engine::read_npy((dir / "low_res_logits.npy").string()));
  r.iou = max_abs_diff(out.iou_predictions, engine::read_npy((dir / "iou_predictions.npy").string()));
  WARN(dir.filename().string() << ": pe " << r.pe << ", sparse " << r.sparse << ", dense " << r.dense
                               << ", low-res logits rel L2 " << r.logits << ", iou max abs " << r.iou);
  CHECK(r.pe <= kRelL2Tol);
  CHECK(r.sparse <= kRelL2Tol);
  CHECK(r.dense <= kRelL2Tol);
  CHECK(r.logits <= kRelL2Tol);
  CHECK(r.iou <= kIouAbsTol);

  if (layers) {
    double worst = 0;
    std::string worst_path;
    for (const auto& [path, err] : r.tracer.errors) {
      INFO("layer " << path);
      CHECK(err <= kRelL2Tol);
      if (err > worst) worst = err, worst_path = path;
    }
    INFO("traced paths without a reference dump");
    CHECK(r.tracer.unmatched == std::vector<std::string>{});
    // Every official prompt_encoder / mask_decoder module output must have been traced.
    std::vector<std::string> missing;
    for (const auto& name : meta["layers"]) {
      const std::string s = name.get<std::string>();
      if ((s.rfind("prompt_encoder", 0) == 0 || s.rfind("mask_decoder", 0) == 0) && !r.tracer.errors.count(s))
        missing.push_back(s);
    }
    INFO("official modules not traced");
    CHECK(missing == std::vector<std::string>{});
    WARN(dir.filename().string() << ": " << r.tracer.errors.size() << " traced layers, worst rel L2 " << worst << " ("
                                 << worst_path << ")");
  }

  // Untraced passes take the folded cross attentions (cross_attention.cpp),
  // traced ones the module-by-module path: both must match the official code,
  // and two untraced passes on the same decoder (prepared image, arena reused)
  // agree bit for bit.
  const sam::MaskDecoder::ImageInputs img = decoder.prepare(embedding, pe.dense_pe_tokens());
  // (The untraced pass may need more arena than the traced one, for the
  // factored ConvT1; a second untraced pass no more.)
  const sam::MaskDecoder::Output again = decoder.forward(img, sparse, dense, multimask, *arena);
  const size_t capacity = arena->capacity();
  const double again_l2 = rel_l2(again.low_res_masks, engine::read_npy((dir / "low_res_logits.npy").string()));
  WARN(dir.filename().string() << ": untraced (folded) low-res logits rel L2 " << again_l2);
  CHECK(again_l2 <= kRelL2Tol);
  CHECK(max_abs_diff(again.iou_predictions, engine::read_npy((dir / "iou_predictions.npy").string())) <= kIouAbsTol);
  const sam::MaskDecoder::Output third = decoder.forward(img, sparse, dense, multimask, *arena);
  CHECK(arena->capacity() == capacity);
  CHECK(max_abs_diff(third.low_res_masks, again.low_res_masks) == 0.0);
  CHECK(max_abs_diff(third.iou_predictions, again.iou_predictions) == 0.0);

  // upscale_iou_above (the AMG's pred_iou_thresh shortcut): at the smallest
  // per-prompt best IoU, that prompt set is skipped (masks -inf) and every
  // prompt set with a higher best IoU is computed bit for bit as before.
  {
    const int64_t n = again.iou_predictions.dim(0), c = again.iou_predictions.dim(1);
    const Tensor iou = again.iou_predictions.contiguous();
    std::vector<float> best(static_cast<size_t>(n), -INFINITY);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t k = 0; k < c; ++k) best[b] = std::max(best[b], iou.data<float>()[b * c + k]);
    const float thr = *std::min_element(best.begin(), best.end());
    const sam::MaskDecoder::Output part = decoder.forward(img, sparse, dense, multimask, *arena, nullptr, thr);
    CHECK(max_abs_diff(part.iou_predictions, again.iou_predictions) == 0.0);
    const Tensor got = part.low_res_masks.contiguous(), want = again.low_res_masks.contiguous();
    const int64_t per = got.numel() / n;
    int64_t skipped = 0;
    for (int64_t b = 0; b < n; ++b) {
      const bool kept = best[b] > thr;
      skipped += kept ? 0 : 1;
      int64_t bad = 0;
      for (int64_t i = 0; i < per; ++i) {
        const float v = got.data<float>()[b * per + i];
        bad += kept ? (v != want.data<float>()[b * per + i]) : (v != -INFINITY);
      }
      CHECK(bad == 0);
    }
    CHECK(skipped >= 1);
  }

  // Mask inputs as mask_downscaling's features (what Predictor passes): the
  // 1x1 conv folded into the keys and into the cached first-layer projections.
  // Same maths as the dense path in another order: equal to it within float
  // rounding, and to the official code within the usual tolerance.
  {
    Tensor sparse2, dense2, features;
    pe.forward(prompts, sparse2, dense2, nullptr, &features);
    const bool has_mask = prompts.front().mask_input.has_value();
    CHECK(features.defined() == has_mask);
    CHECK(dense2.defined() == !has_mask);
    if (has_mask) {
      const int64_t n = static_cast<int64_t>(prompts.size()), g = weights->config().embedding_grid();
      CHECK(features.shape() == engine::Shape{n, g * g, weights->config().mask_in_chans});
      const sam::MaskDecoder::Output fact =
          decoder.forward(img, sparse2, dense2, multimask, *arena, nullptr, -INFINITY, &features);
      const double to_dense = rel_l2(fact.low_res_masks, again.low_res_masks);
      const double to_official = rel_l2(fact.low_res_masks, engine::read_npy((dir / "low_res_logits.npy").string()));
      WARN(dir.filename().string() << ": mask features path: logits rel L2 " << to_dense << " to the dense path, "
                                   << to_official << " to the official code");
      CHECK(to_dense <= 1e-6);
      CHECK(to_official <= kRelL2Tol);
      CHECK(max_abs_diff(fact.iou_predictions, again.iou_predictions) <= 1e-6);
      // Traced (module by module, no cache): the features still give src.
      CaseResult rt(dir / "layers");
      const sam::MaskDecoder::Output traced =
          decoder.forward(img, sparse2, dense2, multimask, *arena, &rt.tracer, -INFINITY, &features);
      CHECK(rel_l2(traced.low_res_masks, again.low_res_masks) <= 1e-6);
    }
  }

  // A materialised (contiguous NCHW) dense embedding takes the general path
  // (no first-layer cache for a no-mask broadcast) and must agree as well.
  const sam::MaskDecoder::Output general = decoder.forward(img, sparse, dense.contiguous(), multimask, *arena);
  CHECK(rel_l2(general.low_res_masks, engine::read_npy((dir / "low_res_logits.npy").string())) <= kRelL2Tol);
  CHECK(max_abs_diff(general.iou_predictions, engine::read_npy((dir / "iou_predictions.npy").string())) <= kIouAbsTol);
}

std::shared_ptr<const sam::Weights> tiny_weights(const test_util::TempDir& tmp) {
  return load_converted(tmp, testdata_dir() / "tiny.pth");
}

}  // namespace

TEST_CASE("prompt encoder and mask decoder match the official code layer by layer (tiny)", "[.][reference]") {
  test_util::TempDir tmp;
  const auto weights = tiny_weights(tmp);
  const fs::path data = testdata_dir();
  SECTION("one foreground point, multimask") { run_case(weights, data / "ref_tiny_point", true); }
  SECTION("box and background point, single mask") { run_case(weights, data / "ref_tiny_box", true); }
  SECTION("batch of three boxes (predict_torch), multimask") { run_case(weights, data / "ref_tiny_boxes", true); }
  SECTION("fg + bg points with the previous best low-res mask as mask_input") {
    run_case(weights, data / "ref_tiny_mask", true);
  }
}

TEST_CASE("prompt encoder: padding, labels and batch checks", "[.][reference]") {
  test_util::TempDir tmp;
  const auto weights = tiny_weights(tmp);
  sam::PromptEncoder pe(weights);
  const int d = weights->config().prompt_embed_dim, g = weights->config().embedding_grid();
  Tensor sparse, dense;

  // No prompt at all: no sparse tokens, dense = no_mask_embed everywhere.
  pe.forward({sam::Prompt{}}, sparse, dense);
  CHECK(sparse.shape() == engine::Shape{1, 0, d});
  CHECK(dense.shape() == engine::Shape{1, d, g, g});
  const Tensor& no_mask = weights->get("prompt_encoder.no_mask_embed.weight");
  CHECK(dense.contiguous().data<float>()[5 * g * g + 7] == no_mask.data<float>()[5]);

  // Points without a box get the padding token = not_a_point_embed.
  sam::Prompt p;
  p.point_coords = {10.f, 20.f, 30.f, 40.f};
  p.point_labels = {1, -1};
  pe.forward({p}, sparse, dense);
  REQUIRE(sparse.shape() == engine::Shape{1, 3, d});
  const Tensor& nap = weights->get("prompt_encoder.not_a_point_embed.weight");
  for (int c = 0; c < d; ++c) {
    CHECK(sparse.data<float>()[1 * d + c] == nap.data<float>()[c]);
    CHECK(sparse.data<float>()[2 * d + c] == nap.data<float>()[c]);
  }

  // Batched sets must share their structure.
  sam::Prompt q = p;
  q.point_coords.resize(2);
  q.point_labels.resize(1);
  CHECK_THROWS_AS(pe.forward({p, q}, sparse, dense), engine::Error);
  sam::Prompt bad = p;
  bad.point_labels.pop_back();
  CHECK_THROWS_AS(pe.forward({bad}, sparse, dense), engine::Error);
}

TEST_CASE("mask decoder matches the official code (vit_b)", "[.][reference][vit_b]") {
  const fs::path data = testdata_dir();
  const char* env = std::getenv("SAM_VIT_B_REF");
  const fs::path ref = env && *env ? fs::path(env) : data / "ref_vit_b_point";
  if (!fs::exists(ref / "image_embedding.npy") || !fs::exists(data / "vit_b.pth")) {
    WARN("skipped: no " << (ref / "image_embedding.npy").string() << " or vit_b.pth (see the top of this file)");
    return;
  }
  test_util::TempDir tmp;
  const auto weights = load_converted(tmp, data / "vit_b.pth");
  engine::set_num_threads(2);
  kernels::set_blas_threads(2);
  run_case(weights, ref, false);

  // Decoder time per prompt (prompt-independent work prepared once, as a predictor would).
  const nlohmann::json meta = read_meta(ref);
  sam::PromptEncoder pe(weights);
  const sam::MaskDecoder decoder(weights);
  const std::unique_ptr<engine::Arena> arena = decoder.make_arena();
  Tensor sparse, dense;
  const auto prompts = prompts_from_meta(meta, ref, weights->config().img_size);
  const auto img = decoder.prepare(engine::read_npy((ref / "image_embedding.npy").string()), pe.dense_pe_tokens());
  const bool multimask = meta["multimask_output"].get<bool>();
  pe.forward(prompts, sparse, dense);
  decoder.forward(img, sparse, dense, multimask, *arena);  // warm-up
  const int reps = 10;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) {
    pe.forward(prompts, sparse, dense);
    decoder.forward(img, sparse, dense, multimask, *arena);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
  WARN("vit_b prompt encoder + mask decoder: " << ms << " ms per prompt (2 threads), arena "
                                               << arena->capacity() / (1 << 20) << " MiB");
}
