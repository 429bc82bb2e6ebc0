// The forward pass against the official code (issue "SAM forward pass"):
// for each image of the suite (tests/reference/dump_suite.py) and each prompt
// kind, with fp32 random weights at the variant's real shapes:
//   * our preprocessing gives the official model input bit for bit (so "fed the
//     official input" and "end to end" are the same run here);
//   * image embedding and low-res logits within relative L2 1e-4;
//   * IoU predictions within 1e-4 (max abs);
//   * every final mask has IoU >= 0.999 with the official mask.
// With SAM_PRECISION=bf16 (ctest model_matches_official_*_bf16) the image
// encoder's GEMMs take bf16 inputs; the bounds are then the bf16 issue's:
// embedding rel L2 <= 1e-2, low-res logits rel L2 <= 2e-2, and the best mask
// (the official highest-scoring one of each prompt set) IoU >= 0.98.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "converter.h"
#include "engine/io/npy.h"
#include "engine/runtime.h"
#include "kernels/gemm_onednn.h"
#include "sam/io/image.h"
#include "sam/predictor.h"

namespace fs = std::filesystem;

namespace {

double rel_l2(const engine::Tensor& a, const engine::Tensor& b) {
  double err = 0, ref = 0;
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double e = static_cast<double>(a.data<float>()[i]) - b.data<float>()[i];
    err += e * e;
    ref += static_cast<double>(b.data<float>()[i]) * b.data<float>()[i];
  }
  return std::sqrt(err / ref);
}

double max_abs(const engine::Tensor& a, const engine::Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < b.numel(); ++i) m = std::max(m, std::fabs(double(a.data<float>()[i]) - b.data<float>()[i]));
  return m;
}

// Converts DATA/<variant>.pth once per process into a temporary safetensors file.
std::shared_ptr<const sam::SamModel> load_model(const std::string& data, const std::string& variant) {
  static std::map<std::string, std::shared_ptr<const sam::SamModel>> cache;
  if (cache.count(variant)) return cache[variant];
  const fs::path tmp = fs::temp_directory_path() / ("sam_test_" + variant + "_" + std::to_string(::getpid()) + ".safetensors");
  weights_tools::ConvertOptions o;
  o.input = data + "/" + variant + ".pth";
  o.output = tmp.string();
  o.show_progress = false;
  weights_tools::convert_checkpoint(o);
  auto m = sam::SamModel::load(tmp.string());
  fs::remove(tmp);  // the mapping stays valid
  return cache[variant] = m;
}

struct Bounds {
  bool bf16;
  double embedding, logits, iou, mask_iou;
};

Bounds bounds() {
  if (engine::runtime_options().precision == engine::Precision::Bf16) return {true, 1e-2, 2e-2, 1e-2, 0.98};
  return {false, 1e-4, 1e-4, 1e-4, 0.999};
}

// The index of the largest value in row r of iou [B, M].
int64_t best_of(const engine::Tensor& iou, int64_t r) {
  const int64_t m = iou.dim(1);
  int64_t best = 0;
  for (int64_t j = 1; j < m; ++j)
    if (iou.data<float>()[r * m + j] > iou.data<float>()[r * m + best]) best = j;
  return best;
}

