#include "sam/serve/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

#include "sam/amg/amg_utils.h"
#include "sam/serve/http_error.h"

namespace sam::serve {
namespace {

using nlohmann::json;

float finite_number(const json& v, const std::string& what) {
  require(v.is_number(), "{}: expected a number, got {}", what, v.dump());
  const double d = v.get<double>();
  const float f = static_cast<float>(d);
  require(std::isfinite(f), "{}: must be a finite number", what);
  return f;
}

std::vector<float> number_array(const json& v, const std::string& what, size_t min_n, size_t max_n) {
  require(v.is_array() && v.size() >= min_n && v.size() <= max_n, "{}: expected an array of {} numbers, got {}", what,
          min_n == max_n ? fmt::format("{}", min_n) : fmt::format("{} to {}", min_n, max_n), v.dump());
  std::vector<float> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(finite_number(v[i], fmt::format("{}[{}]", what, i)));
  return out;
}

int label_value(const json& v, const std::string& what) {
  require(v.is_number() && (v.get<double>() == 0.0 || v.get<double>() == 1.0),
          "{}: label must be 1 (foreground) or 0 (background), got {}", what, v.dump());
  return static_cast<int>(v.get<double>());
}

MaskFormat parse_format(const json& body) {
  MaskFormat f;
  if (!body.contains("output")) return f;
  const json& o = body["output"];
  require(o.is_string(), "output: expected \"rle\", \"polygons\" or \"both\"");
  const std::string s = o.get<std::string>();
  require(s == "rle" || s == "polygons" || s == "both", "output: expected \"rle\", \"polygons\" or \"both\", got \"{}\"",
          s);
  f.rle = s != "polygons";
  f.polygons = s != "rle";
  require(!f.polygons || polygons_available(), "output \"{}\": this build has no polygon support", s);
  return f;
}

void check_known_keys(const json& body, const std::set<std::string>& known, const char* endpoint) {
  for (const auto& [key, value] : body.items())
    require(known.count(key) > 0, "unknown field \"{}\" for {}", key, endpoint);
}

void parse_points(const json& body, int width, int height, PromptSet& set) {
  if (!body.contains("points")) return;
  const json& pts = body["points"];
  require(pts.is_array(), "points: expected an array of [x, y] or [x, y, label]");
  require(pts.size() <= kMaxPointsPerRequest, "points: {} given, at most {}", pts.size(), kMaxPointsPerRequest);
  for (size_t i = 0; i < pts.size(); ++i) {
    const std::string what = fmt::format("points[{}]", i);
    require(pts[i].is_array() && (pts[i].size() == 2 || pts[i].size() == 3), "{}: expected [x, y] or [x, y, label]",
            what);
    const float x = finite_number(pts[i][0], what + "[0]"), y = finite_number(pts[i][1], what + "[1]");
    require(x >= 0 && x <= width && y >= 0 && y <= height, "{} ({}, {}) lies outside the {}x{} image", what, x, y,
            width, height);
    set.points.push_back({x, y});
    set.labels.push_back(pts[i].size() == 3 ? label_value(pts[i][2], what + "[2]") : 1);
  }
  if (body.contains("labels")) {
    const json& labels = body["labels"];
    require(labels.is_array() && labels.size() == set.points.size(), "labels: expected an array of {} labels",
            set.points.size());
    for (size_t i = 0; i < labels.size(); ++i) set.labels[i] = label_value(labels[i], fmt::format("labels[{}]", i));
  }
}

std::vector<std::array<float, 4>> parse_boxes(const json& body, int width, int height) {
  std::vector<std::pair<std::string, json>> given;
  require(!(body.contains("box") && body.contains("boxes")), "give either box or boxes, not both");
  if (body.contains("box")) given.emplace_back("box", body["box"]);
  if (body.contains("boxes")) {
    const json& b = body["boxes"];
    require(b.is_array(), "boxes: expected an array of [x0, y0, x1, y1]");
    require(b.size() <= kMaxBoxesPerRequest, "boxes: {} given, at most {}", b.size(), kMaxBoxesPerRequest);
    for (size_t i = 0; i < b.size(); ++i) given.emplace_back(fmt::format("boxes[{}]", i), b[i]);
  }
  std::vector<std::array<float, 4>> out;
  for (const auto& [what, v] : given) {
    const std::vector<float> b = number_array(v, what, 4, 4);
    require(b[2] > b[0] && b[3] > b[1], "{}: needs x1 > x0 and y1 > y0", what);
    require(b[0] >= 0 && b[1] >= 0 && b[2] <= width && b[3] <= height, "{} lies outside the {}x{} image", what, width,
            height);
    out.push_back({b[0], b[1], b[2], b[3]});
  }
  return out;
}

nlohmann::json polygons_json(const uint8_t* mask, int h, int w) {
  json out = json::array();
  for (const std::vector<int>& p : mask_polygons(mask, h, w)) out.push_back(p);
  return out;
}

}  // namespace

json parse_json_object(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  if (body.size() > kMaxJsonBody)
    http_fail(413, "request body of {} bytes; JSON bodies take at most {}", body.size(), kMaxJsonBody);
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    http_fail(400, "bad JSON: {}", e.what());
  }
  require(j.is_object(), "expected a JSON object, got {}", j.type_name());
  return j;
}

