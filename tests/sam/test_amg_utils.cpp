// Automatic mask generation against the official code.
//   [amg]        pure tests: hand-checked cases, round trips, the fused upscaler
//                against sam/postprocess (itself torch-exact), COCO strings.
//   [.][reference] (SAM_TESTDATA):
//     amg_utils/utils.json   official segment_anything/utils/amg.py functions (and
//                            torchvision's batched_nms) on synthetic inputs, each
//                            step compared exactly;
//     amg_tiny_*/            the official SamAutomaticMaskGenerator end to end on the
//                            tiny random model (tests/reference/dump_amg.py): the
//                            same records in the same order.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "converter.h"
#include "engine/error.h"
#include "sam/amg/amg_upscale.h"
#include "sam/amg/amg_utils.h"
#include "sam/amg/automatic_mask_generator.h"
#include "sam/io/image.h"
#include "sam/postprocess.h"

namespace fs = std::filesystem;
using namespace sam::amg;
using nlohmann::json;

namespace {

std::vector<uint8_t> random_mask(std::mt19937& rng, int h, int w, double p) {
  std::bernoulli_distribution d(p);
  std::vector<uint8_t> m(static_cast<size_t>(h) * w);
  for (auto& v : m) v = d(rng);
  return m;
}

std::string testdata() {
  const char* d = std::getenv("SAM_TESTDATA");
  if (!d) FAIL("SAM_TESTDATA is not set: run this test through ctest (it needs the reference fixture)");
  return d;
}

json load_json(const std::string& path) {
  std::ifstream f(path);
  REQUIRE(f.good());
  return json::parse(f);
}

std::vector<uint8_t> flat_u8(const json& a) {  // nested [h][w] 0/1 lists
  std::vector<uint8_t> out;
  for (const auto& row : a)
    for (const auto& v : row) out.push_back(static_cast<uint8_t>(v.get<int>()));
  return out;
}

Box box_of(const json& j) { return {j[0].get<int>(), j[1].get<int>(), j[2].get<int>(), j[3].get<int>()}; }

}  // namespace

// ---------------------------------------------------------------------------------
// Pure tests
// ---------------------------------------------------------------------------------

TEST_CASE("point grids are cell centres, x fastest", "[amg]") {
  const PointGrid g1 = build_point_grid(1);
  REQUIRE(g1.size() == 1);
  CHECK(g1[0] == std::array<double, 2>{0.5, 0.5});
  const PointGrid g = build_point_grid(4);
  REQUIRE(g.size() == 16);
  CHECK(g[0] == std::array<double, 2>{0.125, 0.125});
  CHECK(g[1] == std::array<double, 2>{0.375, 0.125});
  CHECK(g[4] == std::array<double, 2>{0.125, 0.375});
  CHECK(g[15] == std::array<double, 2>{0.875, 0.875});
  const auto layers = build_all_layer_point_grids(32, 2, 2);
  REQUIRE(layers.size() == 3);
  CHECK(layers[0].size() == 1024);
  CHECK(layers[1].size() == 256);
  CHECK(layers[2].size() == 64);
}

TEST_CASE("crop boxes of one layer, worked by hand", "[amg]") {
  // 320 x 213, overlap int(512/1500 * 213) = 72, crop 196 x 143, x0 {0, 124}, y0 {0, 71}.
  const CropBoxes c = generate_crop_boxes(213, 320, 1, 512.0 / 1500.0);
  REQUIRE(c.boxes.size() == 5);
  CHECK(c.boxes[0] == Box{0, 0, 320, 213});
  CHECK(c.boxes[1] == Box{0, 0, 196, 143});
  CHECK(c.boxes[2] == Box{0, 71, 196, 213});
  CHECK(c.boxes[3] == Box{124, 0, 320, 143});
  CHECK(c.boxes[4] == Box{124, 71, 320, 213});
  CHECK(c.layer_idxs == std::vector<int>{0, 1, 1, 1, 1});
}

