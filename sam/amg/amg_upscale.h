// The per-mask work of SamAutomaticMaskGenerator._process_batch, fused and
// done without ever holding a full-size logit plane:
//
//   low-res logits [L, L]
//     -> Sam.postprocess_masks to the crop [crop_h, crop_w]   (torch's bilinear,
//        align_corners=False: L -> S, crop to [input_h, input_w], -> crop size)
//     -> calculate_stability_score's two counts (logits > hi, logits > lo)
//     -> masks > mask_threshold, batched_mask_to_box (crop frame)
//     -> uncrop_masks + mask_to_rle_pytorch (RLE over the whole image).
//
// Every logit that is evaluated is computed with the same operations in the
// same order as torch's upsample_bilinear2d kernel (and sam/postprocess.cpp);
// per stage
//   out = wy0 * (wx0 * p[y0][x0] + wx1 * p[y0][x1]) + wy1 * (wx0 * p[y1][x0] + wx1 * p[y1][x1]),
// so the counts, boxes and masks are those of the official full-size tensors.
//
// How. Stage 1 (L -> the resized crop, at most S x S) is computed in full,
// transposed (stage1_t[c][r]). The output is produced column by column (the RLE
// is column-major). An output pixel is a convex combination (two more bilinear
// steps) of the four stage-1 values around it; where those four lie in one
// "safe band" (the same side of all three thresholds, each by a margin far
// above float rounding) the pixel's comparisons are known without evaluating
// it, so long runs of such pixels are emitted at once and only pixels near a
// threshold crossing are evaluated. The result is exact, not an approximation.
#pragma once

#include <cstdint>
#include <vector>

#include "sam/amg/amg_utils.h"

namespace sam::amg {

class MaskUpscaler {
 public:
  // One crop's geometry: low-res side L, model input side S, the resized crop
  // [input_h, input_w] inside the S x S input, the crop box in the image
  // [orig_h, orig_w].
  struct Geometry {
    int low_res = 0, img_size = 0, input_h = 0, input_w = 0;
    Box crop_box{};
    int orig_h = 0, orig_w = 0;
  };
  // Thresholds as f32 (torch compares the f32 logits with the Python floats cast
  // to f32): mask = logits > mask_threshold; the stability-score counts are
  // logits > stability_hi and logits > stability_lo.
  MaskUpscaler(const Geometry& g, float mask_threshold, float stability_hi, float stability_lo);

  struct Result {
    int64_t above_hi = 0;  // stability-score intersections
    int64_t above_lo = 0;  // stability-score unions
    Box box{};             // batched_mask_to_box of the thresholded crop mask (crop frame)
    Rle rle;               // the uncropped mask over the whole image
    int64_t evaluated = 0;  // output pixels computed (the rest were known from their band)
  };
  // Per-thread working memory (reused across calls).
  struct Span {  // output rows [ys, ye) of a column, all in band k
    int ys, ye;
    uint8_t k;
  };
  struct Scratch {
    std::vector<float> low_t, h1_t, s1_t, h2, col;
    std::vector<uint8_t> band;
    std::vector<Span> spans;
  };
  // low_res: one [L, L] plane, contiguous.
  Result run(const float* low_res, Scratch& s) const;
  // The same without skipping (every output pixel evaluated); for tests.
  Result run_dense(const float* low_res, Scratch& s) const;

 private:
  struct Taps {  // one output index: two source indices and their weights
    std::vector<int> i0, i1;
    std::vector<float> w0, w1;
  };
  static Taps taps(int in_size, int out_size, int count);
  void stage1(const float* low, Scratch& s) const;
  Result run_impl(const float* low, Scratch& s, bool skip) const;
  bool worth_skipping(const float* low) const;
  void classify_bands(Scratch& s) const;
  int find_safe_spans(size_t xa, size_t xb, Scratch& s) const;

  Geometry g_;
  int crop_h_ = 0, crop_w_ = 0, low_rows_ = 0;
  float thr_, hi_, lo_;
  // The thresholds in ascending order and their safety margins.
  float t_[3], m_[3];
  // Per band code 0..3 (number of thresholds below): above hi / lo / mask threshold.
  bool band_hi_[4], band_lo_[4], band_mask_[4];
  Taps s1y_, s1x_, s2y_, s2x_;
  // Stage 2, vertical: for a stage-1 row r, the first output row whose taps
  // are both >= r, and one past the last output row whose taps are both <= r.
  std::vector<int> y_from_, y_to_;
};

}  // namespace sam::amg