PredictRequest parse_predict_request(const json& body, int width, int height) {
  check_known_keys(body, {"points", "labels", "box", "boxes", "mask_input", "multimask", "output"}, "predict");
  PredictRequest r;
  PromptSet base;
  parse_points(body, width, height, base);
  if (body.contains("mask_input")) {
    require(body["mask_input"].is_string() && !body["mask_input"].get<std::string>().empty(),
            "mask_input: expected the logits_id of an earlier answer");
    r.mask_input = body["mask_input"].get<std::string>();
  }
  if (body.contains("multimask")) {
    require(body["multimask"].is_boolean(), "multimask: expected true or false");
    r.multimask = body["multimask"].get<bool>();
  }
  r.format = parse_format(body);
  const std::vector<std::array<float, 4>> boxes = parse_boxes(body, width, height);
  require(!base.points.empty() || !boxes.empty() || !r.mask_input.empty(),
          "no prompt given: send points, a box or boxes, or mask_input");
  if (boxes.empty()) r.sets.push_back(base);
  for (const auto& b : boxes) {
    PromptSet s = base;
    s.box = b;
    r.sets.push_back(std::move(s));
  }
  const int64_t n_masks = static_cast<int64_t>(r.sets.size()) * (r.multimask ? 3 : 1);
  require(n_masks * width * height <= kMaxMaskPixelsPerRequest,
          "{} masks of {}x{} pixels exceed the limit of {} mask pixels per request: use fewer boxes or multimask false",
          n_masks, width, height, kMaxMaskPixelsPerRequest);
  return r;
}

EverythingRequest parse_everything_request(const json& body) {
  check_known_keys(body,
                   {"points_per_side", "points_per_batch", "pred_iou_thresh", "stability_score_thresh",
                    "stability_score_offset", "box_nms_thresh", "crop_n_layers", "crop_nms_thresh",
                    "crop_overlap_ratio", "crop_n_points_downscale_factor", "min_mask_region_area", "output"},
                   "everything");
  EverythingRequest r;
  AmgOptions& o = r.options;
  const auto integer = [&](const char* key, int& out, int lo, int hi) {
    if (!body.contains(key)) return;
    const json& v = body[key];
    require(v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi,
            "{}: expected an integer in [{}, {}], got {}", key, lo, hi, v.dump());
    out = static_cast<int>(v.get<int64_t>());
  };
  const auto real = [&](const char* key, double& out, double lo, double hi) {
    if (!body.contains(key)) return;
    const json& v = body[key];
    require(v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= lo && v.get<double>() <= hi,
            "{}: expected a number in [{}, {}], got {}", key, lo, hi, v.dump());
    out = v.get<double>();
  };
  integer("points_per_side", o.points_per_side, 1, 256);
  integer("points_per_batch", o.points_per_batch, 1, 4096);
  real("pred_iou_thresh", o.pred_iou_thresh, 0.0, 1.0);
  real("stability_score_thresh", o.stability_score_thresh, 0.0, 1.0);
  real("stability_score_offset", o.stability_score_offset, 0.0, 1e30);
  real("box_nms_thresh", o.box_nms_thresh, 0.0, 1.0);
  integer("crop_n_layers", o.crop_n_layers, 0, 6);
  real("crop_nms_thresh", o.crop_nms_thresh, 0.0, 1.0);
  real("crop_overlap_ratio", o.crop_overlap_ratio, 0.0, 0.999);
  integer("crop_n_points_downscale_factor", o.crop_n_points_downscale_factor, 1, 1024);
  integer("min_mask_region_area", o.min_mask_region_area, 0, 1 << 30);
  r.format = parse_format(body);
  const int64_t n = AutomaticMaskGenerator::prompts_per_image(o);
  require(n > 0, "a crop layer would have no points: points_per_side {} / crop_n_points_downscale_factor^layer < 1",
          o.points_per_side);
  require(n <= AutomaticMaskGenerator::kMaxPrompts,
          "{} prompt points per image (points_per_side {}, crop_n_layers {}, crop_n_points_downscale_factor {}) "
          "exceed the limit of {}",
          n, o.points_per_side, o.crop_n_layers, o.crop_n_points_downscale_factor, AutomaticMaskGenerator::kMaxPrompts);
  return r;
}

