// The JSON side of `sam serve` (docs/serve.md, docs/openapi.yaml): request
// bodies parsed and checked (HttpError 400 naming the bad field), results
// encoded. No HTTP here, so each piece can be tested on its own.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "sam/amg/automatic_mask_generator.h"
#include "sam/predictor.h"

namespace sam::serve {

// Server-side bounds on one predict request.
constexpr size_t kMaxPointsPerRequest = 64;
constexpr size_t kMaxBoxesPerRequest = 16;
constexpr int64_t kMaxMaskPixelsPerRequest = int64_t{1} << 28;  // masks x image pixels (one byte each)
constexpr size_t kMaxJsonBody = 1u << 20;                        // bytes of a JSON request body

// How masks are returned: COCO RLE (pycocotools' compressed counts) and/or polygons.
struct MaskFormat {
  bool rle = true;
  bool polygons = false;
};

struct PredictRequest {
  std::vector<PromptSet> sets;  // prompts in image pixels; mask_input filled in by the caller
  std::string mask_input;       // logits id from an earlier answer ("" if none)
  bool multimask = true;
  MaskFormat format;
};

struct EverythingRequest {
  AmgOptions options;
  MaskFormat format;
};

// A JSON object from a request body (an empty body is {}); 400 on anything else.
nlohmann::json parse_json_object(const std::string& body);

// POST /v1/images/{id}/predict:
//   {"points": [[x, y], [x, y, label], ...], "labels": [1, 0, ...],
//    "box": [x0, y0, x1, y1] | "boxes": [[x0, y0, x1, y1], ...],
//    "mask_input": "L12", "multimask": true, "output": "rle" | "polygons" | "both"}
// Points and boxes in pixels of the (EXIF-rotated) image; label 1 foreground, 0 background.
PredictRequest parse_predict_request(const nlohmann::json& body, int width, int height);

// POST /v1/images/{id}/everything: the options of `sam everything` (their
// Python names: points_per_side, pred_iou_thresh, ...) and "output".
EverythingRequest parse_everything_request(const nlohmann::json& body);

// The masks of a prediction, best score first within each prompt set, with
// `logits_ids[n * C + c]` naming each mask's low-res logits.
nlohmann::json encode_prediction(const Prediction& pred, int width, int height,
                                 const std::vector<std::string>& logits_ids, const MaskFormat& format);

// The records of SamAutomaticMaskGenerator.generate(output_mode="coco_rle").
nlohmann::json encode_everything(const AmgResult& result, const MaskFormat& format);

// A .npy file (format 1.0, '<f4', C order) of an f32 tensor, in memory.
std::string npy_bytes(const engine::Tensor& tensor);

// The external outlines of a mask [h, w] (0/1, row-major) as polygons
// [x0, y0, x1, y1, ...] in pixel coordinates (empty if no outline code is built in).
std::vector<std::vector<int>> mask_polygons(const uint8_t* mask, int h, int w);
bool polygons_available();

}  // namespace sam::serve
