// Read-only view of a zip archive (the container of torch.save's format),
// on top of libzip. Entry sizes are checked against the archive size before
// any buffer is sized from them; CRCs are verified on full reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct zip;

namespace weights_tools {

class ZipArchive {
 public:
  explicit ZipArchive(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const;
  // Uncompressed size of an entry (throws if absent).
  uint64_t size(const std::string& name) const;
  // Whole entry; refused above `max_bytes`.
  std::vector<std::byte> read(const std::string& name, size_t max_bytes) const;
  // `bytes` bytes starting at `offset` into `dst`. When the range is the whole
  // entry the CRC is verified.
  void read_range(const std::string& name, uint64_t offset, void* dst, size_t bytes) const;

 private:
  int64_t index_of(const std::string& name) const;
  std::string path_;
  zip* archive_ = nullptr;
  std::vector<std::string> names_;
  uint64_t archive_size_ = 0;
};

}  // namespace weights_tools
