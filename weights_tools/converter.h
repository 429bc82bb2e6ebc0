// sam-convert's work: read a SAM state_dict (PyTorch .pth or safetensors),
// validate it against the official layout of the detected variant, and stream
// it into a safetensors file, optionally with the large matrices in f16/bf16.
#pragma once

#include <cstdint>
#include <string>

#include <functional>
#include <map>
#include <vector>

#include "engine/dtype.h"
#include "engine/io/safetensors.h"

namespace weights_tools {

inline constexpr const char* kConverterVersion = "0.1.0";

struct ConvertOptions {
  std::string input;
  std::string output;
  engine::DType dtype = engine::DType::F32;  // dtype of the large matrices
  bool show_progress = true;
  bool overwrite = false;  // replace an existing OUT (only a safetensors file)
};

// The output contract (README "Outputs"): an existing non-empty OUT is replaced
// only with --overwrite, and only if it is a safetensors file.
void check_output(const std::string& output, bool overwrite);

struct ConvertSummary {
  std::string variant;
  std::string source_format;  // "pytorch", "safetensors" or "hf-safetensors" (transformers SamModel)
  std::string source_sha256;
  size_t tensors = 0;
  size_t tensors_16bit = 0;
  int64_t parameters = 0;
  uint64_t input_bytes = 0;
  uint64_t output_bytes = 0;
  double seconds = 0;
};

ConvertSummary convert_checkpoint(const ConvertOptions& options);

// Streams tensors into a safetensors file at `path`, one in memory at a time:
// load(i) returns tensor i (any floating dtype), which is converted to
// specs[i].dtype and written. Adds the counts, parameters and bytes to
// `summary`. The file appears only when complete.
void write_tensors(const std::string& path, const std::vector<engine::SafetensorsSpec>& specs,
                   const std::map<std::string, std::string>& metadata,
                   const std::function<engine::Tensor(size_t)>& load, const char* progress_label,
                   bool show_progress, ConvertSummary& summary);

}  // namespace weights_tools
