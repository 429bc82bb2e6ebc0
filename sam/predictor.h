// Mirrors segment_anything/predictor.py: SamPredictor. set_image() runs the
// image encoder once; predict() takes prompts in original image coordinates
// and may be called any number of times on the same embedding.
//
// A Predictor is a per-image session over a shared, immutable SamModel: it owns
// only its decoder arena, the current image's embedding and sizes; the image
// encoder's activation memory is borrowed from the model for each encode. One Predictor per thread; any number of them on
// one model (the weights and packed panels exist once).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/arena.h"
#include "sam/io/image.h"
#include "sam/modeling/sam_model.h"
#include "sam/tracer.h"

namespace sam {

// One prompt set in ORIGINAL image pixel coordinates (SamPredictor.predict).
struct PromptSet {
  std::vector<std::array<float, 2>> points;  // x, y
  std::vector<int> labels;                   // 1 foreground, 0 background
  std::optional<std::array<float, 4>> box;   // x0, y0, x1, y1
  std::optional<engine::Tensor> mask_input;  // [1, 1, 4G, 4G] low-res logits of an earlier prediction
};

struct Prediction {
  engine::Tensor masks;            // [N, C, H, W] u8 0/1 (or f32 logits with return_logits)
  engine::Tensor iou_predictions;  // [N, C] f32
  engine::Tensor low_res_logits;   // [N, C, 4G, 4G] f32
};

class Predictor {
 public:
  explicit Predictor(std::shared_ptr<const SamModel> model);

  const SamConfig& config() const { return model_->config(); }
  const SamModel& model() const { return *model_; }
  const Weights& weights() const { return model_->weights(); }
  // Activation memory this session holds between calls (its decoder arena; the
  // encoder's workspace is borrowed from the model for each set_image()).
  size_t workspace_bytes() const;

  // SamPredictor.set_image: RGB uint8 -> preprocess -> image encoder.
  void set_image(const Image& image, Tracer* tracer = nullptr);
  // The preprocessed model input [1, 3, S, S] of the last set_image(), kept
  // only with set_keep_input(true) (else it is freed after the patch embedding).
  const engine::Tensor& input_tensor() const { return input_; }
  void set_keep_input(bool keep) { keep_input_ = keep; }
  // With true, set_image() returns the encoder's activation pages to the OS
  // after each encode (lower peak memory for one-shot runs; the next encode
  // faults them in again, ~1% slower).
  void set_release_scratch(bool release) { release_scratch_ = release; }
  // Uses a cached embedding [1, D, G, G] for an image of the given size instead of encoding.
  void set_embedding(const engine::Tensor& embedding, int original_h, int original_w);
  const engine::Tensor& embedding() const { return embedding_; }
  bool has_image() const { return embedding_.numel() > 0; }
  int original_h() const { return original_h_; }
  int original_w() const { return original_w_; }
  int input_h() const { return input_h_; }
  int input_w() const { return input_w_; }

  // SamPredictor.predict / predict_torch: N prompt sets (all with the same number
  // of points, all or none with a box, all or none with a mask input), decoded
  // in one batch.
  Prediction predict(const std::vector<PromptSet>& sets, bool multimask_output, bool return_logits = false,
                     Tracer* tracer = nullptr);
  // predict() without the full-size masks (Prediction::masks left undefined):
  // for callers that upscale into their own buffer with binary_masks_into()
  // (sam serve reuses one per decoder session).
  Prediction predict_low_res(const std::vector<PromptSet>& sets, bool multimask_output, Tracer* tracer = nullptr);
  // predict()'s binary masks of `low_res_logits` [N, C, 4G, 4G] for the current
  // image (Sam.postprocess_masks > mask_threshold) into `out`: contiguous u8 [N, C, H, W].
  void binary_masks_into(const engine::Tensor& low_res_logits, engine::Tensor& out) const;

  // ResizeLongestSide.apply_coords: original -> model input frame.
  std::array<float, 2> to_input_frame(float x, float y) const;

 private:
  std::shared_ptr<const SamModel> model_;
  std::unique_ptr<engine::Arena> decoder_arena_;
  engine::Tensor input_;
  engine::Tensor embedding_;
  // Prompt-independent decoder inputs of the current image (MaskDecoder::prepare).
  std::optional<MaskDecoder::ImageInputs> image_inputs_;
  int original_h_ = 0, original_w_ = 0, input_h_ = 0, input_w_ = 0;
  bool keep_input_ = false, release_scratch_ = false;
};

}  // namespace sam
