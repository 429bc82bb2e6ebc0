// A converted model file (sam-convert's output): the safetensors mapping, the
// variant's config, and the checks that it really is a complete SAM of that
// variant. Weights stay in the mapping (zero-copy) for the model to use.
#pragma once

#include <map>
#include <string>

#include "sam/modeling/config.h"
#include "engine/io/safetensors.h"

namespace sam {

struct ModelFile {
  engine::SafetensorsFile file;
  const SamConfig* config = nullptr;

  // Throws engine::Error (one line, naming the file) when the file is not a
  // valid safetensors file, lacks sam-engine metadata, or does not hold exactly
  // the variant's tensors with their shapes in a floating dtype.
  static ModelFile open(const std::string& path);

  int64_t parameter_count() const;
  // bytes per dtype name, e.g. {"f32": 1234, "bf16": 5678}
  std::map<std::string, uint64_t> bytes_by_dtype() const;
};

}  // namespace sam
