// The model: segment_anything/modeling/sam.py (Sam) as one immutable object.
//
// A SamModel holds the weights (mapped once from the converted file) and every
// derived form of them (the GEMM-packed panels, the folded upscaling matrices,
// the dense positional encoding) exactly once. It is immutable after
// construction: any number of sessions (Predictor, AutomaticMaskGenerator) on
// any number of threads share one model; each session owns only its decoder
// arena, its image embedding and the image's sizes, and borrows image-encoder
// activation memory from the model's pool for the length of one encode.
//
//   auto model = sam::SamModel::load("sam_vit_b.safetensors");
//   sam::Predictor a(model), b(model);   // two sessions, one copy of the weights
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

  // Image-encoder activation memory (~100 MB for vit_b) is needed only while a
  // session encodes, so sessions borrow it from the model for one encode and
  // give it back: N sessions that encode one after another share one
  // workspace; sessions encoding at the same time each get their own (the pool
  // then keeps them for later encodes). Thread-safe.
  class WorkspaceLease {
   public:
    WorkspaceLease(WorkspaceLease&& o) noexcept : model_(o.model_), ws_(std::move(o.ws_)) { o.model_ = nullptr; }
    WorkspaceLease(const WorkspaceLease&) = delete;
    WorkspaceLease& operator=(const WorkspaceLease&) = delete;
    WorkspaceLease& operator=(WorkspaceLease&&) = delete;
    ~WorkspaceLease();
    EncoderWorkspace& get() { return ws_; }

   private:
    friend class SamModel;
    WorkspaceLease(const SamModel* model, EncoderWorkspace ws) : model_(model), ws_(std::move(ws)) {}
    const SamModel* model_;
    EncoderWorkspace ws_;
  };
  WorkspaceLease lease_encoder_workspace() const;
  // Activation memory the pool holds now (reserved bytes of the idle workspaces).
  size_t pooled_workspace_bytes() const;

 private:
  std::shared_ptr<const Weights> weights_;
  std::unique_ptr<const ImageEncoder> image_encoder_;  // the variant's family (variants.h)
  PromptEncoder prompt_encoder_;
  MaskDecoder mask_decoder_;
  // The workspace pool: not part of the model's value (the weights), so
  // mutable; guarded by its mutex.
  mutable std::mutex pool_mutex_;
  mutable std::vector<EncoderWorkspace> idle_workspaces_;
};

}  // namespace sam