json encode_prediction(const Prediction& pred, int W, int H, const std::vector<std::string>& logits_ids,
                       const MaskFormat& format) {
  const int N = static_cast<int>(pred.masks.dim(0)), C = static_cast<int>(pred.masks.dim(1));
  const size_t plane = static_cast<size_t>(H) * W;
  json masks = json::array();
  for (int n = 0; n < N; ++n) {
    const float* iou = pred.iou_predictions.data<float>() + static_cast<size_t>(n) * C;
    std::vector<int> order(static_cast<size_t>(C));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return iou[x] > iou[y]; });
    for (int c : order) {
      const uint8_t* m = pred.masks.data<uint8_t>() + (static_cast<size_t>(n) * C + c) * plane;
      const amg::Rle rle = amg::mask_to_rle(m, H, W);
      const int64_t area = amg::area_from_rle(rle);
      const amg::Box b = amg::rle_to_box(rle);  // inclusive maximum
      json rec = {{"prompt_set", n},
                  {"mask_index", c},
                  {"score", iou[c]},
                  {"area", area},
                  {"bbox", area ? json::array({b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1}) : json::array()},
                  {"logits_id", logits_ids.at(static_cast<size_t>(n) * C + c)}};
      if (format.rle)
        rec["segmentation"] = {{"size", {H, W}}, {"counts", amg::coco_encode_counts(rle.counts)}};
      if (format.polygons) rec["polygons"] = polygons_json(m, H, W);
      masks.push_back(std::move(rec));
    }
  }
  return masks;
}

json encode_everything(const AmgResult& r, const MaskFormat& format) {
  json masks = json::array();
  for (const AmgMask& m : r.masks) {
    const auto bbox = m.bbox_xywh();
    const auto crop = m.crop_box_xywh();
    json rec = {{"area", m.area()},
                {"bbox", {bbox[0], bbox[1], bbox[2], bbox[3]}},
                {"predicted_iou", m.predicted_iou},
                {"point_coords", {{m.point[0], m.point[1]}}},
                {"stability_score", m.stability_score},
                {"crop_box", {crop[0], crop[1], crop[2], crop[3]}}};
    if (format.rle)
      rec["segmentation"] = {{"size", {m.rle.h, m.rle.w}}, {"counts", amg::coco_encode_counts(m.rle.counts)}};
    if (format.polygons) {
      const std::vector<uint8_t> mask = amg::rle_to_mask(m.rle);
      rec["polygons"] = polygons_json(mask.data(), m.rle.h, m.rle.w);
    }
    masks.push_back(std::move(rec));
  }
  return masks;
}

std::string npy_bytes(const engine::Tensor& tensor) {
  const engine::Tensor t = tensor.contiguous();
  std::string shape;
  for (int i = 0; i < t.rank(); ++i) shape += fmt::format("{}, ", t.dim(i));
  if (t.rank() > 1) shape.resize(shape.size() - 2);
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", shape);
  const size_t unpadded = 10 + header.size() + 1;  // magic, version, length, dict, '\n'
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  const size_t start = out.size();
  out.resize(start + t.nbytes());
  if (t.nbytes()) std::memcpy(out.data() + start, t.raw_data(), t.nbytes());
  return out;
}

}  // namespace sam::serve
