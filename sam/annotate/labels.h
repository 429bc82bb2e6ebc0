// What `sam annotate` writes for an image's masks:
//  * YOLO-seg text exactly as Ultralytics' auto_annotate writes it: a line per
//    mask `class x1 y1 x2 y2 ...`, the mask's polygon (masks2segments, strategy
//    "all": the external contours merged into one chain, contours.h) divided by
//    the image width / height in float32 and printed as Python prints a float;
//    masks whose polygon has fewer than 3 points get no line;
//  * LabelMe JSON (one polygon shape per external contour, group_id = the mask);
//  * COCO instances: a per-image fragment (image entry + annotations, RLE or
//    polygons), assembled into one instances JSON for the dataset;
//  * binary PNG masks (written by the command).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sam/annotate/contours.h"

namespace sam::annotate {

// One box's mask and what is derived from it.
struct Instance {
  int class_id = 0;
  float score = 1.f;               // the detector's
  bool has_score = false;
  float mask_score = 0.f;          // SAM's predicted IoU
  std::array<float, 4> box{};      // the prompt, pixels x0, y0, x1, y1
  const uint8_t* mask = nullptr;   // [height, width] 0/1, owned by the caller
  int64_t area = 0;                // set pixels
  std::array<int, 4> bbox_xywh{};  // tight box of the set pixels (0s when empty)
  std::vector<Contour> contours;   // external contours (simplified with --simplify)
  Contour polygon;                 // the contours merged (Ultralytics' masks2segments)
};

// Fills area, bbox_xywh, contours (simplified with epsilon > 0) and polygon from `mask`.
void describe_mask(Instance& inst, int height, int width, double simplify_epsilon);

// Python's repr() of a double (shortest round-trip digits; "0.0", "0.5", "1e-05").
std::string python_float(double v);

// Douglas-Peucker on a closed polygon (cv2.approxPolyDP(closed=True) in spirit):
// points within `epsilon` pixels of the simplified outline are dropped. The first
// point is kept; epsilon <= 0 or fewer than 3 points: unchanged.
Contour simplify_closed(const Contour& c, double epsilon);

// The YOLO-seg label text of one image ("" when no mask has a polygon: Ultralytics
// then writes an empty file).
std::string yolo_seg_text(const std::vector<Instance>& instances, int height, int width);

// A LabelMe 5 JSON document for one image. `image_path` is as LabelMe stores it
// (relative to the JSON file); labels are `names[class]`, else the class number.
std::string labelme_json(const std::vector<Instance>& instances, const std::string& image_path, int height,
                         int width, const std::map<int, std::string>& names);

enum class CocoSegmentation { kRle, kPolygon };

// One image's part of the COCO instances file: {"image": {...}, "annotations": [...]}
// (annotation ids are given when the parts are assembled).
std::string coco_part_json(const std::vector<Instance>& instances, long long image_id, const std::string& file_name,
                           int height, int width, CocoSegmentation segmentation);

// The COCO instances document from the parts (file contents, any order: sorted by
// image id, then file name), annotation ids 1, 2, ... in that order; categories
// from `names` plus any other class id used (named by its number).
std::string assemble_coco(const std::vector<std::string>& parts, const std::map<int, std::string>& names);

}  // namespace sam::annotate
