#include "sam/io/weights.h"

#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"

namespace sam {
namespace {

// A model whose weights hold NaN or infinity gives NaN scores ("score": null)
// and empty masks without any error: refused at load instead. One SIMD pass over
// every f32 tensor (f16 / bf16 ones: their exponent bits, as stored); its cost:
// bench/RESULTS.md.
void check_finite(const std::string& path, const std::string& name, const engine::Tensor& t) {
  const int64_t i = engine::ops::find_nonfinite(t);
  if (i < 0) return;
  float v = 0.f;
  engine::convert_floats(static_cast<const char*>(t.raw_data()) + i * engine::dtype_size(t.dtype()), t.dtype(), &v,
                         engine::DType::F32, 1);
  engine::fail("{}: tensor '{}' holds {} at index {} of its {} values; a model's weights must be finite (a damaged "
               "or diverged checkpoint)",
               path, name, std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf", i, t.numel());
}

// Tensors up to this size are copied out of the mapping at load.
constexpr size_t kOwnedTensorBytes = 64 * 1024;

}  // namespace

std::shared_ptr<const Weights> Weights::load(const std::string& path) {
  return std::make_shared<const Weights>(ModelFile::open(path));
}

Weights::Weights(ModelFile file)
    : path_(file.file.path()), config_(file.config), metadata_(file.file.metadata()), mapping_(file.file.mapping()) {
  for (const engine::SafetensorsEntry& e : file.file.entries()) {
    engine::Tensor t = file.file.tensor(e);
    check_finite(path_, e.name, t);
    // Small tensors (biases, norms, rel-pos tables) are read on every forward pass, and they sit beside large
    // weights that are packed and then released from the mapping (release()). A read fault maps the whole
    // page-cache folio around it (up to 2 MiB on current kernels), which brought ~90 MB of released vit_b
    // weights back into RSS during the first encode. Their copies cost < 1% of the model.
    if (t.nbytes() <= kOwnedTensorBytes) t = t.clone();
    tensors_.emplace(e.name, std::move(t));
  }
}

void Weights::release(const std::string& name) const {
  const engine::Tensor& t = stored(name);
  mapping_->release(t.raw_data(), t.nbytes());  // no-op for tensors not in the mapping
  std::lock_guard<std::mutex> lock(widen_mutex_);
  widened_.erase(name);
}

const engine::Tensor& Weights::stored(const std::string& name) const {
  auto it = tensors_.find(name);
  engine::check(it != tensors_.end(), "{}: model has no tensor '{}'", path_, name);
  return it->second;
}

const engine::Tensor& Weights::get(const std::string& name) const {
  const engine::Tensor& t = stored(name);
  if (t.dtype() == engine::DType::F32) return t;
  std::lock_guard<std::mutex> lock(widen_mutex_);
  auto it = widened_.find(name);
  if (it == widened_.end()) it = widened_.emplace(name, t.to(engine::DType::F32)).first;
  return it->second;
}

}  // namespace sam
