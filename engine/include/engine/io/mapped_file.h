// Read-only memory map of a whole file. Errors name the path and the reason
// (missing, a directory, unreadable).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace engine {

class MappedFile {
 public:
  // Maps `path`; an empty file gives size() == 0 and data() == nullptr.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops the resident pages wholly inside [p, p + bytes) (madvise DONTNEED):
  // they count against RSS no more and are read back from the file if touched.
  void release(const void* p, size_t bytes) const;

 private:
  MappedFile() = default;
  std::string path_;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// Throws engine::Error unless `path` names a readable regular file
// ("no such file", "is a directory", ...). Returns its size.
size_t check_regular_file(const std::string& path);

}  // namespace engine
