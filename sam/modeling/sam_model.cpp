#include "sam/modeling/sam_model.h"

#include "engine/error.h"
#include "sam/modeling/variants.h"

namespace sam {
namespace {

const ImageEncoderFamily& encoder_family(const Weights& w) {
  const SamVariant* v = find_variant(w.config().name);
  engine::check(v != nullptr, "model of unknown variant '{}' (known: {})", w.config().name, variant_names());
  return *v->encoder;
}

}  // namespace

std::shared_ptr<const SamModel> SamModel::load(const std::string& path) {
  return std::make_shared<const SamModel>(Weights::load(path));
}

SamModel::SamModel(std::shared_ptr<const Weights> weights)
    : weights_((engine::check(weights != nullptr, "SamModel: no weights"), std::move(weights))),
      image_encoder_(encoder_family(*weights_).create(weights_)),
      prompt_encoder_(weights_),
      mask_decoder_(weights_) {}

SamModel::WorkspaceLease::~WorkspaceLease() {
  if (!model_) return;
  std::lock_guard<std::mutex> lock(model_->pool_mutex_);
  model_->idle_workspaces_.push_back(std::move(ws_));
}

SamModel::WorkspaceLease SamModel::lease_encoder_workspace() const {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!idle_workspaces_.empty()) {
      EncoderWorkspace ws = std::move(idle_workspaces_.back());
      idle_workspaces_.pop_back();
      return WorkspaceLease(this, std::move(ws));
    }
  }
  return WorkspaceLease(this, image_encoder_->make_workspace());  // reserved outside the lock
}

size_t SamModel::pooled_workspace_bytes() const {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  size_t bytes = 0;
  for (const EncoderWorkspace& ws : idle_workspaces_) bytes += ws.bytes();
  return bytes;
}

}  // namespace sam
