// MobileSAM's TinyViT image encoder (sam/modeling/tiny_vit_encoder.*, issue 16):
//   [tiny_vit]: the vit_t schema (mobile_sam/modeling/tiny_vit_sam.py's state_dict keys and
//     shapes), variant detection and its refusals with a named reason, and a seeded random
//     vit_t (sam-convert --random) running end to end with a finite embedding.
//   [.][reference_vit_t_layers]: every traced module output (official paths and layouts)
//     against the forward-hook dump of the official code (SAM_TESTDATA =
//     tests/reference/prepare_mobilesam.sh's data: vit_t.pth, layers_vit_t/, suite_vit_t/).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <unistd.h>

#include "converter.h"
#include "engine/error.h"
#include "engine/io/npy.h"
#include "random_checkpoint.h"
#include "sam/modeling/sam_model.h"
#include "sam/modeling/tiny_vit_encoder.h"
#include "sam/modeling/variants.h"
#include "sam/modeling/weight_schema.h"

namespace fs = std::filesystem;

namespace {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

ShapeMap shape_map(const std::vector<sam::WeightSpec>& w) {
  ShapeMap m;
  for (const auto& s : w) m[s.name] = s.shape;
  return m;
}

double rel_l2(const engine::Tensor& a, const engine::Tensor& b) {
  const engine::Tensor ac = a.contiguous(), bc = b.contiguous();
  double num = 0, den = 0;
  for (int64_t i = 0; i < bc.numel(); ++i) {
    const double d = double(ac.data<float>()[i]) - bc.data<float>()[i];
    num += d * d;
    den += double(bc.data<float>()[i]) * bc.data<float>()[i];
  }
  return std::sqrt(num / den);
}

struct RecordingTracer : sam::Tracer {
  std::map<std::string, engine::Tensor> outputs;
  void record(const std::string& path, const engine::Tensor& t) override { outputs[path] = t.clone(); }
};

fs::path temp_file(const std::string& stem) {
  return fs::temp_directory_path() / (stem + "_" + std::to_string(::getpid()) + ".safetensors");
}

}  // namespace

TEST_CASE("vit_t's schema is MobileSAM's state_dict", "[tiny_vit]") {
  const sam::SamConfig& c = *sam::find_config("vit_t");
  REQUIRE(std::string(sam::find_variant("vit_t")->encoder->name) == "tiny_vit");
  CHECK(sam::find_variant("vit_t")->official_checkpoint == "mobile_sam.pt");
  const std::vector<sam::WeightSpec> w = sam::expected_weights(c);
  const ShapeMap m = shape_map(w);
  CHECK(m.at("image_encoder.patch_embed.seq.0.c.weight") == std::vector<int64_t>{32, 3, 3, 3});
  CHECK(m.at("image_encoder.patch_embed.seq.2.bn.running_var") == std::vector<int64_t>{64});
  CHECK(m.at("image_encoder.layers.0.blocks.1.conv2.c.weight") == std::vector<int64_t>{256, 1, 3, 3});
  CHECK(m.at("image_encoder.layers.0.downsample.conv2.c.weight") == std::vector<int64_t>{128, 1, 3, 3});
  CHECK(m.at("image_encoder.layers.1.blocks.0.attn.attention_biases") == std::vector<int64_t>{4, 49});
  CHECK(m.at("image_encoder.layers.2.blocks.5.attn.attention_biases") == std::vector<int64_t>{5, 196});
  CHECK(m.at("image_encoder.layers.2.blocks.5.attn.qkv.weight") == std::vector<int64_t>{480, 160});
  CHECK(m.at("image_encoder.layers.3.blocks.1.mlp.fc1.weight") == std::vector<int64_t>{1280, 320});
  CHECK(m.at("image_encoder.layers.3.blocks.1.local_conv.c.weight") == std::vector<int64_t>{320, 1, 3, 3});
  CHECK(m.at("image_encoder.neck.0.weight") == std::vector<int64_t>{256, 320, 1, 1});
  CHECK(m.count("image_encoder.layers.3.downsample.conv1.c.weight") == 0);
  CHECK(m.count("image_encoder.norm_head.weight") == 0);  // the classifier is dropped
  CHECK(m.count("image_encoder.layers.0.blocks.0.conv1.bn.num_batches_tracked") == 0);
  // MobileSAM: 10,130,092 parameters with the classifier (norm_head + head: 321,640); here
  // the BatchNorm running statistics (buffers) are in and the classifier is out.
  int64_t params = 0, running = 0;
  for (const auto& s : w) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    (s.name.find(".running_") != std::string::npos ? running : params) += n;
  }
  INFO(params << " parameters, " << running << " running-statistics elements");
  // (and the prompt encoder's random-Fourier matrix, 2 x 128, is a buffer, not a parameter).
  CHECK(params + 321640 - 256 == 10130092);  // sum(p.numel() for p in build_sam_vit_t().parameters())
  CHECK(&sam::detect_variant(m) == &c);
}

