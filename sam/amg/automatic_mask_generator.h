// Automatic mask generation ("segment everything"): a one-to-one mirror of
// segment_anything/automatic_mask_generator.py: SamAutomaticMaskGenerator
// (generate, _generate_masks, _process_crop, _process_batch,
// postprocess_small_regions). Same defaults, same filters in the same order,
// same output order.
//
// Per crop: one image encode (the crop is resized and encoded as set_image
// does), the crop's point grid through the prompt encoder and mask decoder in
// batches, and per mask the fused upscale / stability / threshold / box / RLE
// pass of amg_upscale.h. Between stages masks are held only as RLEs.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "sam/amg/amg_utils.h"
#include "sam/io/image.h"
#include "sam/modeling/sam_model.h"

namespace sam {

// The constructor arguments of SamAutomaticMaskGenerator, with its defaults.
struct AmgOptions {
  int points_per_side = 32;  // 0: use point_grids instead ("points_per_side=None")
  int points_per_batch = 64;
  double pred_iou_thresh = 0.88;
  double stability_score_thresh = 0.95;
  double stability_score_offset = 1.0;
  double box_nms_thresh = 0.7;
  int crop_n_layers = 0;
  double crop_nms_thresh = 0.7;
  double crop_overlap_ratio = 512.0 / 1500.0;
  int crop_n_points_downscale_factor = 1;
  std::vector<amg::PointGrid> point_grids;  // one per crop layer, normalised to [0, 1]
  int min_mask_region_area = 0;
};

// One record of SamAutomaticMaskGenerator.generate().
struct AmgMask {
  amg::Rle rle;                 // uncompressed RLE over the whole image ("rles")
  amg::Box box{};               // XYXY, inclusive max, image frame ("boxes")
  float predicted_iou = 0.f;    // "iou_preds"
  std::array<double, 2> point{};  // the prompt point, image frame ("points")
  float stability_score = 0.f;  // "stability_score"
  amg::Box crop_box{};          // XYXY ("crop_boxes")
  int64_t area() const { return amg::area_from_rle(rle); }
  // box_xyxy_to_xywh as the record's "bbox" / "crop_box" (w = x1 - x0).
  std::array<int, 4> bbox_xywh() const { return {box[0], box[1], box[2] - box[0], box[3] - box[1]}; }
  std::array<int, 4> crop_box_xywh() const {
    return {crop_box[0], crop_box[1], crop_box[2] - crop_box[0], crop_box[3] - crop_box[1]};
  }
};

struct AmgResult {
  std::vector<AmgMask> masks;
  int height = 0, width = 0;
  // The official MaskData keeps "boxes" as int64 unless a batch ended up with
  // no mask before batched_mask_to_box (which then returns float zeros and
  // torch.cat promotes everything to float32); likewise "crop_boxes" when a
  // crop kept no mask while there are several crops. The records then carry
  // floats (12.0 instead of 12); writers use these flags to print the same.
  bool boxes_are_float = false;
  bool crop_boxes_are_float = false;
  // Where the time went (milliseconds) and how many masks each stage saw.
  struct Stats {
    double encoder_ms = 0, decoder_ms = 0, masks_ms = 0, nms_ms = 0, small_regions_ms = 0;
    int64_t crops = 0, prompts = 0, decoded_masks = 0, upscaled_masks = 0, after_filters = 0;
  } stats;
};

class AutomaticMaskGenerator {
 public:
  // Throws engine::Error on inconsistent options (the official asserts).
  // A session over the shared model (as Predictor): it owns only activation memory.
  AutomaticMaskGenerator(std::shared_ptr<const SamModel> model, AmgOptions options);
  ~AutomaticMaskGenerator();
  AutomaticMaskGenerator(const AutomaticMaskGenerator&) = delete;
  AutomaticMaskGenerator& operator=(const AutomaticMaskGenerator&) = delete;

  const AmgOptions& options() const { return options_; }

  // At most this many prompt points per image, over all crops (64 times the
  // default 32x32 grid): bounds the decoder's work and the masks held at once.
  static constexpr int64_t kMaxPrompts = 65536;

  // The prompt points one image takes: layer i has 4^i crops of its grid, which
  // has int(points_per_side / downscale^i)^2 points (or point_grids[i].size()).
  // 0 if a layer's grid would be empty; saturates at kMaxPrompts + 1.
  static int64_t prompts_per_image(const AmgOptions& options);

  // Throws engine::Error (one line, no path) if generate() cannot run on an
  // image of this size: an image or crop so elongated that its short side
  // shrinks to 0 pixels at the model input, or crop layers that leave empty
  // crops. Cheap: call it before any work.
  void check_image(int height, int width) const;

  // SamAutomaticMaskGenerator.generate (the records before output encoding;
  // see AmgMask). `progress`, if set, is called after each decoder batch with
  // (prompts done, prompts total) over all crops.
  AmgResult generate(const Image& image, const std::function<void(int64_t, int64_t)>& progress = {});

  // The largest number of prompt sets per decoder call; points_per_batch is
  // split into calls of at most this many (the output does not depend on it:
  // every mask is filtered on its own and batches are concatenated in order).
  // The decoder's time per prompt is the same from 1 to 64 prompts per call on
  // the CPU; its workspace grows by ~13.6 MB per prompt (vit_b), hence 8.
  static constexpr int kMaxDecoderBatch = 8;

 private:
  struct Impl;
  AmgOptions options_;
  std::vector<amg::PointGrid> grids_;
  std::unique_ptr<Impl> impl_;
};

// SamAutomaticMaskGenerator.postprocess_small_regions on records (in place):
// each mask's small holes, then small islands removed (remove_small_regions),
// boxes recomputed, batched_nms with score 1 for unchanged and 0 for changed
// masks, RLEs of the kept changed masks recomputed.
void postprocess_small_regions(std::vector<AmgMask>& masks, int min_area, double nms_thresh);

}  // namespace sam
