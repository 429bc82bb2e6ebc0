#include "output_dir.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace sam::cli {
namespace fs = std::filesystem;

OutputDir::OutputDir(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) engine::fail("{}: exists and is not a directory", dir);
  for (fs::path p = fs::path(dir).lexically_normal(); !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created_.push_back(p.string());
    if (p == p.parent_path()) break;
  }
  fs::create_directories(dir, ec);
  if (ec) {
    created_.clear();  // nothing was created, or not by us
    engine::fail("{}: cannot create output folder: {}", dir, ec.message());
  }
  std::string tmpl = (fs::path(dir) / ".sam-staging-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    const int e = errno;
    for (const std::string& d : created_) fs::remove(d, ec);
    engine::fail("{}: cannot write to output folder: {}", dir, std::strerror(e));
  }
  staging_ = tmpl;
}

OutputDir::~OutputDir() {
  std::error_code ec;
  if (!staging_.empty()) fs::remove_all(staging_, ec);
  if (committed_) return;
  for (const auto& f : files_) ::unlink(f.first.c_str());
  // Folders this command created, innermost first; fs::remove leaves a non-empty one alone.
  for (const std::string& d : created_) fs::remove(d, ec);
}

std::string OutputDir::staged(const std::string& name) {
  names_.push_back(name);
  return (fs::path(staging_) / name).string();
}

std::string OutputDir::staged_file(const std::string& path) {
  std::error_code ec;
  const fs::path target(path);
  if (fs::is_directory(target, ec)) engine::fail("{}: is a directory, expected an output file name", path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) engine::fail("{}: output directory {} does not exist", path, dir.string());
  std::string name = ".";
  name += target.filename().string();
  name += ".sam-pending-XXXXXX";
  std::string tmpl = (dir / name).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) engine::fail("{}: cannot create output: {}", path, std::strerror(errno));
  ::close(fd);
  files_.emplace_back(tmpl, path);
  return tmpl;
}

void OutputDir::commit() {
  for (const std::string& name : names_) {
    std::error_code ec;
    fs::rename(fs::path(staging_) / name, fs::path(dir_) / name, ec);
    if (ec) engine::fail("{}: cannot move {} into place: {}", dir_, name, ec.message());
  }
  for (const auto& [tmp, path] : files_)
    if (::rename(tmp.c_str(), path.c_str()) != 0) engine::fail("{}: rename failed: {}", path, std::strerror(errno));
  committed_ = true;
}

}  // namespace sam::cli
