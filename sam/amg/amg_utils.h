// The building blocks of automatic mask generation, mirroring
// segment_anything/utils/amg.py function by function (each comment names the
// official function), plus what the official code takes from torchvision
// (nms / batched_nms), pycocotools (the compressed COCO RLE string) and OpenCV
// (8-connected components for remove_small_regions).
//
// Conventions. Masks are [H, W] uint8 0/1, row-major. Boxes are XYXY with the
// official inclusive maximum (batched_mask_to_box gives the last set column /
// row, not one past it). RLEs are the official uncompressed RLE: run lengths in
// column-major (Fortran) order, alternating 0-runs and 1-runs, starting with a
// 0-run (so a mask whose first pixel is set starts with a count of 0).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sam::amg {

using PointGrid = std::vector<std::array<double, 2>>;  // [N, 2] (x, y), normalised to [0, 1]
using Box = std::array<int, 4>;                        // x0, y0, x1, y1
using BoxF = std::array<float, 4>;

// build_point_grid: n x n points at the centres of an n x n tiling of [0,1]^2
// (np.linspace(offset, 1 - offset, n), offset = 1 / (2n)), x fastest.
PointGrid build_point_grid(int n_per_side);
// build_all_layer_point_grids: layer i gets build_point_grid(int(n / scale**i)).
std::vector<PointGrid> build_all_layer_point_grids(int n_per_side, int n_layers, int scale_per_layer);

// generate_crop_boxes: the whole image (layer 0), then for layer i = 1..n
// (2^i)^2 overlapping crops, x-major (itertools.product(x0s, y0s)).
struct CropBoxes {
  std::vector<Box> boxes;
  std::vector<int> layer_idxs;
};
CropBoxes generate_crop_boxes(int im_h, int im_w, int n_layers, double overlap_ratio);

// calculate_stability_score for one mask: intersections / unions as torch
// divides two int32 tensors (in f32); 0 / 0 gives NaN as there.
float stability_score(int64_t intersections, int64_t unions);
// The same from full logits [n]: counts of logits > threshold + offset and
// > threshold - offset (the thresholds are f32, as torch compares an f32
// tensor with a Python float).
float calculate_stability_score(const float* logits, int64_t n, float mask_threshold, float threshold_offset);

// batched_mask_to_box for one mask: [x0, y0, x1, y1] inclusive, [0,0,0,0] if empty.
Box mask_to_box(const uint8_t* mask, int h, int w);

// is_box_near_crop_edge (atol 20): the box, uncropped, is within atol of a
// crop edge that is not also an image edge.
bool is_box_near_crop_edge(const Box& box, const Box& crop_box, const Box& orig_box, float atol = 20.f);

// uncrop_boxes_xyxy / uncrop_points: add the crop's top-left corner.
Box uncrop_box(const Box& box, const Box& crop_box);
std::array<double, 2> uncrop_point(const std::array<double, 2>& p, const Box& crop_box);
// uncrop_masks: zero-pad a crop's mask [crop_h, crop_w] to the image [orig_h, orig_w].
std::vector<uint8_t> uncrop_mask(const uint8_t* mask, const Box& crop_box, int orig_h, int orig_w);

// box_area of an XYXY box (torchvision.ops.box_area: (x1 - x0) * (y1 - y0)).
int64_t box_area(const Box& b);

// torchvision.ops.nms (CPU kernel): indices kept, by score, descending; ties
// keep index order (the kernel sorts stably); a box is suppressed when its
// IoU (computed in f32) with a kept box is > iou_threshold (compared in double).
std::vector<int64_t> nms(const std::vector<BoxF>& boxes, const std::vector<float>& scores, double iou_threshold);
// torchvision.ops.batched_nms with every box in category 0, as the generator
// calls it. Above 1000 boxes torchvision takes its "vanilla" path, which
// re-sorts the kept indices with torch's default (unstable) sort: ties then come
// out in the order of libstdc++'s std::sort, which is reproduced here.
std::vector<int64_t> batched_nms(const std::vector<BoxF>& boxes, const std::vector<float>& scores,
                                 double iou_threshold);

// Uncompressed RLE (mask_to_rle_pytorch / rle_to_mask / area_from_rle).
struct Rle {
  int h = 0, w = 0;
  std::vector<uint32_t> counts;
};
// Appends runs to an RLE in column-major pixel order (merging equal values).
class RleBuilder {
 public:
  RleBuilder() { counts_.reserve(64); }
  void push(bool value, uint32_t n) {
    if (n == 0) return;
    if (value != current_) {
      counts_.push_back(run_);
      run_ = 0;
      current_ = value;
    }
    run_ += n;
  }
  // Closes the last run. The result starts with a 0-run (possibly of length 0).
  std::vector<uint32_t> finish() {
    counts_.push_back(run_);
    run_ = 0;
    current_ = false;
    std::vector<uint32_t> out;
    out.swap(counts_);
    return out;
  }

 private:
  std::vector<uint32_t> counts_;
  uint32_t run_ = 0;
  bool current_ = false;
};
// mask_to_rle_pytorch for one row-major mask [h, w] (any non-zero byte is set);
// bit-parallel, ~1 operation per pixel (mask_rle.cpp).
Rle mask_to_rle(const uint8_t* mask, int h, int w);
// rle_to_mask: row-major [h, w] 0/1 into `out` (h * w bytes).
void rle_to_mask(const Rle& rle, uint8_t* out);
std::vector<uint8_t> rle_to_mask(const Rle& rle);
// area_from_rle: the sum of the 1-runs.
int64_t area_from_rle(const Rle& rle);
// batched_mask_to_box computed from an RLE (same result as on the decoded mask).
Box rle_to_box(const Rle& rle);

// coco_encode_rle: pycocotools' compressed "counts" string (maskApi.c
// rleToString: counts after the second are stored as differences to the count
// two before, 5 bits per character with a continuation bit, offset by 48).
std::string coco_encode_counts(const std::vector<uint32_t>& counts);
// The inverse (rleFrString); throws engine::Error on a malformed string.
std::vector<uint32_t> coco_decode_counts(const std::string& s);

// remove_small_regions(mask, area_thresh, mode) with OpenCV's
// connectedComponentsWithStats(working_mask, 8) done here: in "holes" mode
// 8-connected background regions smaller than area_thresh are filled, in
// "islands" mode 8-connected foreground regions smaller than it are removed
// (if all are, the largest is kept; equal sizes: the first in OpenCV's label
// order, i.e. by the 2x2 block, in raster order, where the region starts).
// Edits `mask` [h, w] in place; returns whether any region was small (the
// official "changed" flag, true even where the result happens to be equal).
bool remove_small_regions(std::vector<uint8_t>& mask, int h, int w, double area_thresh, bool holes);

// Python's repr() of a float (json.dump / str() of floats): shortest round-trip
// digits, fixed notation for exponents in [-4, 16), else d.ddde+XX; "nan", "inf".
std::string python_float_repr(double v);

}  // namespace sam::amg
