// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// then the data, offsets relative to its start.
//
// The reader maps the file once and hands out zero-copy tensor views. Every
// header field is validated before use: header length bounded and inside the
// file, JSON well-formed with no duplicate names, known dtypes, non-negative
// extents, size == numel x dtype size, offsets inside the data, no overlaps and
// no holes (as the reference implementation requires), metadata strings only.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/atomic_file.h"
#include "engine/io/mapped_file.h"
#include "engine/tensor.h"

namespace engine {

// Headers above this size are refused (the reference implementation allows 100 MB;
// vit_h's header is about 70 KB). The parsed JSON takes up to ~20x its text, so
// this also bounds the parser's memory (~300 MB).
constexpr size_t kMaxSafetensorsHeader = 16u << 20;

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  size_t begin = 0;  // byte offsets relative to the data section
  size_t end = 0;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  // Entries in file order (ascending offsets).
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // Zero-copy view into the mapping; keeps the mapping alive. Throws if absent.
  Tensor tensor(const std::string& name) const;
  Tensor tensor(const SafetensorsEntry& entry) const;
  size_t data_bytes() const { return data_size_; }
  // The mapping itself (e.g. to release pages of tensors copied elsewhere).
  std::shared_ptr<const MappedFile> mapping() const { return file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  const std::byte* data_ = nullptr;
  size_t data_size_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Streaming writer. All entries are declared up front (so the header can be
// written first), then their bytes are written in declaration order, each in
// one or more pieces. The file appears under its final name only after
// finish(); on error nothing is left behind. Data starts 64-byte aligned.
struct SafetensorsSpec {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
};

class SafetensorsWriter {
 public:
  SafetensorsWriter(const std::string& path, std::vector<SafetensorsSpec> specs,
                    const std::map<std::string, std::string>& metadata);
  // Appends bytes of the current tensor; moves to the next one when it is full.
  void write(const void* data, size_t bytes);
  void finish();
  size_t total_bytes() const { return file_.bytes_written(); }

 private:
  AtomicFile file_;
  std::vector<SafetensorsSpec> specs_;
  std::vector<size_t> sizes_;
  size_t current_ = 0;
  size_t written_in_current_ = 0;
};

// Convenience: writes whole tensors (contiguous copies are made as needed).
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace engine
