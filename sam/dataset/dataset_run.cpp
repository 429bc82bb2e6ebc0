#include "sam/dataset/dataset_run.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace sam::dataset {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// ---------------------------------------------------------------- shards
std::string Shard::label() const { return std::to_string(index) + "/" + std::to_string(count); }
std::string Shard::file_tag() const { return "shard-" + std::to_string(index) + "-of-" + std::to_string(count); }

namespace {
bool parse_int(std::string_view s, int& v) {
  const char* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(s.data(), end, v);
  return !s.empty() && p == end && ec == std::errc();
}
}  // namespace

Shard parse_shard(std::string_view text) {
  if (text.empty()) return {};
  const std::string shown(text);
  const size_t slash = text.find('/');
  Shard s;
  if (slash == std::string_view::npos || !parse_int(text.substr(0, slash), s.index) ||
      !parse_int(text.substr(slash + 1), s.count))
    engine::fail("--shard {}: expected I/N, e.g. 0/4 (shard I of N, I from 0 to N-1)", shown);
  if (s.count < 1) engine::fail("--shard {}: the number of shards must be at least 1", shown);
  if (s.index < 0 || s.index >= s.count)
    engine::fail(
        "--shard {}: shard index {} is not in 0..{} (indices are 0-based: a Slurm array "
        "--array=0-{} with --shard $SLURM_ARRAY_TASK_ID/{})",
        shown, s.index, s.count - 1, s.count - 1, s.count);
  return s;
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

int shard_of(std::string_view key, int count) {
  return static_cast<int>(fnv1a64(key) % static_cast<uint64_t>(count));
}

std::vector<Item> select_shard(const std::vector<Item>& items, const Shard& shard) {
  std::vector<Item> out;
  for (const Item& it : items)
    if (shard_of(it.key, shard.count) == shard.index) out.push_back(it);
  return out;
}

// ---------------------------------------------------------------- inputs
namespace {
std::string trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  size_t b = 0, e = s.size();
  while (b < e && blank(s[b])) ++b;
  while (e > b && blank(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

bool manifest_name(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".txt" || ext == ".lst" || ext == ".list";
}
}  // namespace

Dataset read_manifest(const std::string& manifest) {
  std::error_code ec;
  if (!fs::exists(manifest, ec)) engine::fail("{}: no such manifest file", manifest);
  if (fs::is_directory(manifest, ec)) engine::fail("{}: is a folder, expected a manifest file", manifest);
  std::ifstream in(manifest, std::ios::binary);
  if (!in) engine::fail("{}: cannot read manifest: {}", manifest, std::strerror(errno));
  Dataset d;
  d.source = manifest;
  d.kind = InputKind::kManifest;
  const fs::path base = fs::path(manifest).parent_path();
  std::map<std::string, int> first_line;  // normalised path -> line
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find('\0') != std::string::npos) engine::fail("{}:{}: a NUL byte (not a text file of paths?)", manifest, n);
    const std::string entry = trim(line);
    if (entry.empty() || entry[0] == '#') continue;
    const fs::path p(entry);
    const std::string path = (p.is_absolute() || base.empty() ? p : base / p).string();
    const std::string norm = fs::path(path).lexically_normal().string();
    const auto [it, fresh] = first_line.emplace(norm, n);
    if (!fresh) {
      d.warnings.push_back(fmt::format("{}:{}: {} is listed again (first on line {}); done once", manifest, n,
                                       entry, it->second));
      continue;
    }
    d.items.push_back({entry, path, n});
  }
  if (in.bad()) engine::fail("{}: cannot read manifest: {}", manifest, std::strerror(errno));
  if (d.items.empty()) engine::fail("{}: the manifest lists no images", manifest);
  return d;
}

Dataset list_folder(const std::string& folder) {
  Dataset d;
  d.source = folder;
  d.kind = InputKind::kFolder;
  std::error_code ec;
  fs::directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    // An entry that cannot be examined (a symlink loop, a dangling link) is
    // listed: reading it fails and the run reports it, as any unreadable file.
    std::error_code entry_ec;
    if (!it->is_directory(entry_ec) || entry_ec) {
      const std::string name = it->path().filename().string();
      d.items.push_back({name, it->path().string(), 0});
    }
  }
  if (ec) engine::fail("{}: cannot list folder: {}", folder, ec.message());
  std::sort(d.items.begin(), d.items.end(), [](const Item& a, const Item& b) { return a.key < b.key; });
  return d;
}

