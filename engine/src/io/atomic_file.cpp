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
#include "engine/io/cleanup_registry.h"
#include "engine/io/mapped_file.h"

namespace engine {
namespace {
constexpr size_t kBufferSize = 4 << 20;

// Temporaries of `name` left by a run that was killed (its pid is gone): removed.
void remove_stale_temporaries(const std::filesystem::path& dir, const std::string& prefix) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (cleanup::is_stale_temporary(e.path().filename().string(), prefix)) ::unlink(e.path().c_str());
}
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  namespace fs = std::filesystem;
  const fs::path target(path_);
  std::error_code ec;
  if (fs::is_directory(target, ec)) fail("{}: is a directory, expected an output file name", path_);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) fail("{}: output directory {} does not exist", path_, dir.string());
  // The name carries the pid: a later run removes it if this process was killed.
  std::string prefix = ".";
  prefix += target.filename().string();
  prefix += ".tmp-";
  // (Not inside a staging folder, which is new: no scan per mask of a large result.)
  if (path_.find("/.sam-staging-") == std::string::npos) remove_stale_temporaries(dir, prefix);
  std::string tmpl = (dir / (prefix + cleanup::pid_tag() + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  {
    auto lock = cleanup::hold();  // created and registered at once (interrupt cleanup)
    fd_ = ::mkstemp(buf.data());
    if (fd_ < 0) fail("{}: cannot create output: {}", path_, std::strerror(errno));
    tmp_path_ = buf.data();
    cleanup::add(tmp_path_, cleanup::Kind::File);
  }
  ::fchmod(fd_, 0644);
  buffer_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_path_.empty()) {
    auto lock = cleanup::hold();
    ::unlink(tmp_path_.c_str());
    cleanup::remove(tmp_path_);
  }
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
  MappedFile::check_all_unchanged();  // computed from an input that changed under us: not kept
  auto lock = cleanup::hold();  // an interrupt now finds the file either in place or removed
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) fail("{}: rename failed: {}", path_, std::strerror(errno));
  committed_ = true;
  cleanup::remove(tmp_path_);
}

}  // namespace engine
