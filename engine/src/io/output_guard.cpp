#include "engine/io/output_guard.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace engine {
namespace fs = std::filesystem;

void check_not_an_input(const std::string& what, const std::string& path, const std::vector<InputFile>& inputs) {
  struct stat out {};
  if (path.empty() || ::stat(path.c_str(), &out) != 0) return;  // to be created: cannot be an existing input
  for (const InputFile& in : inputs) {
    struct stat st {};
    if (in.path.empty() || ::stat(in.path.c_str(), &st) != 0) continue;
    if (st.st_dev == out.st_dev && st.st_ino == out.st_ino)
      fail("{}{}{}: is the {} input; outputs never overwrite inputs", what, what.empty() ? "" : " ", path, in.what);
  }
}

bool same_path(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

bool is_inside(const std::string& path, const std::string& dir) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(path, ec), d = fs::weakly_canonical(dir, ec);
  const fs::path rel = p.lexically_relative(d);
  return !rel.empty() && *rel.begin() != "..";
}

void check_replaceable_file(const std::string& path, bool overwrite, const std::string& writer,
                            const std::function<std::string(const std::string&)>& foreign_reason) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) return;
  if (fs::is_directory(st)) fail("{}: is a directory, expected an output file name", path);
  if (fs::is_regular_file(st) && fs::file_size(path, ec) == 0 && !ec) return;
  if (!overwrite) fail("{}: already exists (use --overwrite to replace it)", path);
  const std::string reason = fs::is_regular_file(st) ? foreign_reason(path) : "not a regular file";
  if (!reason.empty()) fail("{}: not written by {} ({}); --overwrite replaces only such files", path, writer, reason);
}

bool starts_with_bytes(const std::string& path, const std::string& magic) {
  std::ifstream f(path, std::ios::binary);
  std::string head(magic.size(), '\0');
  return f.read(head.data(), static_cast<std::streamsize>(head.size())) && head == magic;
}

}  // namespace engine