TEST_CASE("a TinyViT state_dict that fits no variant is refused with the reason", "[tiny_vit]") {
  ShapeMap m = shape_map(sam::expected_weights(*sam::find_config("vit_t")));
  m.erase("image_encoder.layers.2.blocks.5.attn.qkv.bias");
  m["image_encoder.layers.1.blocks.0.attn.attention_biases"] = {4, 50};
  try {
    (void)sam::detect_variant(m);
    FAIL("no error");
  } catch (const engine::Error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("MobileSAM"));
    CHECK_THAT(what, Catch::Contains("not vit_t"));
    CHECK_THAT(what, Catch::Contains("layers.2.blocks.5.attn.qkv.bias"));
    CHECK_THAT(what, Catch::Contains("attention_biases [4, 50] (expected [4, 49])"));
  }
}

TEST_CASE("a random vit_t runs end to end", "[tiny_vit]") {
  const fs::path file = temp_file("sam_random_vit_t");
  weights_tools::write_random_checkpoint(*sam::find_config("vit_t"), 3, file.string(), engine::DType::F32, false);
  auto model = sam::SamModel::load(file.string());
  fs::remove(file);
  sam::EncoderWorkspace ws = model->image_encoder().make_workspace();
  engine::Tensor x = engine::Tensor::empty(engine::DType::F32, {1, 3, 1024, 1024});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::sin(0.001f * float(i));
  const engine::Tensor emb = model->image_encoder().forward(x, ws);
  REQUIRE(emb.shape() == engine::Shape{1, 256, 64, 64});
  for (int64_t i = 0; i < emb.numel(); ++i) REQUIRE(std::isfinite(emb.data<float>()[i]));
}

TEST_CASE("TinyViT matches the official MobileSAM code module by module", "[.][reference_vit_t_layers]") {
  const char* d = std::getenv("SAM_TESTDATA");
  if (!d) FAIL("SAM_TESTDATA is not set: run through ctest (tests/reference/prepare_mobilesam.sh's data)");
  const fs::path data = d, layers = data / "layers_vit_t";
  const fs::path file = temp_file("sam_test_vit_t_layers");
  weights_tools::ConvertOptions o;
  o.input = (data / "mobile_sam.pt").string();
  o.output = file.string();
  o.show_progress = false;
  CHECK(weights_tools::convert_checkpoint(o).variant == "vit_t");
  auto model = sam::SamModel::load(file.string());
  fs::remove(file);
  // The suite's first image (its preprocessed input is what the hooks saw).
  const std::string first = "1800x1200";
  const engine::Tensor input = engine::read_npy((data / "suite_vit_t" / first / "input_image.npy").string());
  sam::EncoderWorkspace ws = model->image_encoder().make_workspace();
  RecordingTracer tracer;
  const engine::Tensor emb = model->image_encoder().forward(input, ws, &tracer);
  CHECK(rel_l2(emb, engine::read_npy((layers / "image_encoder.npy").string())) <= 1e-4);
  int compared = 0;
  for (const auto& [path, got] : tracer.outputs) {
    const fs::path want_file = layers / (path + ".npy");
    if (!fs::exists(want_file)) continue;  // (the reference dumps stages, blocks, merging, neck)
    INFO(path << " " << got.shape().str());
    const engine::Tensor want = engine::read_npy(want_file.string());
    REQUIRE(got.shape() == want.shape());
    const double err = rel_l2(got, want);
    INFO("rel L2 " << err);
    CHECK(err <= 1e-4);
    ++compared;
  }
  // patch_embed, 4 layers, 12 blocks, 3 downsamples, neck.0-3, neck, image_encoder.
  CHECK(compared >= 1 + 4 + 12 + 3 + 5 + 1);
}