Dataset open_dataset(const std::string& source, InputKind kind) {
  std::error_code ec;
  if (kind == InputKind::kAuto) {
    if (!fs::exists(source, ec)) engine::fail("{}: no such file or folder", source);
    kind = fs::is_directory(source, ec) ? InputKind::kFolder
           : manifest_name(source)      ? InputKind::kManifest
                                        : InputKind::kFile;
  }
  if (kind == InputKind::kManifest) return read_manifest(source);
  if (kind == InputKind::kFolder) {
    if (!fs::is_directory(source, ec)) engine::fail("{}: not a folder", source);
    return list_folder(source);
  }
  if (!fs::exists(source, ec)) engine::fail("{}: no such file", source);
  Dataset d;
  d.source = source;
  d.kind = InputKind::kFile;
  d.items.push_back({fs::path(source).filename().string(), source, 0});
  return d;
}

// ---------------------------------------------------------------- log
const char* status_name(Status s) {
  switch (s) {
    case Status::kDone: return "done";
    case Status::kSkipped: return "skipped";
    case Status::kFailed: return "failed";
  }
  return "?";
}

namespace {
double round_ms(double ms) { return std::round(ms * 10.0) / 10.0; }
std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }
}  // namespace

std::string record_json(const Record& r) {
  ojson j;
  j["image"] = r.image;
  j["status"] = status_name(r.status);
  if (r.status == Status::kFailed) j["error"] = r.error;
  j["ms"] = round_ms(r.ms);
  if (r.status == Status::kDone) j["outputs"] = r.outputs;
  return dump(j);
}

std::string summary_json(const Summary& s) {
  ojson j;
  j["summary"] = {{"shard", s.shard.label()}, {"images", s.images}, {"done", s.done},
                  {"skipped", s.skipped},     {"failed", s.failed}, {"ms", round_ms(s.ms)}};
  return dump(j);
}

std::string default_log_path(const std::string& out_dir, const Shard& shard) {
  return (fs::path(out_dir) / "logs" / (shard.file_tag() + ".jsonl")).string();
}

ShardLog::ShardLog(const std::string& path, const Shard& shard) : path_(path), shard_(shard) {
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) engine::fail("{}: cannot create the log folder: {}", parent.string(), ec.message());
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) engine::fail("{}: cannot open the log: {}", path, std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK)
      engine::fail("{}: shard {} is being run by another process (its log is locked); one process per shard",
                   path, shard.label());
    engine::fail("{}: cannot lock the log: {}", path, std::strerror(e));
  }
}

ShardLog::~ShardLog() {
  if (fd_ >= 0) ::close(fd_);
}

void ShardLog::append(const std::string& line) {
  const std::string text = line + "\n";
  const ssize_t n = ::write(fd_, text.data(), text.size());  // O_APPEND: one line, never interleaved
  if (n != static_cast<ssize_t>(text.size()))
    engine::fail("{}: cannot write the log: {}", path_, n < 0 ? std::strerror(errno) : "short write");
}

void ShardLog::write(const Record& r) { append(record_json(r)); }
void ShardLog::write(const Summary& s) { append(summary_json(s)); }

std::set<std::string> completed_images(const std::string& log_dir) {
  std::set<std::string> done;
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(log_dir, ec)) {
    for (const auto& e : fs::directory_iterator(log_dir, ec))
      if (e.path().extension() == ".jsonl") files.push_back(e.path());
  } else if (fs::exists(log_dir, ec)) {
    files.push_back(log_dir);
  }
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      const ojson j = ojson::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("image") || !j.contains("status")) continue;
      if (!j["image"].is_string() || !j["status"].is_string()) continue;
      const std::string st = j["status"].get<std::string>();
      if (st == "done" || st == "skipped") done.insert(j["image"].get<std::string>());
    }
  }
  return done;
}

// ---------------------------------------------------------------- running
Summary run(const std::vector<Item>& items, const Shard& shard, ShardLog* log, const Callbacks& cb) {
  using clock = std::chrono::steady_clock;
  const auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  const auto start = clock::now();
  Summary s;
  s.shard = shard;
  s.images = items.size();
  for (const Item& it : items) {
    const auto t0 = clock::now();
    Record r;
    r.image = it.key;
    if (cb.is_complete && cb.is_complete(it)) {
      r.status = Status::kSkipped;
      ++s.skipped;
    } else {
      try {
        r.outputs = cb.process(it);
        r.status = Status::kDone;
        ++s.done;
      } catch (const engine::Error& e) {
        r.status = Status::kFailed;
        r.error = e.what();
        ++s.failed;
        if (cb.on_failure) cb.on_failure(it, e.what());
      }
    }
    r.ms = ms_since(t0);
    if (log) log->write(r);
  }
  s.ms = ms_since(start);
  if (log) log->write(s);
  return s;
}

std::string summary_text(const Summary& s) {
  return fmt::format("shard {}: {} image(s): {} done, {} skipped, {} failed ({:.1f} s)", s.shard.label(), s.images,
                     s.done, s.skipped, s.failed, s.ms / 1000.0);
}

int exit_code(const Summary& s) { return s.failed ? kExitSomeFailed : 0; }

}  // namespace sam::dataset
