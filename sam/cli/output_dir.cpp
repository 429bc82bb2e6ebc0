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
  fs::create_directories(dir, ec);
  if (ec) engine::fail("{}: cannot create output folder: {}", dir, ec.message());
  std::string tmpl = (fs::path(dir) / ".sam-staging-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) engine::fail("{}: cannot write to output folder: {}", dir, std::strerror(errno));
  staging_ = tmpl;
}

OutputDir::~OutputDir() {
  std::error_code ec;
  if (!staging_.empty()) fs::remove_all(staging_, ec);
}

std::string OutputDir::staged(const std::string& name) {
  names_.push_back(name);
  return (fs::path(staging_) / name).string();
}

void OutputDir::commit() {
  for (const std::string& name : names_) {
    std::error_code ec;
    fs::rename(fs::path(staging_) / name, fs::path(dir_) / name, ec);
    if (ec) engine::fail("{}: cannot move {} into place: {}", dir_, name, ec.message());
  }
  committed_ = true;
}

}  // namespace sam::cli
