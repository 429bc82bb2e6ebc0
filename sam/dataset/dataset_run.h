// Dataset-scale runs of a per-image command (sam everything, sam annotate):
// which images, which of them this process does (--shard I/N), which are done
// already (resume), a JSON-lines log, and the exit code. No CLI parsing here.
//
// How a command uses it:
//
//   namespace ds = sam::dataset;
//   ds::Dataset data = ds::open_dataset(input, ds::InputKind::kAuto);  // folder | manifest | one file
//   for (auto& w : data.warnings) print "sam: warning: " + w;           // duplicates in a manifest
//   const ds::Shard shard = ds::parse_shard(shard_text);                 // "" -> 0/1; "2/4" -> index 2 of 4
//   // (checks over the WHOLE dataset here, e.g. two images with one output name, so all shards agree)
//   std::vector<ds::Item> mine = ds::select_shard(data.items, shard);
//   ds::ShardLog log(ds::default_log_path(out_dir, shard));             // refuses a second process on the shard
//   ds::Callbacks cb;
//   cb.is_complete = [&](const ds::Item& it) { return /* all outputs of it.key are in place */; };
//   cb.process = [&](const ds::Item& it) { ...; return std::vector<std::string>{"out/name"}; };  // throws engine::Error
//   cb.on_failure = [&](const ds::Item& it, const std::string& msg) { print "sam: warning: skipping ..."; };
//   const ds::Summary s = ds::run(mine, &log, cb);
//   print ds::summary_text(s); return ds::exit_code(s);                 // 0, or kExitSomeFailed (3)
//
// Keys and shards: an Item's key is its path as written in the manifest, or its
// file name relative to the folder (with '/' separators). The shard of a key is
// FNV-1a 64 of the key's bytes mod N: the same on every machine, in every
// process, whatever the order of the list, so N processes (or N cluster tasks)
// given the same list split it with no coordination, and each image is in
// exactly one shard. Shard indices are 0-based, I in 0..N-1: Slurm's
// `#SBATCH --array=0-(N-1)` with `--shard $SLURM_ARRAY_TASK_ID/N`.
//
// Completion (resume): an image is skipped when the command's is_complete() says
// its outputs are all in place. Commands move each image's outputs into place
// atomically (sam/cli/output_dir.h: staged, renamed at commit), so "in place" is
// "complete"; a command whose images may legitimately have no output file (an
// image without detections) uses completed_images() on the logs instead.
//
// The log: one JSON object per line, appended with one write(2) per line on an
// O_APPEND file, e.g.
//   {"image":"a/b.jpg","status":"done","ms":812.5,"outputs":["b/"]}
//   {"image":"c.jpg","status":"failed","error":"c.jpg: empty file","ms":0.1}
//   {"summary":{"shard":"0/4","images":250,"done":240,"skipped":8,"failed":2,"ms":123456.0}}
// Each shard has its own file (OUT/logs/shard-I-of-N.jsonl), flock'ed for the
// run: two processes on one shard are refused, N shards write at once.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sam::dataset {

// Exit code of a run in which some images failed (the others done or skipped).
// 0: every image done or skipped; 1: an error stopped the run; 2: usage error.
constexpr int kExitSomeFailed = 3;

// ---------------------------------------------------------------- shards
struct Shard {
  int index = 0;  // 0-based
  int count = 1;
  std::string label() const;     // "2/4"
  std::string file_tag() const;  // "shard-2-of-4"
};

// "I/N" with 0 <= I < N, N >= 1 ("" gives 0/1). Throws engine::Error
// ("--shard 4/4: shard index 4 is not in 0..3 (indices are 0-based: ...)").
Shard parse_shard(std::string_view text);

// FNV-1a 64 of the bytes (offset basis 14695981039346656037, prime 1099511628211).
uint64_t fnv1a64(std::string_view bytes);
// Which shard of `count` a key belongs to: fnv1a64(key) % count.
int shard_of(std::string_view key, int count);

// ---------------------------------------------------------------- inputs
struct Item {
  std::string key;   // stable name: manifest text or path relative to the folder ('/' separators)
  std::string path;  // what to open (manifest entries resolved against the manifest's folder)
  int line = 0;      // manifest line (1-based), 0 for folder entries
};