TEST_CASE("prompt points per image: crop layers, downscale, the bound", "[amg]") {
  using sam::AutomaticMaskGenerator;
  sam::AmgOptions o;  // 32 per side, no crops
  CHECK(AutomaticMaskGenerator::prompts_per_image(o) == 1024);
  o.crop_n_layers = 1;
  o.crop_n_points_downscale_factor = 2;
  CHECK(AutomaticMaskGenerator::prompts_per_image(o) == 1024 + 4 * 256);
  o.points_per_side = 4;
  o.crop_n_layers = 3;  // int(4 / 2^3) = 0 points per side in layer 3
  CHECK(AutomaticMaskGenerator::prompts_per_image(o) == 0);
  o.points_per_side = 256;
  o.crop_n_layers = 0;
  CHECK(AutomaticMaskGenerator::prompts_per_image(o) == AutomaticMaskGenerator::kMaxPrompts);
  o.points_per_side = 4;
  o.crop_n_layers = 6;
  o.crop_n_points_downscale_factor = 1;
  CHECK(AutomaticMaskGenerator::prompts_per_image(o) == 16 * (1 + 4 + 16 + 64 + 256 + 1024 + 4096));
  o.points_per_side = std::numeric_limits<int>::max();
  o.crop_n_layers = 1000;
  CHECK(AutomaticMaskGenerator::prompts_per_image(o) == std::numeric_limits<int64_t>::max());
  o.points_per_side = 0;  // given grids: one per layer
  o.crop_n_layers = 1;
  o.point_grids = {PointGrid(5), PointGrid(3)};
  CHECK(AutomaticMaskGenerator::prompts_per_image(o) == 5 + 4 * 3);
}

TEST_CASE("RLE: encode, decode, area and box agree with the mask", "[amg]") {
  std::mt19937 rng(3);
  for (int t = 0; t < 40; ++t) {
    const int h = 1 + static_cast<int>(rng() % 37), w = 1 + static_cast<int>(rng() % 41);
    const double p = t % 4 == 0 ? 0.0 : t % 4 == 1 ? 1.0 : (rng() % 100) / 100.0;
    const auto m = random_mask(rng, h, w, p);
    const Rle r = mask_to_rle(m.data(), h, w);
    int64_t sum = 0, area = 0;
    for (uint32_t c : r.counts) sum += c;
    for (uint8_t v : m) area += v;
    CHECK(sum == int64_t{h} * w);
    CHECK(area_from_rle(r) == area);
    CHECK(rle_to_mask(r) == m);
    CHECK(rle_to_box(r) == mask_to_box(m.data(), h, w));
    CHECK(coco_decode_counts(coco_encode_counts(r.counts)) == r.counts);
  }
  // The first count is the 0-run: a mask starting with a set pixel starts with 0.
  const uint8_t full[4] = {1, 1, 1, 1};
  CHECK(mask_to_rle(full, 2, 2).counts == std::vector<uint32_t>{0, 4});
  const uint8_t corner[6] = {0, 0, 0, 0, 0, 1};  // 2 x 3, last pixel
  CHECK(mask_to_rle(corner, 2, 3).counts == std::vector<uint32_t>{5, 1});
  CHECK(mask_to_box(corner, 2, 3) == Box{2, 1, 2, 1});
}

TEST_CASE("COCO RLE strings follow pycocotools' format", "[amg]") {
  CHECK(coco_encode_counts({0, 4}) == "04");
  CHECK(coco_encode_counts({5, 1}) == "51");
  // 32 needs two characters: 0 | 0x20 continuation, then 1.
  CHECK(coco_encode_counts({32}) == std::string{static_cast<char>(48 + 0x20), static_cast<char>(48 + 1)});
  // From the fourth count on, differences to the count two before (may be negative).
  const std::vector<uint32_t> c = {100, 3, 7, 1, 2, 1000000, 0, 4294967295u};
  CHECK(coco_decode_counts(coco_encode_counts(c)) == c);
  CHECK_THROWS_AS(coco_decode_counts("\x01"), engine::Error);
  CHECK_THROWS_AS(coco_decode_counts("P"), engine::Error);  // 'P' - 48 = 32: continuation, then the end
}

