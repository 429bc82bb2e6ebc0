#include "sam/io/weights.h"

#include "engine/error.h"

namespace sam {

std::shared_ptr<const Weights> Weights::load(const std::string& path) {
  return std::make_shared<const Weights>(ModelFile::open(path));
}

Weights::Weights(ModelFile file)
    : path_(file.file.path()), config_(file.config), metadata_(file.file.metadata()), mapping_(file.file.mapping()) {
  for (const engine::SafetensorsEntry& e : file.file.entries()) {
    engine::Tensor t = file.file.tensor(e);
    tensors_.emplace(e.name, t.dtype() == engine::DType::F32 ? t : t.to(engine::DType::F32));
  }
}

void Weights::release(const std::string& name) const {
  const engine::Tensor& t = get(name);
  mapping_->release(t.raw_data(), t.nbytes());  // no-op for tensors not in the mapping
}

const engine::Tensor& Weights::get(const std::string& name) const {
  auto it = tensors_.find(name);
  engine::check(it != tensors_.end(), "{}: model has no tensor '{}'", path_, name);
  return it->second;
}

}  // namespace sam
