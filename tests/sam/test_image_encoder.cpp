// sam::ImageEncoderViT against the official segment_anything ImageEncoderViT:
// reference dumps written by tests/reference/dump_reference.py (forward hooks on
// every submodule) from the same seeded random checkpoint.
//
// Needs SAM_TESTDATA = the testdata directory of tests/reference/prepare_test_data.sh
// (tiny.pth and ref_tiny_point/). Optional: vit_b.pth + ref_vit_b_point/ for the
// "[vit_b]" case, made with
//   dump_reference.py --pth vit_b.pth --variant vit_b --random-image 640 427 3
//       --point 300,200,1 --out SAM_TESTDATA/ref_vit_b_point
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "engine/error.h"
#include "engine/io/npy.h"
#include "engine/tensor.h"
#include "engine/thread_pool.h"
#include "sam/modeling/image_encoder.h"
#include "sam/tracer.h"
#include "sam/io/weights.h"
#include "test_util.h"
#include "converter.h"

namespace {

namespace fs = std::filesystem;

std::string testdata_dir() {
  const char* dir = std::getenv("SAM_TESTDATA");
  if (dir == nullptr || *dir == '\0')
    FAIL("SAM_TESTDATA is not set: point it at the testdata directory written by "
         "tests/reference/prepare_test_data.sh BUILD_DIR (e.g. BUILD_DIR/testdata)");
  return dir;
}

// Converts SAM_TESTDATA/<variant>.pth in-process (as sam-convert does) and loads it.
std::shared_ptr<const sam::Weights> load_converted(const test_util::TempDir& tmp, const std::string& pth,
                                                   engine::DType dtype) {
  REQUIRE(fs::exists(pth));
  weights_tools::ConvertOptions o;
  o.input = pth;
  o.output = tmp.file(fs::path(pth).stem().string() + "_" + std::string(engine::dtype_name(dtype)) + ".safetensors");
  o.dtype = dtype;
  o.show_progress = false;
  weights_tools::convert_checkpoint(o);
  return sam::Weights::load(o.output);
}

// ||a - b|| / ||b|| over all elements (same shape required), in double.
double rel_l2(const engine::Tensor& a, const engine::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const engine::Tensor ac = a.contiguous(), bc = b.contiguous();
  const float* pa = ac.data<float>();
  const float* pb = bc.data<float>();
  double num = 0, den = 0;
  for (int64_t i = 0; i < ac.numel(); ++i) {
    const double d = static_cast<double>(pa[i]) - pb[i];
    num += d * d;
    den += static_cast<double>(pb[i]) * pb[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Keeps a copy of every traced tensor (the encoder hands out views into its arena).
struct RecordingTracer : sam::Tracer {
  std::map<std::string, engine::Tensor> outputs;
  void record(const std::string& path, const engine::Tensor& t) override {
    INFO(path);
    CHECK(outputs.count(path) == 0);
    outputs[path] = t.clone();
  }
};

}  // namespace

TEST_CASE("image encoder matches the official ImageEncoderViT layer by layer (tiny)", "[.][reference]") {
  const fs::path data = testdata_dir();
  const fs::path ref = data / "ref_tiny_point";
  REQUIRE(fs::exists(ref / "image_embedding.npy"));
  test_util::TempDir tmp;
  auto weights = load_converted(tmp, (data / "tiny.pth").string(), engine::DType::F32);

  const sam::ImageEncoderViT encoder(weights);
  sam::EncoderWorkspace ws = encoder.make_workspace();
  const engine::Tensor input = engine::read_npy((ref / "input_image.npy").string());
  RecordingTracer tracer;
  const engine::Tensor emb = encoder.forward(input, ws, &tracer);

  const engine::Tensor expected = engine::read_npy((ref / "image_embedding.npy").string());
  REQUIRE(emb.shape() == engine::Shape{1, 32, 16, 16});
  CHECK(rel_l2(emb, expected) <= 1e-4);

  // Every module output the brief requires, and every one we trace, against
  // the forward-hook dump of the same module (same layout, so same shape).
  const int depth = weights->config().encoder_depth;
  std::vector<std::string> required = {"image_encoder.patch_embed", "image_encoder.neck", "image_encoder"};
  for (int k = 0; k < depth; ++k)
    for (const char* suffix : {"", ".attn", ".mlp"})
      required.push_back("image_encoder.blocks." + std::to_string(k) + suffix);
  for (const std::string& path : required) {
    INFO(path);
    CHECK(tracer.outputs.count(path) == 1);
  }
  double worst = 0;
  std::string worst_path;
  for (const auto& [path, got] : tracer.outputs) {
    INFO(path << " " << got.shape().str());
    const fs::path file = ref / "layers" / (path + ".npy");
    REQUIRE(fs::exists(file));
    const engine::Tensor want = engine::read_npy(file.string());
    REQUIRE(got.shape() == want.shape());
    const double err = rel_l2(got, want);
    CHECK(err <= 1e-4);
    if (err > worst) worst = err, worst_path = path;
  }
  CHECK(tracer.outputs.size() >= required.size());
  // Windowed blocks trace [nW, ws, ws, C] including the padded windows: 16 -> 18 = 3 x 6.
  CHECK(tracer.outputs.at("image_encoder.blocks.0.attn").shape() == engine::Shape{9, 6, 6, 64});
  CHECK(tracer.outputs.at("image_encoder.blocks.1.attn").shape() == engine::Shape{1, 16, 16, 64});
  WARN("tiny image encoder: " << tracer.outputs.size() << " traced layers, worst rel L2 " << worst << " ("
                               << worst_path << "); embedding rel L2 " << rel_l2(emb, expected)
                               << "; arena " << ws.bytes() << " bytes reserved, " << ws.high_water() << " used");
}

TEST_CASE("image encoder: repeated forward passes reuse the arena and agree bit for bit", "[.][reference]") {
  const fs::path data = testdata_dir();
  const fs::path ref = data / "ref_tiny_point";
  test_util::TempDir tmp;
  const sam::ImageEncoderViT encoder(load_converted(tmp, (data / "tiny.pth").string(), engine::DType::F32));
  sam::EncoderWorkspace ws = encoder.make_workspace();
  const engine::Tensor input = engine::read_npy((ref / "input_image.npy").string());

  const size_t reserved = ws.bytes();
  const engine::Tensor first = encoder.forward(input, ws);
  const size_t used = ws.high_water();
  const engine::Tensor second = encoder.forward(input, ws);
  REQUIRE(first.shape() == second.shape());
  CHECK(std::memcmp(first.raw_data(), second.raw_data(), first.nbytes()) == 0);
  // The outputs are owning tensors, not views into the (reset) arena.
  CHECK(first.raw_data() != second.raw_data());
  CHECK(ws.bytes() == reserved);
  CHECK(ws.high_water() == used);
  CHECK(used <= reserved);

  // The attention scratch is per pool thread: a larger pool set between passes
  // grows the reservation once, and the result stays the reference result.
  const engine::Tensor expected = engine::read_npy((ref / "image_embedding.npy").string());
  const int threads = engine::thread_pool().num_threads();
  engine::set_num_threads(threads + 3);
  engine::Tensor wide;
  try {
    wide = encoder.forward(input, ws);
  } catch (...) {
    engine::set_num_threads(0);
    throw;
  }
  engine::set_num_threads(0);
  CHECK(ws.bytes() > reserved);
  CHECK(rel_l2(wide, expected) <= 1e-4);

  // Wrong input shapes are refused with engine::Error, not read out of bounds.
  CHECK_THROWS_AS(encoder.forward(engine::Tensor::zeros(engine::DType::F32, {1, 3, 128, 128}), ws), engine::Error);
  CHECK_THROWS_AS(encoder.forward(engine::Tensor::zeros(engine::DType::F32, {3, 256, 256}), ws), engine::Error);
}

TEST_CASE("image encoder runs from a bf16-converted model", "[.][reference]") {
  const fs::path data = testdata_dir();
  const fs::path ref = data / "ref_tiny_point";
  test_util::TempDir tmp;
  const sam::ImageEncoderViT encoder(load_converted(tmp, (data / "tiny.pth").string(), engine::DType::BF16));
  sam::EncoderWorkspace ws = encoder.make_workspace();
  const engine::Tensor input = engine::read_npy((ref / "input_image.npy").string());
  const engine::Tensor emb = encoder.forward(input, ws);
  const engine::Tensor expected = engine::read_npy((ref / "image_embedding.npy").string());
  const double err = rel_l2(emb, expected);
  // The bf16 file stores every conv / linear weight matrix (patch embed, qkv,
  // proj, lin1, lin2, neck convs) rounded to 8 significant bits: relative
  // error per weight <= 2^-9 (~2e-3), RMS ~2^-9/sqrt(3) ~ 1.1e-3. Each such
  // layer adds roughly that much relative error to its output; the tiny
  // encoder chains 1 + 4 x 4 + 2 = 19 of them, partly along the residual path
  // (errors add, ~ sqrt(19) x 1.1e-3 ~ 5e-3 if independent) and LayerNorms do
  // not amplify them much. 2e-2 leaves room for correlated accumulation while
  // still catching a wrong widening (a byte-order or shift slip gives O(1)).
  CHECK(err <= 2e-2);
  // ... and it did run on rounded weights: not bit-identical to the f32 model.
  CHECK(err > 1e-6);
  WARN("bf16 tiny image encoder: embedding rel L2 " << err);
}

TEST_CASE("image encoder matches the official ImageEncoderViT (vit_b)", "[.][reference][vit_b]") {
  const fs::path data = testdata_dir();
  const fs::path ref = data / "ref_vit_b_point";
  if (!fs::exists(ref / "image_embedding.npy") || !fs::exists(data / "vit_b.pth")) {
    WARN("skipped: no " << (ref / "image_embedding.npy").string() << " or vit_b.pth (see the top of this file)");
    return;
  }
  test_util::TempDir tmp;
  const sam::ImageEncoderViT encoder(load_converted(tmp, (data / "vit_b.pth").string(), engine::DType::F32));
  sam::EncoderWorkspace ws = encoder.make_workspace();
  const engine::Tensor input = engine::read_npy((ref / "input_image.npy").string());
  encoder.forward(input, ws);  // warm-up (page faults of the mmapped weights, BLAS buffers)
  const auto t0 = std::chrono::steady_clock::now();
  const engine::Tensor emb = encoder.forward(input, ws);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const engine::Tensor expected = engine::read_npy((ref / "image_embedding.npy").string());
  REQUIRE(emb.shape() == engine::Shape{1, 256, 64, 64});
  const double err = rel_l2(emb, expected);
  CHECK(err <= 1e-4);
  WARN("vit_b image encoder: embedding rel L2 " << err << ", forward " << seconds << " s on "
                                                << engine::thread_pool().num_threads() << " threads, arena "
                                                << ws.bytes() << " bytes reserved, " << ws.high_water()
                                                << " used");
}