TEST_CASE("NMS: order, ties, the threshold compared in double", "[amg]") {
  // IoU of the first two boxes is exactly 0.5 (f32), so 0.5 does not suppress; ties keep index order.
  const std::vector<BoxF> boxes = {{0, 0, 10, 10}, {0, 0, 10, 5}, {20, 20, 30, 30}, {20, 20, 30, 30}};
  CHECK(nms(boxes, {1.f, 1.f, 1.f, 1.f}, 0.5) == std::vector<int64_t>{0, 1, 2});
  CHECK(nms(boxes, {1.f, 2.f, 1.f, 3.f}, 0.5) == std::vector<int64_t>{3, 1, 0});
  CHECK(nms(boxes, {1.f, 1.f, 1.f, 1.f}, 0.4999) == std::vector<int64_t>{0, 2});
  // An IoU of 3 / 10 in f32 (0.3f) exceeds the double 0.3: suppressed (torch's f32
  // comparison would keep it).
  const std::vector<BoxF> b3 = {{0, 0, 10, 1}, {0, 0, 3, 1}};
  CHECK(nms(b3, {1.f, 0.5f}, 0.3) == std::vector<int64_t>{0});
  CHECK(nms(b3, {1.f, 0.5f}, 0.30000002) == std::vector<int64_t>{0, 1});
}

TEST_CASE("small regions: holes filled, islands removed, 8-connectivity", "[amg]") {
  // 6 x 7: a ring with a 1-pixel hole, a 2-pixel island, and a diagonal pair.
  const std::vector<uint8_t> m0 = {
      1, 1, 1, 0, 0, 0, 0,  //
      1, 0, 1, 0, 0, 1, 0,  //
      1, 1, 1, 0, 0, 0, 1,  //
      0, 0, 0, 0, 0, 0, 0,  //
      0, 0, 0, 0, 0, 0, 0,  //
      1, 1, 0, 0, 0, 0, 0,  //
  };
  auto m = m0;
  CHECK(remove_small_regions(m, 6, 7, 2, true));  // the 1-pixel hole
  CHECK(m[1 * 7 + 1] == 1);
  m = m0;
  CHECK_FALSE(remove_small_regions(m, 6, 7, 1, true));
  CHECK(m == m0);
  m = m0;
  CHECK(remove_small_regions(m, 6, 7, 3, false));  // the island of 2 and the diagonal pair (2) go
  std::vector<uint8_t> want(m0.size(), 0);
  for (int i : {0, 1, 2, 7, 9, 14, 15, 16}) want[static_cast<size_t>(i)] = 1;
  CHECK(m == want);
  m = m0;
  CHECK(remove_small_regions(m, 6, 7, 100, false));  // all small: the largest (the ring) stays
  CHECK(m == want);
  // Two equal islands: the first in OpenCV's label order (by 2x2 block, raster order) stays.
  std::vector<uint8_t> two(4 * 6, 0);
  two[1 * 6 + 0] = 1;  // row 1, block (0, 0)
  two[0 * 6 + 4] = 1;  // row 0, block (0, 2): later in block order though earlier in pixel order
  auto k = two;
  CHECK(remove_small_regions(k, 4, 6, 5, false));
  CHECK(k[6] == 1);
  CHECK(k[4] == 0);
}

TEST_CASE("Python float repr", "[amg]") {
  CHECK(python_float_repr(0.1) == "0.1");
  CHECK(python_float_repr(295.0) == "295.0");
  CHECK(python_float_repr(169.734375) == "169.734375");
  CHECK(python_float_repr(1e-05) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(1.5e-07) == "1.5e-07");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1234567890123456.0) == "1234567890123456.0");
  CHECK(python_float_repr(-0.0) == "-0.0");
  CHECK(python_float_repr(static_cast<double>(0.3681657612323761f)) == "0.3681657612323761");
  CHECK(python_float_repr(std::nan("")) == "nan");
}

