#include "sam/modeling/sam_model.h"

#include "engine/error.h"

namespace sam {

std::shared_ptr<const SamModel> SamModel::load(const std::string& path) {
  return std::make_shared<const SamModel>(Weights::load(path));
}

SamModel::SamModel(std::shared_ptr<const Weights> weights)
    : weights_((engine::check(weights != nullptr, "SamModel: no weights"), std::move(weights))),
      image_encoder_(weights_),
      prompt_encoder_(weights_),
      mask_decoder_(weights_) {}

}  // namespace sam
