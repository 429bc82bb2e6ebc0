#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <vector>

#include "engine/error.h"

namespace engine {
namespace {
constexpr size_t kBufferSize = 4 << 20;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  namespace fs = std::filesystem;
  const fs::path target(path_);
  std::error_code ec;
  if (fs::is_directory(target, ec)) fail("{}: is a directory, expected an output file name", path_);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) fail("{}: output directory {} does not exist", path_, dir.string());
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) fail("{}: cannot create output: {}", path_, std::strerror(errno));
  tmp_path_ = buf.data();
  ::fchmod(fd_, 0644);
  buffer_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

void AtomicFile::flush_buffer() {
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("{}: write failed: {}", path_, std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicFile::write(const void* data, size_t bytes) {
  check(!committed_, "{}: write after commit", path_);
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const size_t take = std::min(bytes, kBufferSize - buffer_.size());
    buffer_.append(p, take);
    p += take;
    bytes -= take;
    written_ += take;
    if (buffer_.size() == kBufferSize) flush_buffer();
  }
}

void AtomicFile::commit() {
  check(!committed_, "{}: committed twice", path_);
  flush_buffer();
  if (::fsync(fd_) != 0) fail("{}: fsync failed: {}", path_, std::strerror(errno));
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail("{}: close failed: {}", path_, std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) fail("{}: rename failed: {}", path_, std::strerror(errno));
  committed_ = true;
}

}  // namespace engine
