// SAM's prompt encoder: segment_anything/modeling/prompt_encoder.py
// (PromptEncoder + PositionEmbeddingRandom), mirrored one to one.
//
// Layouts. Tensors handed out carry the OFFICIAL shapes ([N,T,D] sparse,
// [N,D,G,G] dense, [1,D,G,G] dense PE) but may be strided views over a
// channels-last buffer (see each function); call contiguous() before treating
// the memory as NCHW. The mask decoder reads them through their strides.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "engine/tensor.h"
#include "sam/tracer.h"
#include "sam/io/weights.h"

namespace sam {

// One prompt set, coordinates in the model input frame, i.e. after
// ResizeLongestSide.apply_coords / apply_boxes (as SamPredictor.predict_torch
// takes them). An empty point list means "points = None" in the official API.
struct Prompt {
  std::vector<float> point_coords;          // [P,2] x,y
  std::vector<int> point_labels;            // [P]: 1 fg, 0 bg, -1 padding / not a point
  std::optional<std::array<float, 4>> box;  // x0,y0,x1,y1
  // Low-res logits [1,1,4G,4G] (also accepted: [1,4G,4G] or [4G,4G]), e.g.
  // low_res_masks[best] of a previous prediction (256x256 for the real models).
  std::optional<engine::Tensor> mask_input;
};

class PromptEncoder {
 public:
  explicit PromptEncoder(std::shared_ptr<const Weights> w);

  const SamConfig& config() const { return weights_->config(); }

  // get_dense_pe(): PositionEmbeddingRandom.forward((G, G)).unsqueeze(0),
  // [1,D,G,G], contiguous NCHW. Computed once in the constructor (it does not
  // depend on the prompt). Traced as "prompt_encoder.pe_layer" ([D,G,G]).
  engine::Tensor dense_pe(Tracer* t = nullptr) const;
  // The same values in token layout [G*G, D] (row = y*G + x), what the mask
  // decoder consumes.
  const engine::Tensor& dense_pe_tokens() const { return pe_tokens_; }

  // PromptEncoder.forward for N prompt sets batched as predict_torch batches
  // them: every set must have the same number of points, and either all or
  // none have a box, and all or none a mask input (throws engine::Error
  // otherwise). As in the official code a padding point (label -1) is appended
  // when points are given without a box ("pad = boxes is None").
  //   sparse: [N, T, D], contiguous; T = P + (box ? 2 : P > 0 ? 1 : 0).
  //   dense:  [N, D, G, G]. With mask inputs: mask_downscaling's output as a
  //           permuted view of a channels-last [N, G, G, D] buffer. Without:
  //           no_mask_embed broadcast like the official expand(), i.e. a
  //           stride-0 view (strides {0, 1, 0, 0}) that keeps the weights alive.
  // Both outputs are newly allocated (or views) on every call; the inputs are
  // not modified. Traced: "prompt_encoder.mask_downscaling.K" (NCHW views) and
  // the output tuple as "prompt_encoder.0" / "prompt_encoder.1".
  // With `mask_features`, mask inputs and no Tracer, dense is left undefined
  // and *mask_features receives mask_downscaling up to .5 (the GELU), [N, G*G,
  // mask_in_chans] channels-last, of which dense is the 1x1 conv .6: the mask
  // decoder folds that conv into its own products (MaskDecoder::forward's
  // mask_features). Otherwise *mask_features is left undefined.
  void forward(const std::vector<Prompt>& prompts, engine::Tensor& sparse, engine::Tensor& dense,
               Tracer* t = nullptr, engine::Tensor* mask_features = nullptr) const;

 private:
  // PositionEmbeddingRandom._pe_encoding of one point normalised to [0,1]^2:
  // out[0:D/2] = sin(2*pi*((2c-1) @ G)), out[D/2:D] = cos(...).
  void pe_encoding(float x01, float y01, float* out) const;
  // PromptEncoder._embed_masks (mask_downscaling) for all prompts, channels-last;
  // with features_only, up to .5 ([N, G*G, mask_in_chans]).
  engine::Tensor embed_masks(const std::vector<Prompt>& prompts, Tracer* t, bool features_only) const;

  std::shared_ptr<const Weights> weights_;
  int dim_ = 0;                      // D = prompt_embed_dim
  int grid_ = 0;                     // G = image embedding side
  int input_size_ = 0;               // input_image_size (square: img_size x img_size)
  const float* gaussian_ = nullptr;  // positional_encoding_gaussian_matrix [2, D/2]
  engine::Tensor pe_nchw_;           // [1, D, G, G]
  engine::Tensor pe_tokens_;         // [G*G, D]
};

}  // namespace sam
