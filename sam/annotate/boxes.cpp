// Box readers for sam annotate (boxes.h): YOLO label folders and COCO JSON.
#include "sam/annotate/boxes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "engine/error.h"
#include "engine/text.h"

namespace sam::annotate {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

bool parse_int(const std::string& s, int& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || errno == ERANGE || v < 0 || v > 1'000'000'000) return false;
  out = static_cast<int>(v);
  return true;
}

bool parse_real(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) engine::fail("{}: cannot open: {}", path, std::generic_category().message(errno));
  std::ostringstream s;
  s << f.rdbuf();
  if (f.bad()) engine::fail("{}: read error", path);
  return s.str();
}

class YoloLabels final : public BoxSource {
 public:
  explicit YoloLabels(std::string dir) : dir_(std::move(dir)) {}
  std::string kind() const override { return "YOLO labels folder"; }

  std::vector<DetectionBox> boxes_for(const std::string& /*key*/, const std::string& path) const override {
    const fs::path file = fs::path(dir_) / (fs::path(path).stem().string() + ".txt");
    std::error_code ec;
    if (!fs::exists(file, ec)) return {};  // no detections for this image
    if (fs::is_directory(file, ec)) engine::fail("{}: is a folder, not a label file", file.string());
    const std::string text = read_text_file(file.string());
    if (text.find('\0') != std::string::npos) engine::fail("{}: not a text file (NUL byte)", file.string());
    std::vector<DetectionBox> boxes;
    std::istringstream lines(text);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
      std::optional<DetectionBox> b = parse_yolo_line(line, fmt::format("{}:{}", file.string(), n));
      if (b) boxes.push_back(std::move(*b));
    }
    return boxes;
  }

 private:
  std::string dir_;
};

// A number field of a JSON object, or a message naming it.
double number_field(const json& obj, const char* name, const std::string& where) {
  const auto it = obj.find(name);
  if (it == obj.end() || !it->is_number()) engine::fail("{}: \"{}\" must be a number", where, name);
  const double v = it->get<double>();
  if (!std::isfinite(v)) engine::fail("{}: \"{}\" is not finite", where, name);
  return v;
}

int category_field(const json& obj, const std::string& where) {
  const auto it = obj.find("category_id");
  if (it == obj.end() || !it->is_number_integer() || it->get<long long>() < 0 || it->get<long long>() > 1'000'000'000)
    engine::fail("{}: \"category_id\" must be a non-negative integer", where);
  return static_cast<int>(it->get<long long>());
}

DetectionBox coco_box(const json& a, const std::string& where) {
  if (!a.is_object()) engine::fail("{}: must be an object", where);
  DetectionBox b;
  b.where = where;
  b.class_id = category_field(a, where);
  const auto bb = a.find("bbox");
  if (bb == a.end() || !bb->is_array() || bb->size() != 4 ||
      !std::all_of(bb->begin(), bb->end(), [](const json& v) { return v.is_number(); }))
    engine::fail("{}: \"bbox\" must be [x, y, width, height] (4 numbers, pixels)", where);
  const double x = (*bb)[0].get<double>(), y = (*bb)[1].get<double>(), w = (*bb)[2].get<double>(),
               h = (*bb)[3].get<double>();
  b.xyxy = {x, y, x + w, y + h};
  if (a.contains("score")) {
    b.score = static_cast<float>(number_field(a, "score", where));
    b.has_score = true;
  }
  return b;
}

// The id text an image's annotations are filed under: a JSON number as an
// integer, a string as it is.
std::optional<std::string> id_text(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_string()) return v.get<std::string>();
  return std::nullopt;
}