TEST_CASE("fused upscaler equals postprocess_masks + threshold + RLE", "[amg]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  struct Case {
    int L, S, in_h, in_w;
    Box crop;
    int H, W;
  } cases[] = {
      {64, 256, 170, 256, {0, 0, 320, 213}, 213, 320},     // tiny model, whole image
      {64, 256, 256, 117, {124, 71, 320, 213}, 213, 320},  // a crop
      {16, 64, 64, 43, {3, 5, 64, 102}, 120, 70},          // odd sizes
      {16, 64, 64, 64, {0, 0, 64, 64}, 64, 64},            // stage 2 is the identity
      {16, 64, 40, 64, {0, 0, 40, 25}, 25, 40},            // stage 2 shrinks
      {8, 32, 1, 1, {0, 0, 1, 1}, 1, 1},                   // 1 x 1
  };
  // (mask threshold, stability hi, stability lo): the default offset 1, others, 0, negative.
  const float thresholds[][3] = {{0.f, 1.f, -1.f}, {0.f, 0.3f, -0.3f}, {0.f, 0.f, 0.f}, {0.f, -2.f, 2.f}};
  int64_t total_pixels = 0;
  for (const Case& c : cases)
    for (const auto& t : thresholds)
      for (int smooth = 0; smooth < 2; ++smooth) {
        INFO("crop " << c.crop[0] << "," << c.crop[1] << " thresholds " << t[1] << " smooth " << smooth);
        const int ch = c.crop[3] - c.crop[1], cw = c.crop[2] - c.crop[0];
        // Noise, or smooth blobs of +-20 (long safe runs), with exact 0 / +-1 / +-t values
        // sprinkled in; one non-finite value in some.
        engine::Tensor low = engine::Tensor::empty(engine::DType::F32, {1, 1, c.L, c.L});
        const float cx = static_cast<float>(rng() % c.L), cy = static_cast<float>(rng() % c.L);
        for (int i = 0; i < c.L * c.L; ++i) {
          const float y = static_cast<float>(i / c.L), x = static_cast<float>(i % c.L);
          float v = smooth ? 40.f * std::cos((x - cx) * 6.f / c.L) * std::sin((y - cy) * 5.f / c.L) + 0.1f * nd(rng)
                           : 2.f * nd(rng);
          if (rng() % 11 == 0) v = std::round(v);
          if (rng() % 13 == 0) v = t[rng() % 3];
          low.data<float>()[i] = v;
        }
        // (Not where stage 2 is an identity: there torch computes 1 * inf + 0 * inf = NaN, which
        // the upscaler mirrors, but sam/postprocess.cpp, the reference here, gives inf.)
        if (smooth && c.L > 8 && c.in_h != ch && c.in_w != cw)
          low.data<float>()[c.L * 3 + 5] = std::numeric_limits<float>::infinity();
        const engine::Tensor full = sam::postprocess_masks(low, c.S, c.in_h, c.in_w, ch, cw);
        int64_t hi = 0, lo = 0;
        std::vector<uint8_t> mask(static_cast<size_t>(ch) * cw);
        for (size_t i = 0; i < mask.size(); ++i) {
          const float v = full.data<float>()[i];
          hi += v > t[1];
          lo += v > t[2];
          mask[i] = v > t[0];
        }
        total_pixels += static_cast<int64_t>(mask.size());
        MaskUpscaler up({c.L, c.S, c.in_h, c.in_w, c.crop, c.H, c.W}, t[0], t[1], t[2]);
        MaskUpscaler::Scratch s;
        const std::vector<uint8_t> unc = uncrop_mask(mask.data(), c.crop, c.H, c.W);
        const MaskUpscaler::Result fast = up.run(low.data<float>(), s);
        if (smooth && ch * cw > 1000) CHECK(fast.evaluated < ch * cw / 2);  // the skipping path was taken
        for (const MaskUpscaler::Result& r : {fast, up.run_dense(low.data<float>(), s)}) {
          CHECK(r.above_hi == hi);
          CHECK(r.above_lo == lo);
          CHECK(r.box == mask_to_box(mask.data(), ch, cw));
          CHECK(r.rle.counts == mask_to_rle(unc.data(), c.H, c.W).counts);
        }
      }
  CHECK(total_pixels > 0);
}

