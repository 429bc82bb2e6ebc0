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

}  // namespace sam
