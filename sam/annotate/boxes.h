// Detector boxes for `sam annotate`, from the files detectors write:
//  * a YOLO labels folder: <image stem>.txt, one box per line
//    `class cx cy w h [conf]`, centre and size normalised to [0, 1] (Ultralytics'
//    save_txt format; a missing file: no boxes for that image);
//  * a COCO JSON: a dataset (`images` with id / file_name [/ width / height],
//    `annotations` with image_id / category_id / bbox [x, y, w, h] pixels [/ score],
//    `categories`), or a detections list (pycocotools loadRes / Ultralytics
//    predictions.json: [{image_id, category_id, bbox, score}, ...]) whose image_id
//    is the image's file stem (a number: the stem read as an integer, as in COCO's
//    000000397133.jpg -> 397133).
// Errors are engine::Error with the file and line (or JSON element) at fault.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sam::annotate {

struct DetectionBox {
  int class_id = 0;
  float score = 1.f;       // the detector's confidence; 1 when the source has none
  bool has_score = false;
  // x0, y0, x1, y1: pixels, or fractions of the image's width / height when `normalised`.
  std::array<double, 4> xyxy{};
  bool normalised = false;
  std::string where;       // "labels/a.txt:3", "boxes.json: annotations[7]": for messages
};

// A box in image pixels (x0, y0, x1, y1) for an image of width x height. A box
// may stick out of the image by up to one pixel (rounding in detector output;
// it is clipped); a box further out, empty, or not finite throws engine::Error
// "WHERE: box ... lies outside the WxH image".
std::array<float, 4> box_in_pixels(const DetectionBox& box, int width, int height);

// Which boxes to keep: classes (empty: all) and a minimum score (boxes without a score are kept).
struct BoxFilter {
  std::vector<int> classes;
  float min_score = 0.f;
  bool keeps(const DetectionBox& b) const;
};

class BoxSource {
 public:
  virtual ~BoxSource() = default;
  // The boxes of one image (`path` as opened; `key` its name in the dataset
  // listing), in file order. Throws engine::Error on a malformed entry.
  virtual std::vector<DetectionBox> boxes_for(const std::string& key, const std::string& path) const = 0;
  // Category names by id (COCO `categories`; empty for YOLO labels).
  virtual std::map<int, std::string> categories() const { return {}; }
  // The COCO image id of an image, where the source has one.
  virtual std::optional<long long> image_id(const std::string& /*key*/, const std::string& /*path*/) const {
    return std::nullopt;
  }
  // "YOLO labels folder" / "COCO dataset JSON" / "COCO detections JSON".
  virtual std::string kind() const = 0;
};

// A folder: YOLO labels; a file: COCO JSON (parsed and checked now). Throws
// engine::Error if `path` is missing or malformed.
std::unique_ptr<BoxSource> open_box_source(const std::string& path);

// One line of a YOLO label file (`where` names it in errors); nullopt for a blank line.
std::optional<DetectionBox> parse_yolo_line(const std::string& line, const std::string& where);

}  // namespace sam::annotate
