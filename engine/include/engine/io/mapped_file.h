// Read-only memory map of a whole file. Errors name the path and the reason
// (missing, a directory, unreadable).
//
// A mapped file that is truncated while in use would raise SIGBUS when a page
// past its new end is read: a process-wide SIGBUS handler (installed at the
// first open) maps zero pages there instead and records the fact, so the run
// goes on with zeros and check_unchanged() fails. Results are committed only
// after check_all_unchanged() (engine::AtomicFile::commit and the CLI's output
// folders call it): a model truncated or rewritten in place while a command
// uses it gives a one-line error and no output, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
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
  // Throws "PATH: changed while in use (truncated or rewritten in place); ..."
  // if the file's size or mtime changed since open, or a read faulted past its end.
  void check_unchanged() const;
  // check_unchanged() of every file mapped now.
  static void check_all_unchanged();

 private:
  MappedFile() = default;
  std::string path_;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
  int slot_ = -1;  // in the SIGBUS handler's table; -1: not registered
  int64_t mtime_ns_ = 0;
};

// Throws engine::Error unless `path` names a readable regular file
// ("no such file", "is a directory", ...). Returns its size.
size_t check_regular_file(const std::string& path);

}  // namespace engine