void run_suite(const std::string& variant) {
  // SAM_GEMM=onednn with SAM_PRECISION=bf16 (ctest model_matches_official_tiny_bf16_onednn)
  // where oneDNN has no bf16 matmul (CPUs without AVX-512): the runtime options refuse it.
  auto env_is = [](const char* name, const char* value) {
    const char* v = std::getenv(name);
    return v != nullptr && std::string(v) == value;
  };
  if (env_is("SAM_GEMM", "onednn") && env_is("SAM_PRECISION", "bf16") && !kernels::onednn_bf16_available()) {
    WARN("skipped: " << kernels::onednn_description() << " has no bf16 matmul for this CPU");
    CHECK_THROWS(engine::RuntimeOptions::from_environment());
    return;
  }
  const Bounds bound = bounds();
  const char* d = std::getenv("SAM_TESTDATA");
  if (!d) FAIL("SAM_TESTDATA is not set: run this test through ctest (it needs the reference fixture)");
  const std::string data = d, suite_dir = data + "/suite_" + variant;
  REQUIRE(fs::exists(suite_dir + "/suite.json"));
  std::ifstream f(suite_dir + "/suite.json");
  const nlohmann::json suite = nlohmann::json::parse(f);
  sam::Predictor predictor(load_model(data, variant));
  predictor.set_keep_input(true);
  const int G = predictor.config().embedding_grid();
  bool release = false;
  for (const auto& img : suite["images"]) {
    const std::string name = img["name"], dir = suite_dir + "/" + name;
    INFO("image " << name);
    const std::string file = img.value("file", "image.png");
    const bool jpeg = file.ends_with(".jpg");
    const sam::Image image = sam::load_image(dir + "/" + file);
    // Every other image after the encoder's pages went back to the OS.
    predictor.set_release_scratch(release);
    release = !release;
    predictor.set_image(image);
    // Preprocessing: bit-identical to Sam.preprocess(ResizeLongestSide.apply_image(image)).
    const engine::Tensor want_input = engine::read_npy(dir + "/input_image.npy");
    REQUIRE(want_input.shape() == predictor.input_tensor().shape());
    CHECK(max_abs(predictor.input_tensor(), want_input) == 0.0);
    const engine::Tensor want_emb = engine::read_npy(dir + "/image_embedding.npy");
    REQUIRE(want_emb.shape() == predictor.embedding().shape());
    const double emb_err = rel_l2(predictor.embedding(), want_emb);
    INFO("embedding rel L2 " << emb_err);
    CHECK(emb_err <= bound.embedding);
    // A JPEG decodes to the official pipeline's pixels, so its errors are those of
    // a PNG (~1e-6); a decoder that differed by one level in 2% of the pixels gave
    // 7e-3 here. The fidelity issue's bound for photos:
    if (jpeg && !bound.bf16) CHECK(emb_err <= 1e-5);

    double worst_logits = 0, worst_iou = 0, worst_mask_iou = 1;
    for (const auto& c : img["cases"]) {
      const std::string case_name = c["name"];
      INFO("case " << case_name);
      std::vector<sam::PromptSet> sets;
      sam::PromptSet base;
      for (const auto& p : c.value("points", nlohmann::json::array())) {
        base.points.push_back({p[0].get<float>(), p[1].get<float>()});
        base.labels.push_back(p[2].get<int>());
      }
      if (c.contains("mask_from")) base.mask_input = engine::read_npy(dir + "/" + case_name + "/mask_input.npy");
      const auto boxes = c.value("boxes", nlohmann::json::array());
      if (boxes.empty()) sets.push_back(base);
      for (const auto& b : boxes) {
        sam::PromptSet s = base;
        s.box = std::array<float, 4>{b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()};
        sets.push_back(s);
      }
      const sam::Prediction got = predictor.predict(sets, c["multimask"].get<bool>());
      const engine::Tensor low = engine::read_npy(dir + "/" + case_name + "/low_res_logits.npy");
      const engine::Tensor iou = engine::read_npy(dir + "/" + case_name + "/iou_predictions.npy");
      const engine::Tensor masks = engine::read_npy(dir + "/" + case_name + "/masks.npy");
      REQUIRE(got.low_res_logits.shape() == low.shape());
      REQUIRE(low.dim(2) == 4 * G);
      REQUIRE(got.iou_predictions.shape() == iou.shape());
      REQUIRE(got.masks.shape() == masks.shape());
      const double logit_err = rel_l2(got.low_res_logits, low);
      const double iou_err = max_abs(got.iou_predictions, iou);
      INFO("low-res logits rel L2 " << logit_err << ", IoU max abs " << iou_err);
      CHECK(logit_err <= bound.logits);
      CHECK(iou_err <= bound.iou);
      if (jpeg && !bound.bf16) CHECK(logit_err <= 1e-5);
      worst_logits = std::max(worst_logits, logit_err);
      worst_iou = std::max(worst_iou, iou_err);
      const int64_t plane = masks.dim(2) * masks.dim(3);
      for (int64_t m = 0; m < masks.dim(0) * masks.dim(1); ++m) {
        int64_t inter = 0, uni = 0;
        const uint8_t* a = got.masks.data<uint8_t>() + m * plane;
        const uint8_t* b = masks.data<uint8_t>() + m * plane;
        for (int64_t i = 0; i < plane; ++i) {
          inter += a[i] && b[i];
          uni += a[i] || b[i];
        }
        const double mask_iou = uni ? double(inter) / double(uni) : 1.0;
        INFO("mask " << m << " IoU " << mask_iou << " (" << uni - inter << " pixels differ)");
        // f32: every mask; bf16: each prompt set's best (official score) mask.
        if (bound.bf16 && m % masks.dim(1) != best_of(iou, m / masks.dim(1))) continue;
        CHECK(mask_iou >= bound.mask_iou);
        worst_mask_iou = std::min(worst_mask_iou, mask_iou);
      }
    }
    WARN(variant << (bound.bf16 ? " bf16 " : " ") << name << ": embedding rel L2 " << emb_err << "; worst over " << img["cases"].size()
                 << " cases: logits rel L2 " << worst_logits << ", IoU max abs " << worst_iou << ", mask IoU "
                 << worst_mask_iou);
  }
}

}  // namespace

TEST_CASE("tiny model equals the official code for every prompt kind", "[.][reference]") { run_suite("tiny"); }
TEST_CASE("vit_b equals the official code for every prompt kind", "[.][reference_vit_b]") { run_suite("vit_b"); }
TEST_CASE("vit_l equals the official code for every prompt kind", "[.][reference_vit_l]") { run_suite("vit_l"); }
TEST_CASE("vit_h equals the official code for every prompt kind", "[.][reference_vit_h]") { run_suite("vit_h"); }
// MobileSAM (TinyViT encoder): SAM_TESTDATA = tests/reference/prepare_mobilesam.sh's data
// (vit_t.pth is the mobile_sam.pt the official MobileSAM code wrote).
TEST_CASE("vit_t (MobileSAM) equals the official code for every prompt kind", "[.][reference_vit_t]") {
  run_suite("vit_t");
}
