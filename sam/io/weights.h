// Named f32 weight tensors of a loaded model, keyed by the official
// state_dict names. f32 tensors are zero-copy views into the mmapped file;
// f16/bf16 ones are widened to f32 once, at load (the plain-kernel forward pass
// computes in f32).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "sam/modeling/config.h"
#include "engine/tensor.h"
#include "engine/io/mapped_file.h"
#include "sam/io/model_file.h"

namespace sam {

class Weights {
 public:
  // Opens and validates a converted model file (see ModelFile::open).
  static std::shared_ptr<const Weights> load(const std::string& path);
  explicit Weights(ModelFile file);

  const SamConfig& config() const { return *config_; }
  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The tensor for a state_dict key; throws engine::Error naming the key if absent.
  const engine::Tensor& get(const std::string& name) const;
  // Tells the OS that the mapped bytes of `name` are not needed for now (the
  // caller keeps its own copy, e.g. packed GEMM panels): they leave RSS and are
  // read back from the file only if the tensor is touched again.
  void release(const std::string& name) const;
  // get(prefix + "." + name)
  const engine::Tensor& get(const std::string& prefix, const std::string& name) const {
    return get(prefix + "." + name);
  }

 private:
  std::string path_;
  const SamConfig* config_ = nullptr;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, engine::Tensor> tensors_;
  std::shared_ptr<const engine::MappedFile> mapping_;
};

}  // namespace sam
