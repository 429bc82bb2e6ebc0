// Label writers for sam annotate (labels.h).
#include "sam/annotate/labels.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <system_error>

#include "engine/error.h"
#include "sam/amg/amg_utils.h"

namespace sam::annotate {
namespace {
using nlohmann::json;

// Distance of p from the segment a-b.
double segment_distance(const ContourPoint& p, const ContourPoint& a, const ContourPoint& b) {
  const double dx = b[0] - a[0], dy = b[1] - a[1];
  const double px = p[0] - a[0], py = p[1] - a[1];
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  return std::hypot(px - t * dx, py - t * dy);
}

// Douglas-Peucker on the open chain pts[first..last] (indices into a closed
// polygon of n points, wrapping): marks the points to keep.
void simplify_chain(const Contour& pts, size_t first, size_t last, double epsilon, std::vector<char>& keep) {
  const size_t n = pts.size();
  std::vector<std::pair<size_t, size_t>> todo{{first, last}};  // last may be n (= point 0 again)
  while (!todo.empty()) {
    const auto [a, b] = todo.back();
    todo.pop_back();
    double worst = -1;
    size_t at = a;
    for (size_t i = a + 1; i < b; ++i) {
      const double d = segment_distance(pts[i % n], pts[a % n], pts[b % n]);
      if (d > worst) {
        worst = d;
        at = i;
      }
    }
    if (worst > epsilon) {
      keep[at % n] = 1;
      todo.push_back({at, b});
      todo.push_back({a, at});
    }
  }
}

std::string category_name(const std::map<int, std::string>& names, int id) {
  const auto it = names.find(id);
  return it == names.end() ? std::to_string(id) : it->second;
}

}  // namespace

void describe_mask(Instance& inst, int height, int width, double simplify_epsilon) {
  int64_t area = 0;
  int x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = inst.mask + static_cast<size_t>(y) * static_cast<size_t>(width);
    for (int x = 0; x < width; ++x) {
      if (!row[x]) continue;
      ++area;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  inst.area = area;
  inst.bbox_xywh = area ? std::array<int, 4>{x0, y0, x1 - x0 + 1, y1 - y0 + 1} : std::array<int, 4>{0, 0, 0, 0};
  inst.contours = area ? external_contours(inst.mask, height, width, width) : std::vector<Contour>{};
  if (simplify_epsilon > 0)
    for (Contour& c : inst.contours) c = simplify_closed(c, simplify_epsilon);
  inst.polygon = merge_contours(inst.contours);
}

std::string python_float(double v) {
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);  // shortest: d.ddde[+-]XX
  std::string s(buf, r.ptr);
  const size_t e = s.find('e');
  const int exp10 = std::stoi(s.substr(e + 1));
  std::string mant = s.substr(0, e);
  const bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out;
  if (exp10 >= -4 && exp10 < 16) {  // repr's fixed notation (float_repr_style 'short': -4 <= exponent < 16)
    if (exp10 < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp10 + 1) {
      out = digits + std::string(static_cast<size_t>(exp10 + 1) - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exp10 + 1)) + "." + digits.substr(static_cast<size_t>(exp10 + 1));
    }
    return (neg ? "-" : "") + out;
  }
  out = digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  return (neg ? "-" : "") + out + fmt::format("e{}{:02d}", exp10 < 0 ? '-' : '+', std::abs(exp10));
}

Contour simplify_closed(const Contour& c, double epsilon) {
  const size_t n = c.size();
  if (epsilon <= 0 || n < 3) return c;
  // Split at point 0 and the point farthest from it; simplify both halves.
  size_t far = 0;
  double best = -1;
  for (size_t i = 1; i < n; ++i) {
    const double d = std::hypot(c[i][0] - c[0][0], c[i][1] - c[0][1]);
    if (d > best) {
      best = d;
      far = i;
    }
  }
  std::vector<char> keep(n, 0);
  keep[0] = keep[far] = 1;
  simplify_chain(c, 0, far, epsilon, keep);
  simplify_chain(c, far, n, epsilon, keep);
  Contour out;
  for (size_t i = 0; i < n; ++i)
    if (keep[i]) out.push_back(c[i]);
  return out;
}