// ---------------------------------------------------------------------------------
// Against the official functions on synthetic inputs (tests/reference/dump_amg.py utils)
// ---------------------------------------------------------------------------------

TEST_CASE("amg utilities equal the official functions", "[.][reference]") {
  const json u = load_json(testdata() + "/amg_utils/utils.json");

  SECTION("build_point_grid / build_all_layer_point_grids") {
    for (const auto& [n, pts] : u["point_grids"].items()) {
      const PointGrid g = build_point_grid(std::stoi(n));
      REQUIRE(g.size() == pts.size());
      for (size_t i = 0; i < g.size(); ++i) {
        CHECK(g[i][0] == pts[i][0].get<double>());  // bit-exact float64
        CHECK(g[i][1] == pts[i][1].get<double>());
      }
    }
    for (const auto& c : u["all_layer_point_grids"]) {
      const auto grids = build_all_layer_point_grids(c["n"], c["layers"], c["scale"]);
      REQUIRE(grids.size() == c["grids"].size());
      for (size_t l = 0; l < grids.size(); ++l) {
        REQUIRE(grids[l].size() == c["grids"][l].size());
        for (size_t i = 0; i < grids[l].size(); ++i) CHECK(grids[l][i][0] == c["grids"][l][i][0].get<double>());
      }
    }
  }
  SECTION("generate_crop_boxes") {
    for (const auto& c : u["crop_boxes"]) {
      const CropBoxes b = generate_crop_boxes(c["h"], c["w"], c["layers"], c["ratio"].get<double>());
      REQUIRE(b.boxes.size() == c["boxes"].size());
      for (size_t i = 0; i < b.boxes.size(); ++i) CHECK(b.boxes[i] == box_of(c["boxes"][i]));
      CHECK(b.layer_idxs == c["layer_idxs"].get<std::vector<int>>());
    }
  }
  SECTION("calculate_stability_score") {
    std::vector<float> logits;
    for (const auto& m : u["stability"]["logits"])
      for (const auto& row : m)
        for (const auto& v : row) logits.push_back(v.get<float>());
    const int64_t plane = 37 * 53;
    for (const auto& c : u["stability"]["cases"]) {
      const float thr = static_cast<float>(c["threshold"].get<double>());
      const float off = static_cast<float>(c["offset"].get<double>());
      for (size_t i = 0; i < c["scores"].size(); ++i) {
        const float got = calculate_stability_score(logits.data() + i * plane, plane, thr, off);
        const float want = c["scores"][i].get<float>();
        if (std::isnan(want)) CHECK(std::isnan(got));
        else CHECK(got == want);
      }
    }
  }
  SECTION("batched_mask_to_box, mask_to_rle_pytorch, rle_to_mask, area_from_rle, uncrop_masks") {
    const json& m = u["masks"];
    for (size_t i = 0; i < m["masks"].size(); ++i) {
      const std::vector<uint8_t> mask = flat_u8(m["masks"][i]);
      CHECK(mask_to_box(mask.data(), 23, 31) == box_of(m["boxes"][i]));
      const Rle r = mask_to_rle(mask.data(), 23, 31);
      CHECK(r.counts == m["rles"][i].get<std::vector<uint32_t>>());
      CHECK(area_from_rle(r) == m["areas"][i].get<int64_t>());
      CHECK(rle_to_mask(r) == mask);
      const json& uc = u["uncrop_masks"];
      CHECK(uncrop_mask(mask.data(), box_of(uc["crop_box"]), 40, 50) == flat_u8(uc["masks"][i]));
    }
  }
  SECTION("is_box_near_crop_edge, uncrop_boxes_xyxy, uncrop_points") {
    const json& n = u["near_edge"];
    for (size_t i = 0; i < n["boxes"].size(); ++i) {
      const Box b = box_of(n["boxes"][i]);
      CHECK(is_box_near_crop_edge(b, box_of(n["crop_box"]), box_of(n["orig_box"])) == n["near"][i].get<bool>());
      CHECK(uncrop_box(b, box_of(n["crop_box"])) == box_of(n["uncropped"][i]));
    }
    const json& p = u["uncrop_points"];
    for (size_t i = 0; i < p["points"].size(); ++i) {
      const auto q = uncrop_point({p["points"][i][0].get<double>(), p["points"][i][1].get<double>()},
                                  box_of(p["crop_box"]));
      CHECK(q[0] == p["uncropped"][i][0].get<double>());
      CHECK(q[1] == p["uncropped"][i][1].get<double>());
    }
  }
  SECTION("torchvision batched_nms (both implementations, tied scores)") {
    for (const auto& c : u["nms"]) {
      std::vector<BoxF> boxes;
      for (const auto& b : c["boxes"])
        boxes.push_back({b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()});
      const auto scores = c["scores"].get<std::vector<float>>();
      INFO(boxes.size() << " boxes, threshold " << c["threshold"].get<double>());
      CHECK(batched_nms(boxes, scores, c["threshold"].get<double>()) == c["keep"].get<std::vector<int64_t>>());
    }
  }
  SECTION("remove_small_regions (OpenCV labelling by the stand-in)") {
    const json& s = u["small_regions"];
    for (const auto& c : s["cases"]) {
      std::vector<uint8_t> mask = flat_u8(s["masks"][c["index"].get<size_t>()]);
      INFO("mask " << c["index"] << " area " << c["area"] << " " << c["mode"].get<std::string>());
      const bool changed = remove_small_regions(mask, 41, 57, c["area"].get<double>(), c["mode"] == "holes");
      CHECK(changed == c["changed"].get<bool>());
      CHECK(mask == flat_u8(c["mask"]));
    }
  }
}

