// Preprocessing against the official ResizeLongestSide + Sam.preprocess
// (tests/reference/dump_preprocess.py), on images of awkward sizes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/io/npy.h"
#include "sam/io/image.h"
#include "sam/preprocess.h"

namespace {

std::string testdata() {
  const char* d = std::getenv("SAM_TESTDATA");
  if (!d) FAIL("SAM_TESTDATA is not set: run this test through ctest (it needs the reference fixture)");
  return d;
}

}  // namespace

TEST_CASE("preprocess_shape follows ResizeLongestSide.get_preprocess_shape", "[sam]") {
  // Expected values are the Python expression int(x * (1024 / max(h, w)) + 0.5) evaluated by hand
  // for these sizes; the [reference] test below checks the same through the official code.
  CHECK(sam::preprocess_shape(1200, 1800, 1024) == std::pair<int, int>(683, 1024));
  CHECK(sam::preprocess_shape(427, 640, 1024) == std::pair<int, int>(683, 1024));
  CHECK(sam::preprocess_shape(1, 1, 1024) == std::pair<int, int>(1024, 1024));
}

TEST_CASE("resize and normalisation equal the official preprocessing", "[.][reference]") {
  const std::string dir = testdata() + "/preprocess";
  REQUIRE(std::filesystem::is_directory(dir));
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".png") continue;
    const std::string stem = entry.path().stem().string();
    INFO("image " << stem);
    const sam::Image img = sam::load_image(path);
    const engine::NpyArray want = engine::read_npy_raw(dir + "/" + stem + "_resized.npy");
    REQUIRE(want.shape.rank() == 3);
    const auto [h, w] = sam::preprocess_shape(img.height, img.width, 1024);
    REQUIRE(want.shape[0] == h);
    REQUIRE(want.shape[1] == w);
    const sam::Image got = sam::resize_bilinear_pil(img, w, h);
    int max_diff = 0;
    for (size_t i = 0; i < got.pixels.size(); ++i)
      max_diff = std::max(max_diff, std::abs(int(got.pixels[i]) - int(static_cast<uint8_t>(want.data[i]))));
    // We reproduce Pillow's fixed-point arithmetic, so the images are identical
    // (the bound is one grey level).
    CHECK(max_diff == 0);

    const engine::Tensor input = sam::normalize_and_pad(got, 1024);
    const engine::Tensor ref = engine::read_npy(dir + "/" + stem + "_input.npy");
    REQUIRE(ref.shape() == input.shape());
    const float* a = input.data<float>();
    const float* b = ref.data<float>();
    int64_t mismatches = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) mismatches += a[i] != b[i];
    CHECK(mismatches == 0);  // same float32 operations in the same order: bit-identical
    ++cases;
  }
  CHECK(cases >= 8);
}
