#include "zip_archive.h"

#include <zip.h>

#include <memory>
#include <set>

#include "engine/error.h"
#include "engine/io/mapped_file.h"

namespace weights_tools {
namespace {

std::string zip_error_text(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string s = zip_error_strerror(&err);
  zip_error_fini(&err);
  return s;
}

// libzip refuses an archive with two entries of one name under ZIP_CHECKCONS
// as "File already exists"; opened without it, the listing names the entry.
std::string duplicate_entry_name(const std::string& path) {
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!z) return {};
  std::set<std::string> seen;
  std::string duplicate;
  const zip_int64_t n = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < n && i < (1 << 20) && duplicate.empty(); ++i) {
    const char* name = zip_get_name(z, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name && !seen.insert(name).second) duplicate = name;
  }
  zip_discard(z);
  return duplicate;
}

struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

}  // namespace

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  archive_size_ = engine::check_regular_file(path);
  engine::check(archive_size_ > 0, "{}: empty file", path);
  int code = 0;
  archive_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!archive_ && code == ZIP_ER_EXISTS) {
    const std::string name = duplicate_entry_name(path);
    if (!name.empty())
      engine::fail("{}: zip archive holds two entries named '{}' (torch.save writes each name once: a damaged or "
                   "tampered checkpoint)",
                   path, name);
  }
  if (!archive_) engine::fail("{}: not a readable zip archive ({}): truncated or corrupt", path, zip_error_text(code));
  const zip_int64_t n = zip_get_num_entries(archive_, 0);
  engine::check(n >= 0 && n < (1 << 20), "{}: bad zip directory", path);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(archive_, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    engine::check(name != nullptr, "{}: bad zip entry {}", path, i);
    names_.emplace_back(name);
  }
}

ZipArchive::~ZipArchive() {
  if (archive_) zip_discard(archive_);
}

int64_t ZipArchive::index_of(const std::string& name) const {
  return zip_name_locate(archive_, name.c_str(), ZIP_FL_ENC_RAW);
}

bool ZipArchive::contains(const std::string& name) const { return index_of(name) >= 0; }

uint64_t ZipArchive::size(const std::string& name) const {
  const int64_t i = index_of(name);
  engine::check(i >= 0, "{}: archive has no entry '{}'", path_, name);
  zip_stat_t st;
  zip_stat_init(&st);
  engine::check(zip_stat_index(archive_, static_cast<zip_uint64_t>(i), 0, &st) == 0 &&
                    (st.valid & ZIP_STAT_SIZE) && (st.valid & ZIP_STAT_COMP_SIZE),
                "{}: cannot stat entry '{}'", path_, name);
  engine::check(st.comp_size <= archive_size_, "{}: entry '{}' claims {} bytes, more than the archive holds", path_,
                name, st.comp_size);
  // Stored entries are the same size inside and out; deflated ones expand by at
  // most ~1032x, which still bounds what a lying header can make us allocate.
  engine::check(st.size <= st.comp_size * 1032 + 64, "{}: entry '{}' has an implausible size {}", path_, name,
                st.size);
  return st.size;
}

std::vector<std::byte> ZipArchive::read(const std::string& name, size_t max_bytes) const {
  const uint64_t n = size(name);
  engine::check(n <= max_bytes, "{}: entry '{}' is {} bytes (limit {})", path_, name, n, max_bytes);
  std::vector<std::byte> out(static_cast<size_t>(n));
  read_range(name, 0, out.data(), out.size());
  return out;
}

void ZipArchive::read_range(const std::string& name, uint64_t offset, void* dst, size_t bytes) const {
  const uint64_t total = size(name);
  engine::check(offset <= total && bytes <= total - offset, "{}: read of {} bytes at {} beyond entry '{}' ({} bytes)",
                path_, bytes, offset, name, total);
  const int64_t i = index_of(name);
  std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(archive_, static_cast<zip_uint64_t>(i), 0));
  if (!f) engine::fail("{}: cannot open entry '{}': {}", path_, name, zip_strerror(archive_));
  if (offset > 0 && zip_fseek(f.get(), static_cast<zip_int64_t>(offset), SEEK_SET) != 0) {
    // Not seekable (compressed): read and drop.
    std::vector<char> sink(1 << 16);
    uint64_t left = offset;
    while (left > 0) {
      const zip_int64_t got = zip_fread(f.get(), sink.data(), std::min<uint64_t>(left, sink.size()));
      if (got <= 0) engine::fail("{}: entry '{}' is corrupt: {}", path_, name, zip_file_strerror(f.get()));
      left -= static_cast<uint64_t>(got);
    }
  }
  auto* out = static_cast<char*>(dst);
  size_t left = bytes;
  while (left > 0) {
    const zip_int64_t got = zip_fread(f.get(), out, left);
    if (got < 0) engine::fail("{}: entry '{}' is corrupt: {}", path_, name, zip_file_strerror(f.get()));
    if (got == 0) engine::fail("{}: entry '{}' is truncated", path_, name);
    out += got;
    left -= static_cast<size_t>(got);
  }
  if (offset == 0 && bytes == total) {
    // Reading past the end makes libzip compare the CRC of what it returned.
    char probe;
    if (zip_fread(f.get(), &probe, 1) < 0)
      engine::fail("{}: entry '{}' is corrupt: {}", path_, name, zip_file_strerror(f.get()));
  }
}

}  // namespace weights_tools
