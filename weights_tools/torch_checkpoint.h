// A PyTorch checkpoint as torch.save writes it (zip format, torch >= 1.6):
//   <prefix>/data.pkl      the pickled state_dict (see pickle_reader.h)
//   <prefix>/data/<key>    one raw little-endian storage per key
//   <prefix>/version, <prefix>/byteorder (newer torch), ...
// The prefix is the archive's single top-level folder ("archive" in newer
// torch, the file's stem in older ones). The legacy pre-1.6 format is refused.
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.h"
#include "pickle_reader.h"
#include "zip_archive.h"

namespace weights_tools {

class TorchCheckpoint {
 public:
  explicit TorchCheckpoint(const std::string& path);

  const std::vector<TensorRecord>& tensors() const { return tensors_; }
  // The tensor's elements as a new contiguous tensor of its own dtype
  // (f32/f16/bf16 only; other dtypes are refused by the caller first).
  engine::Tensor read(const TensorRecord& record) const;

 private:
  std::string path_;
  ZipArchive zip_;
  std::string prefix_;
  std::vector<TensorRecord> tensors_;
};

}  // namespace weights_tools
