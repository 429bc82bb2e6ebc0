#include "output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "engine/io/cleanup_registry.h"
#include "engine/io/mapped_file.h"

namespace sam::cli {
namespace fs = std::filesystem;
namespace cleanup = engine::cleanup;

namespace {
constexpr const char* kStaging = ".sam-staging-";
constexpr const char* kPending = ".sam-pending-";

void create_folder(const std::string& dir, std::vector<std::string>& created) {
  std::error_code ec;
  for (fs::path p = fs::path(dir).lexically_normal(); !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created.push_back(p.string());
    if (p == p.parent_path()) break;
  }
  auto lock = cleanup::hold();
  fs::create_directories(dir, ec);
  if (ec) {
    created.clear();  // nothing was created, or not by us
    engine::fail("{}: cannot create output folder: {}", dir, ec.message());
  }
  for (auto it = created.rbegin(); it != created.rend(); ++it) cleanup::add(*it, cleanup::Kind::EmptyDir);
}

// flock() on the folder itself: released when the process ends, however it ends.
int lock_folder(const std::string& dir, Sharing sharing) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;  // the staging folder's creation reports the reason
  if (::flock(fd, (sharing == Sharing::kShared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) engine::fail("{}: another sam command is writing into this folder; try again when it ends", dir);
  }
  return fd;
}

// The staging folders' prefix: ".sam-staging-", or for shared folders
// ".sam-staging-h<HOST>-" (the host name's letters, digits, '.', '-', '_').
std::string staging_prefix(Sharing sharing) {
  if (sharing == Sharing::kExclusive) return kStaging;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
  std::string tag;
  for (const char* c = host; *c; ++c)
    tag += (std::isalnum(static_cast<unsigned char>(*c)) || *c == '.' || *c == '-' || *c == '_') ? *c : '_';
  return std::string(kStaging) + "h" + tag + "-";
}
}  // namespace

OutputDir::OutputDir(const std::string& dir, Sharing sharing) : dir_(dir), sharing_(sharing) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) engine::fail("{}: exists and is not a directory", dir);
  create_folder(dir, created_);
  if (sharing == Sharing::kShared) {  // another shard may write into it: never removed by this one
    auto lock = cleanup::hold();
    for (const std::string& d : created_) cleanup::remove(d);
    created_.clear();
  }
  try {
    lock_fd_ = lock_folder(dir, sharing);
    // Staging of an earlier run that was killed (its pid is gone): removed.
    const std::string prefix = staging_prefix(sharing);
    // (Shared: also a plain run's, which cannot be running beside a shard: the lock.)
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (cleanup::is_stale_temporary(name, prefix) || cleanup::is_stale_temporary(name, kStaging))
        fs::remove_all(e.path(), ec);
    }
    std::string tmpl = (fs::path(dir) / (prefix + cleanup::pid_tag() + "-XXXXXX")).string();
    auto lock = cleanup::hold();
    if (!::mkdtemp(tmpl.data())) engine::fail("{}: cannot write to output folder: {}", dir, std::strerror(errno));
    staging_ = tmpl;
    cleanup::add(staging_, cleanup::Kind::Tree);
  } catch (...) {
    auto lock = cleanup::hold();
    for (const std::string& d : created_) {
      fs::remove(d, ec);
      cleanup::remove(d);
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);
    throw;
  }
}

OutputDir::~OutputDir() {
  std::error_code ec;
  auto lock = cleanup::hold();
  if (!staging_.empty()) {
    fs::remove_all(staging_, ec);
    cleanup::remove(staging_);
  }
  for (const auto& f : files_) {
    ::unlink(f.first.c_str());
    cleanup::remove(f.first);
  }
  // Folders this command created, innermost first; fs::remove leaves a non-empty one alone.
  for (const std::string& d : created_) {
    if (!committed_) fs::remove(d, ec);
    cleanup::remove(d);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void OutputDir::claim(const FolderLayout& layout, bool overwrite, const std::vector<engine::InputFile>& inputs) {
  std::error_code ec;
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path() != fs::path(staging_) && name.rfind(kStaging, 0) != 0) entries.push_back(name);
  }
  if (ec) engine::fail("{}: cannot list output folder: {}", dir_, ec.message());
  if (entries.empty()) return;
  std::sort(entries.begin(), entries.end());
  if (!overwrite) engine::fail("{}: not empty (use --overwrite to replace a result of {} in it)", dir_, layout.writer);
  for (const std::string& name : entries) {
    const fs::path p = fs::path(dir_) / name;
    if (!layout.is_ours(name) || !fs::is_regular_file(fs::symlink_status(p, ec)))
      engine::fail("{}: not a result of {} (it holds {}); --overwrite replaces only such results", dir_,
                   layout.writer, name);
  }
  if (!std::binary_search(entries.begin(), entries.end(), layout.marker))
    engine::fail("{}: not a result of {} (no {}); --overwrite replaces only such results", dir_, layout.writer,
                 layout.marker);
  for (const std::string& name : entries) {
    engine::check_not_an_input("", (fs::path(dir_) / name).string(), inputs);
    replaced_.push_back(name);
  }
}

void OutputDir::replace_on_commit(const std::string& name) { replaced_.push_back(name); }

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
  const std::string prefix = "." + target.filename().string() + kPending;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (cleanup::is_stale_temporary(e.path().filename().string(), prefix)) ::unlink(e.path().c_str());
  std::string tmpl = (dir / (prefix + cleanup::pid_tag() + "-XXXXXX")).string();
  auto lock = cleanup::hold();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) engine::fail("{}: cannot create output: {}", path, std::strerror(errno));
  ::close(fd);
  cleanup::add(tmpl, cleanup::Kind::File);
  files_.emplace_back(tmpl, path);
  return tmpl;
}

void OutputDir::commit() {
  engine::MappedFile::check_all_unchanged();  // a model changed under us: nothing is kept
  auto lock = cleanup::hold();                // an interrupt waits: the result lands whole
  std::error_code ec;
  // The old result out first (into the staging folder, removed with it), so
  // that no file of it stays beside the new one; the marker goes last.
  for (size_t i = 0; i < replaced_.size(); ++i) {
    fs::rename(fs::path(dir_) / replaced_[i], fs::path(staging_) / (".old-" + std::to_string(i)), ec);
    if (ec && ec != std::errc::no_such_file_or_directory)
      engine::fail("{}: cannot move the old {} out: {}", dir_, replaced_[i], ec.message());
  }
  for (const std::string& name : names_) {
    const fs::path parent = fs::path(name).parent_path();  // a name in a subfolder (coco_parts/x.json)
    if (!parent.empty()) fs::create_directories(fs::path(dir_) / parent, ec);
    fs::rename(fs::path(staging_) / name, fs::path(dir_) / name, ec);
    if (ec) engine::fail("{}: cannot move {} into place: {}", dir_, name, ec.message());
  }
  for (const auto& [tmp, path] : files_) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) engine::fail("{}: rename failed: {}", path, std::strerror(errno));
    cleanup::remove(tmp);
  }
  for (size_t i = 0; i < replaced_.size(); ++i) fs::remove_all(fs::path(staging_) / (".old-" + std::to_string(i)), ec);
  for (const std::string& d : created_) cleanup::remove(d);  // it holds a result now
  names_.clear();
  files_.clear();
  replaced_.clear();
  created_.clear();
  committed_ = true;
}

}  // namespace sam::cli