class CocoBoxes final : public BoxSource {
 public:
  CocoBoxes(const std::string& path, const json& doc) : path_(path) {
    if (doc.is_array()) {
      detections_ = true;
      read_annotations(doc, "");
    } else if (doc.is_object() && doc.contains("annotations")) {
      read_images(doc);
      read_annotations(doc["annotations"], "annotations");
      if (doc.contains("categories")) read_categories(doc["categories"]);
    } else {
      engine::fail("{}: neither a COCO dataset (an object with \"images\" and \"annotations\") nor a detections "
                   "list (an array of {{image_id, category_id, bbox, score}})",
                   path);
    }
  }
  std::string kind() const override { return detections_ ? "COCO detections JSON" : "COCO dataset JSON"; }
  std::map<int, std::string> categories() const override { return categories_; }

  std::vector<DetectionBox> boxes_for(const std::string& key, const std::string& path) const override {
    const std::optional<std::string> id = lookup(key, path);
    if (!id) return {};
    const auto it = boxes_.find(*id);
    return it == boxes_.end() ? std::vector<DetectionBox>{} : it->second;
  }

  std::optional<long long> image_id(const std::string& key, const std::string& path) const override {
    const std::optional<std::string> id = lookup(key, path);
    if (!id) return std::nullopt;
    char* end = nullptr;
    const long long v = std::strtoll(id->c_str(), &end, 10);
    if (id->empty() || end != id->c_str() + id->size()) return std::nullopt;
    return v;
  }

 private:
  // The id of an image: by its file_name (the listing key, else the file
  // name), or for a detections list by its stem.
  std::optional<std::string> lookup(const std::string& key, const std::string& path) const {
    const fs::path p(path);
    if (!detections_) {
      for (const std::string& name : {key, p.filename().string()}) {
        const auto it = ids_by_name_.find(name);
        if (it != ids_by_name_.end()) return it->second;
      }
      return std::nullopt;
    }
    const std::string stem = p.stem().string();
    if (boxes_.count(stem)) return stem;
    if (!stem.empty() && std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        stem.size() < 19)
      return std::to_string(std::stoll(stem));
    return std::nullopt;
  }

  void read_images(const json& doc) {
    const auto images = doc.find("images");
    if (images == doc.end() || !images->is_array()) engine::fail("{}: \"images\" must be an array", path_);
    for (size_t i = 0; i < images->size(); ++i) {
      const json& im = (*images)[i];
      const std::string where = fmt::format("{}: images[{}]", path_, i);
      if (!im.is_object() || !im.contains("file_name") || !im["file_name"].is_string())
        engine::fail("{}: needs \"file_name\" (a string)", where);
      const std::optional<std::string> id = im.contains("id") ? id_text(im["id"]) : std::nullopt;
      if (!id) engine::fail("{}: needs \"id\" (an integer or a string)", where);
      const std::string name = im["file_name"].get<std::string>();
      ids_by_name_.emplace(name, *id);
      ids_by_name_.emplace(fs::path(name).filename().string(), *id);  // first one wins
    }
  }

  void read_annotations(const json& list, const std::string& field) {
    if (!list.is_array()) engine::fail("{}: \"{}\" must be an array", path_, field);
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = field.empty() ? fmt::format("{}: [{}]", path_, i)
                                              : fmt::format("{}: {}[{}]", path_, field, i);
      const json& a = list[i];
      DetectionBox b = coco_box(a, where);
      const std::optional<std::string> id = a.contains("image_id") ? id_text(a["image_id"]) : std::nullopt;
      if (!id) engine::fail("{}: \"image_id\" must be an integer or a string", where);
      boxes_[*id].push_back(std::move(b));
    }
  }

  void read_categories(const json& list) {
    if (!list.is_array()) engine::fail("{}: \"categories\" must be an array", path_);
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = fmt::format("{}: categories[{}]", path_, i);
      const json& c = list[i];
      if (!c.is_object() || !c.contains("id") || !c["id"].is_number_integer())
        engine::fail("{}: needs \"id\" (an integer)", where);
      const std::string name = c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>()
                                                                           : std::to_string(c["id"].get<long long>());
      categories_[static_cast<int>(c["id"].get<long long>())] = name;
    }
  }

  std::string path_;
  bool detections_ = false;
  std::map<std::string, std::string> ids_by_name_;
  std::map<std::string, std::vector<DetectionBox>> boxes_;  // by image id text
  std::map<int, std::string> categories_;
};

}  // namespace