// ---------------------------------------------------------------------------------
// End to end against the official generator (tests/reference/dump_amg.py generate)
// ---------------------------------------------------------------------------------
namespace {

std::shared_ptr<const sam::SamModel> tiny_model(const std::string& data) {
  static std::shared_ptr<const sam::SamModel> w;
  if (w) return w;
  const fs::path tmp = fs::temp_directory_path() / ("sam_test_amg_tiny_" + std::to_string(::getpid()) + ".safetensors");
  weights_tools::ConvertOptions o;
  o.input = data + "/tiny.pth";
  o.output = tmp.string();
  o.show_progress = false;
  weights_tools::convert_checkpoint(o);
  w = sam::SamModel::load(tmp.string());
  fs::remove(tmp);
  return w;
}

void compare_with_official(const std::string& name) {
  const std::string data = testdata(), dir = data + "/" + name;
  INFO("reference " << dir);
  const json opts = load_json(dir + "/options.json");
  const json want = load_json(dir + "/records.json");
  sam::AmgOptions o;
  o.points_per_side = opts.value("points_per_side", o.points_per_side);
  o.points_per_batch = opts.value("points_per_batch", o.points_per_batch);
  o.pred_iou_thresh = opts.value("pred_iou_thresh", o.pred_iou_thresh);
  o.stability_score_thresh = opts.value("stability_score_thresh", o.stability_score_thresh);
  o.stability_score_offset = opts.value("stability_score_offset", o.stability_score_offset);
  o.box_nms_thresh = opts.value("box_nms_thresh", o.box_nms_thresh);
  o.crop_n_layers = opts.value("crop_n_layers", o.crop_n_layers);
  o.crop_nms_thresh = opts.value("crop_nms_thresh", o.crop_nms_thresh);
  o.crop_overlap_ratio = opts.value("crop_overlap_ratio", o.crop_overlap_ratio);
  o.crop_n_points_downscale_factor = opts.value("crop_n_points_downscale_factor", o.crop_n_points_downscale_factor);
  o.min_mask_region_area = opts.value("min_mask_region_area", o.min_mask_region_area);
  sam::AutomaticMaskGenerator gen(tiny_model(data), o);
  const sam::Image image = sam::load_image(dir + "/image.png");
  const sam::AmgResult got = gen.generate(image);

  INFO("masks: ours " << got.masks.size() << ", official " << want.size());
  REQUIRE(got.masks.size() == want.size());
  size_t exact = 0;
  int64_t worst_pixels = 0;
  double worst_iou = 0, worst_stab = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const json& w = want[i];
    const sam::AmgMask& m = got.masks[i];
    INFO("mask " << i);
    const auto counts = w["segmentation"]["counts"].get<std::vector<uint32_t>>();
    REQUIRE(w["segmentation"]["size"] == json::array({m.rle.h, m.rle.w}));
    if (counts == m.rle.counts) {
      ++exact;
    } else {
      const auto a = rle_to_mask(m.rle), b = rle_to_mask(Rle{m.rle.h, m.rle.w, counts});
      int64_t diff = 0;
      for (size_t k = 0; k < a.size(); ++k) diff += a[k] != b[k];
      worst_pixels = std::max(worst_pixels, diff);
    }
    // Logits differ from torch's by float rounding (BLAS order): a few pixels on the
    // 0-threshold may flip, which the area (and RLE) then show.
    CHECK(std::abs(m.area() - w["area"].get<int64_t>()) <= 20);
    const auto bbox = m.bbox_xywh(), crop = m.crop_box_xywh();
    for (int k = 0; k < 4; ++k) {
      CHECK(bbox[static_cast<size_t>(k)] == w["bbox"][k].get<double>());
      CHECK(crop[static_cast<size_t>(k)] == w["crop_box"][k].get<double>());
    }
    CHECK(got.boxes_are_float == w["bbox"][0].is_number_float());
    CHECK(got.crop_boxes_are_float == w["crop_box"][0].is_number_float());
    CHECK(m.point[0] == w["point_coords"][0][0].get<double>());
    CHECK(m.point[1] == w["point_coords"][0][1].get<double>());
    worst_iou = std::max(worst_iou, std::fabs(m.predicted_iou - w["predicted_iou"].get<double>()));
    worst_stab = std::max(worst_stab, std::fabs(m.stability_score - w["stability_score"].get<double>()));
  }
  WARN(name << ": " << got.masks.size() << " masks, " << exact << " with identical RLE; worst mask differs in "
            << worst_pixels << " pixels; predicted IoU max abs diff " << worst_iou << ", stability " << worst_stab);
  CHECK(worst_iou <= 1e-4);
  CHECK(worst_stab <= 1e-3);
  CHECK(worst_pixels <= 20);
  CHECK(exact * 10 >= want.size() * 9);
}

}  // namespace

TEST_CASE("AMG end to end equals the official generator: thresholds 0 and no box NMS", "[.][reference]") {
  compare_with_official("amg_tiny_all");
}
TEST_CASE("AMG end to end equals the official generator: thresholds 0 and default NMS", "[.][reference]") {
  compare_with_official("amg_tiny_nms");
}
TEST_CASE("AMG end to end equals the official generator: one crop layer", "[.][reference]") {
  compare_with_official("amg_tiny_crops");
}
TEST_CASE("AMG end to end equals the official generator: min_mask_region_area", "[.][reference]") {
  compare_with_official("amg_tiny_small_regions");
}
TEST_CASE("AMG end to end equals the official generator: IoU and stability filters", "[.][reference]") {
  compare_with_official("amg_tiny_filters");
}
TEST_CASE("AMG end to end equals the official generator: default settings", "[.][reference]") {
  compare_with_official("amg_tiny_defaults");
}
