// Named weight tensors of a loaded model, keyed by the official state_dict
// names. Tensors are zero-copy views into the mmapped file, except those up to
// 64 KiB (biases, norms, rel-pos tables), copied at load so that their reads
// never fault back pages released after packing; get() widens f16 / bf16 ones
// to f32 on first use, once.
#pragma once

#include <map>
#include <memory>
#include <mutex>
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
  // The tensor for a state_dict key as f32; throws engine::Error naming the key
  // if absent. f32 tensors are views of the file; f16 / bf16 ones are widened
  // on first use, once (thread-safe; the reference stays valid).
  const engine::Tensor& get(const std::string& name) const;
  // The tensor as stored (f32, f16 or bf16 view of the file): for ops that use
  // a stored dtype directly (bf16 GEMM panels pack bf16 weights as they are).
  const engine::Tensor& stored(const std::string& name) const;
  // Tells the OS that the mapped bytes of `name` are not needed for now (the
  // caller keeps its own copy, e.g. packed GEMM panels): they leave RSS and are
  // read back from the file only if the tensor is touched again. An f32 copy
  // widened by get() is dropped too (freed once its users let go of it).
  void release(const std::string& name) const;
  // get(prefix + "." + name)
  const engine::Tensor& get(const std::string& prefix, const std::string& name) const {
    return get(prefix + "." + name);
  }

 private:
  std::string path_;
  const SamConfig* config_ = nullptr;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, engine::Tensor> tensors_;         // as stored
  mutable std::map<std::string, engine::Tensor> widened_;  // f32 copies of f16 / bf16 ones, made by get()
  mutable std::mutex widen_mutex_;
  std::shared_ptr<const engine::MappedFile> mapping_;
};

}  // namespace sam