enum class InputKind {
  kAuto,      // a folder -> kFolder; a file named *.txt / *.lst / *.list -> kManifest; else kFile
  kFolder,    // every non-folder entry of the folder (not recursive), sorted by name
  kManifest,  // a text file of image paths, one per line
  kFile,      // one image
};

struct Dataset {
  std::string source;  // the folder, manifest or file as given
  InputKind kind = InputKind::kFile;
  std::vector<Item> items;            // in listing order (folder: sorted; manifest: file order)
  std::vector<std::string> warnings;  // e.g. "list.txt:7: a.jpg is listed again (first on line 2); done once"
};

// Manifest format: one path per line; leading/trailing blanks and a final '\r'
// are trimmed; empty lines and lines starting with '#' are ignored; a relative
// path is relative to the manifest's folder; a path listed twice (same text
// after trimming, or same file) is kept once, with a warning. Entries are not
// opened here: a missing file fails when processed (status "failed" in the log).
// Throws engine::Error if the source is missing/unreadable, or a manifest has
// no entries / a line with a NUL byte.
Dataset open_dataset(const std::string& source, InputKind kind = InputKind::kAuto);
Dataset read_manifest(const std::string& manifest);
Dataset list_folder(const std::string& folder);

// The items of `shard`, in their order.
std::vector<Item> select_shard(const std::vector<Item>& items, const Shard& shard);

// ---------------------------------------------------------------- log
enum class Status { kDone, kSkipped, kFailed };
const char* status_name(Status s);  // "done", "skipped", "failed"

struct Record {
  std::string image;  // Item::key
  Status status = Status::kDone;
  std::string error;                 // for kFailed
  double ms = 0;                     // wall time spent on the image
  std::vector<std::string> outputs;  // relative to the output folder
};

struct Summary {
  Shard shard;
  size_t images = 0, done = 0, skipped = 0, failed = 0;
  double ms = 0;
};

// OUT/logs/shard-I-of-N.jsonl
std::string default_log_path(const std::string& out_dir, const Shard& shard);

// One shard's log file, appended to (created with its folder if needed) and
// flock'ed (exclusive, non-blocking) while open: a second process that opens the
// same log is refused with "PATH: shard I/N is being run by another process ...".
class ShardLog {
 public:
  ShardLog(const std::string& path, const Shard& shard);
  ~ShardLog();
  ShardLog(const ShardLog&) = delete;
  ShardLog& operator=(const ShardLog&) = delete;

  void write(const Record& r);     // one line, one write(2)
  void write(const Summary& s);    // {"summary":{...}}
  const std::string& path() const { return path_; }

 private:
  void append(const std::string& line);
  std::string path_;
  Shard shard_;
  int fd_ = -1;
};

// JSON text of a record / summary (one line, no newline).
std::string record_json(const Record& r);
std::string summary_json(const Summary& s);

// Keys recorded "done" or "skipped" in any *.jsonl log under `log_dir` (or in the
// one file `log_dir`), every shard's; unparsable lines (a line being written by
// another process) are ignored. An empty set if there is no log.
std::set<std::string> completed_images(const std::string& log_dir);

// ---------------------------------------------------------------- running
// An error that ends the whole run (not one image's failure): a full disk, a
// model changed while in use. Thrown from process() with the message to print.
struct Fatal : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Callbacks {
  // True if every output of the item is in place (it is then skipped). May be empty (never complete).
  std::function<bool(const Item&)> is_complete;
  // Does the item; returns its outputs (relative to the output folder). An
  // engine::Error is this item's failure (logged, the run goes on); any other
  // exception (Fatal, std::bad_alloc) ends the run at once.
  std::function<std::vector<std::string>(const Item&)> process;
  // Told of each failure, e.g. to print "sam: warning: skipping PATH: MESSAGE". May be empty.
  std::function<void(const Item&, const std::string& message)> on_failure;
};

// Runs `items` (this shard's) in order and logs each (when `log` is not null),
// then the summary line.
Summary run(const std::vector<Item>& items, const Shard& shard, ShardLog* log, const Callbacks& cb);

// "shard 0/4: 250 image(s): 240 done, 8 skipped, 2 failed (123.5 s)"
std::string summary_text(const Summary& s);
// 0 if nothing failed, else kExitSomeFailed.
int exit_code(const Summary& s);

}  // namespace sam::dataset
