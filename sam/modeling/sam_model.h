// The model: segment_anything/modeling/sam.py (Sam) as one immutable object.
//
// A SamModel holds the weights (mapped once from the converted file) and every
// derived form of them (the GEMM-packed panels, the folded upscaling matrices,
// the dense positional encoding) exactly once. It is immutable after
// construction: any number of sessions (Predictor, AutomaticMaskGenerator) on
// any number of threads share one model; each session owns only its activation
// memory, its image embedding and the image's sizes.
//
//   auto model = sam::SamModel::load("sam_vit_b.safetensors");
//   sam::Predictor a(model), b(model);   // two sessions, one copy of the weights
#pragma once

#include <memory>
#include <string>

#include "sam/io/weights.h"
#include "sam/modeling/config.h"
#include "sam/modeling/encoder_interface.h"
#include "sam/modeling/mask_decoder.h"
#include "sam/modeling/prompt_encoder.h"

namespace sam {

class SamModel {
 public:
  // Loads a converted model (sam-convert's safetensors, any dtype), checks
  // every key and shape against its variant, and builds the modules (the image
  // encoder through the variant registry's factory). Throws engine::Error
  // naming the file on any problem.
  static std::shared_ptr<const SamModel> load(const std::string& path);
  explicit SamModel(std::shared_ptr<const Weights> weights);

  SamModel(const SamModel&) = delete;
  SamModel& operator=(const SamModel&) = delete;

  const SamConfig& config() const { return weights_->config(); }
  const Weights& weights() const { return *weights_; }
  const std::shared_ptr<const Weights>& weights_ptr() const { return weights_; }

  // Sam.image_encoder, Sam.prompt_encoder, Sam.mask_decoder.
  const ImageEncoder& image_encoder() const { return *image_encoder_; }
  const PromptEncoder& prompt_encoder() const { return prompt_encoder_; }
  const MaskDecoder& mask_decoder() const { return mask_decoder_; }

 private:
  std::shared_ptr<const Weights> weights_;
  std::unique_ptr<const ImageEncoder> image_encoder_;  // the variant's family (variants.h)
  PromptEncoder prompt_encoder_;
  MaskDecoder mask_decoder_;
};

}  // namespace sam