std::string yolo_seg_text(const std::vector<Instance>& instances, int height, int width) {
  std::string text;
  const float w = static_cast<float>(width), h = static_cast<float>(height);
  for (const Instance& inst : instances) {
    if (inst.polygon.size() < 3) continue;  // auto_annotate: "fewer than 3 points is not a polygon"
    text += std::to_string(inst.class_id);
    for (const ContourPoint& p : inst.polygon) {
      // scale_coords(normalize=True) on float32 segments: clip to [0, w], / w (float32).
      const float x = std::clamp(static_cast<float>(p[0]), 0.f, w) / w;
      const float y = std::clamp(static_cast<float>(p[1]), 0.f, h) / h;
      text += ' ';
      text += python_float(x);
      text += ' ';
      text += python_float(y);
    }
    text += '\n';
  }
  return text;
}

std::string labelme_json(const std::vector<Instance>& instances, const std::string& image_path, int height,
                         int width, const std::map<int, std::string>& names) {
  json shapes = json::array();
  for (size_t k = 0; k < instances.size(); ++k) {
    const Instance& inst = instances[k];
    for (const Contour& c : inst.contours) {
      if (c.size() < 3) continue;  // LabelMe polygons need 3 points
      json points = json::array();
      for (const ContourPoint& p : c) points.push_back({p[0], p[1]});
      json shape = {{"label", category_name(names, inst.class_id)},
                    {"points", points},
                    {"group_id", k},
                    {"description", inst.has_score ? fmt::format("score {}", inst.score) : std::string()},
                    {"shape_type", "polygon"},
                    {"flags", json::object()},
                    {"mask", nullptr}};
      shapes.push_back(std::move(shape));
    }
  }
  const json doc = {{"version", "5.4.1"},   {"flags", json::object()}, {"shapes", shapes},
                    {"imagePath", image_path}, {"imageData", nullptr},    {"imageHeight", height},
                    {"imageWidth", width}};
  return doc.dump(2) + "\n";
}

std::string coco_part_json(const std::vector<Instance>& instances, long long image_id, const std::string& file_name,
                           int height, int width, CocoSegmentation segmentation) {
  json anns = json::array();
  for (const Instance& inst : instances) {
    if (inst.area == 0) continue;
    json seg;
    if (segmentation == CocoSegmentation::kRle) {
      const amg::Rle rle = amg::mask_to_rle(inst.mask, height, width);
      seg = {{"size", {height, width}}, {"counts", amg::coco_encode_counts(rle.counts)}};
    } else {
      seg = json::array();
      for (const Contour& c : inst.contours) {
        if (c.size() < 3) continue;  // a COCO polygon needs 3 points
        json flat = json::array();
        for (const ContourPoint& p : c) {
          flat.push_back(p[0]);
          flat.push_back(p[1]);
        }
        seg.push_back(std::move(flat));
      }
      if (seg.empty()) continue;
    }
    json a = {{"image_id", image_id},
              {"category_id", inst.class_id},
              {"bbox", inst.bbox_xywh},
              {"area", inst.area},
              {"iscrowd", 0},
              {"segmentation", seg},
              {"prompt_box", inst.box},
              {"predicted_iou", inst.mask_score}};
    if (inst.has_score) a["score"] = inst.score;
    anns.push_back(std::move(a));
  }
  const json part = {{"image", {{"id", image_id}, {"file_name", file_name}, {"height", height}, {"width", width}}},
                     {"annotations", anns}};
  return part.dump() + "\n";
}

std::string assemble_coco(const std::vector<std::string>& parts, const std::map<int, std::string>& names) {
  std::vector<json> docs;
  docs.reserve(parts.size());
  for (const std::string& p : parts) docs.push_back(json::parse(p));
  std::sort(docs.begin(), docs.end(), [](const json& a, const json& b) {
    const long long ia = a["image"]["id"].get<long long>(), ib = b["image"]["id"].get<long long>();
    if (ia != ib) return ia < ib;
    return a["image"]["file_name"].get<std::string>() < b["image"]["file_name"].get<std::string>();
  });
  json images = json::array(), annotations = json::array();
  std::map<int, std::string> categories = names;
  long long next_id = 1;
  for (json& d : docs) {
    images.push_back(d["image"]);
    for (json& a : d["annotations"]) {
      a["id"] = next_id++;
      const int c = a["category_id"].get<int>();
      if (!categories.count(c)) categories[c] = std::to_string(c);
      annotations.push_back(std::move(a));
    }
  }
  json cats = json::array();
  for (const auto& [id, name] : categories) cats.push_back({{"id", id}, {"name", name}, {"supercategory", ""}});
  const json doc = {{"info", {{"description", "sam annotate"}}},
                    {"images", images},
                    {"annotations", annotations},
                    {"categories", cats}};
  return doc.dump() + "\n";
}

}  // namespace sam::annotate