std::optional<DetectionBox> parse_yolo_line(const std::string& line, const std::string& where) {
  std::istringstream in(line);
  std::vector<std::string> f;
  for (std::string tok; in >> tok;) f.push_back(tok);
  if (f.empty()) return std::nullopt;
  const std::string shown = engine::printable(line.size() > 80 ? line.substr(0, 80) + "..." : line);
  if (f.size() != 5 && f.size() != 6)
    engine::fail("{}: expected 'class cx cy w h [conf]' (5 or 6 fields{}), got {} field(s): {}", where,
                 f.size() > 6 ? "; a segmentation label?" : "", f.size(), shown);
  DetectionBox b;
  b.where = where;
  b.normalised = true;
  if (!parse_int(f[0], b.class_id)) engine::fail("{}: class '{}' is not a non-negative integer", where, engine::printable(f[0]));
  double v[4];
  for (int i = 0; i < 4; ++i)
    if (!parse_real(f[static_cast<size_t>(i) + 1], v[i]))
      engine::fail("{}: '{}' is not a finite number", where, engine::printable(f[static_cast<size_t>(i) + 1]));
  if (f.size() == 6) {
    double s = 0;
    if (!parse_real(f[5], s)) engine::fail("{}: conf '{}' is not a finite number", where, engine::printable(f[5]));
    b.score = static_cast<float>(s);
    b.has_score = true;
  }
  // Ultralytics' xywhn2xyxy: centre +- half the size.
  b.xyxy = {v[0] - v[2] / 2, v[1] - v[3] / 2, v[0] + v[2] / 2, v[1] + v[3] / 2};
  return b;
}

std::array<float, 4> box_in_pixels(const DetectionBox& box, int width, int height) {
  std::array<double, 4> p = box.xyxy;
  if (box.normalised) {
    p[0] *= width;
    p[2] *= width;
    p[1] *= height;
    p[3] *= height;
  }
  const double slack = 1.0;  // pixels a box may stick out (clipped)
  const bool finite = std::all_of(p.begin(), p.end(), [](double v) { return std::isfinite(v); });
  if (!finite || p[2] <= p[0] || p[3] <= p[1] || p[0] < -slack || p[1] < -slack || p[2] > width + slack ||
      p[3] > height + slack)
    engine::fail("{}: box ({:.6g}, {:.6g}, {:.6g}, {:.6g}) {} the {}x{} image", box.where, p[0], p[1], p[2], p[3],
                 finite && p[2] > p[0] && p[3] > p[1] ? "lies outside" : "is empty, not a box inside", width, height);
  return {static_cast<float>(std::clamp(p[0], 0.0, static_cast<double>(width))),
          static_cast<float>(std::clamp(p[1], 0.0, static_cast<double>(height))),
          static_cast<float>(std::clamp(p[2], 0.0, static_cast<double>(width))),
          static_cast<float>(std::clamp(p[3], 0.0, static_cast<double>(height)))};
}

bool BoxFilter::keeps(const DetectionBox& b) const {
  if (!classes.empty() && std::find(classes.begin(), classes.end(), b.class_id) == classes.end()) return false;
  return !b.has_score || b.score >= min_score;
}

std::unique_ptr<BoxSource> open_box_source(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) engine::fail("--boxes {}: no such file or folder", path);
  if (fs::is_directory(st)) return std::make_unique<YoloLabels>(path);
  const std::string text = read_text_file(path);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    engine::fail("{}: not valid JSON (a COCO file is expected for --boxes FILE; a folder for YOLO labels): {}", path,
                 e.what());
  }
  return std::make_unique<CocoBoxes>(path, doc);
}

}  // namespace sam::annotate
