// Output file written under a temporary name in the destination directory and
// renamed into place by commit(). If commit() is never reached (an error, an
// exception), the destructor removes the temporary: no partial output is left.
#pragma once

#include <cstddef>
#include <string>

namespace engine {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes; throws engine::Error with the reason (e.g. "No space left on
  // device", "File too large") on failure.
  void write(const void* data, size_t bytes);
  size_t bytes_written() const { return written_; }
  // Flushes, fsyncs and renames the temporary to the final path.
  void commit();
  const std::string& path() const { return path_; }

 private:
  void flush_buffer();
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  size_t written_ = 0;
  bool committed_ = false;
  std::string buffer_;
};

}  // namespace engine
