// An output folder of a sam command, under the output contract (README "Outputs"):
//  * the folder is locked (flock) for the whole run: a second sam command that
//    writes into it is refused at once instead of mixing two results;
//  * every file is written into a staging folder OUTDIR/.sam-staging-PID-XXXXXX and
//    moved into place only when all are written (commit()): a failure (full
//    disk, exception, SIGINT/SIGTERM/SIGHUP) leaves OUTDIR as it was (a folder
//    this command created is removed again); staging left by a killed run (its
//    PID gone) is removed by the next run;
//  * claim() (a folder that holds one result: sam segment, sam trace) refuses a
//    non-empty folder unless --overwrite, and with --overwrite accepts only a
//    folder that holds a result of the same command and nothing else; commit()
//    then replaces the old result whole (no stale file of it stays).
//  * Sharing::kShared (dataset runs split by --shard, sam/dataset/dataset_run.h):
//    N processes may write into one folder at once (a shared flock; each shard
//    locks its own log instead), while a command with the exclusive lock is
//    refused and refuses them. Their staging folders are named
//    .sam-staging-h<HOST>-PID-XXXXXX (processes on several cluster nodes may
//    share the folder: a PID is only checked on its own host), and a folder
//    this command created is left in place (another shard may be using it).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/io/output_guard.h"

namespace sam::cli {

// The files a command writes into its folder.
struct FolderLayout {
  std::string writer;                               // "sam segment"
  std::function<bool(const std::string&)> is_ours;  // a file name this command writes
  std::string marker;                               // a file every result of it holds (written last)
};

enum class Sharing { kExclusive, kShared };

class OutputDir {
 public:
  // Creates `dir` if needed, locks it (exclusive: one command; shared: the shards of one run).
  explicit OutputDir(const std::string& dir, Sharing sharing = Sharing::kExclusive);
  ~OutputDir();                                 // removes the staging folder (and a folder it created, if empty)
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  // The folder holds one result (see above); none of its files may be an input.
  void claim(const FolderLayout& layout, bool overwrite, const std::vector<engine::InputFile>& inputs);
  // `name` (a file or folder in OUTDIR, checked by the caller) is replaced at commit().
  void replace_on_commit(const std::string& name);

  // Where to write `name` now (inside the staging folder). `name` may lie in a
  // subfolder ("parts/a.json"): the caller creates it in staging(); commit()
  // creates it in the folder if missing.
  std::string staged(const std::string& name);
  // Where to write a file that belongs elsewhere (e.g. --save-logits FILE): a
  // temporary name next to `path`, renamed to `path` by commit(), removed
  // otherwise. Fails now if `path` cannot be written (missing folder, a folder).
  std::string staged_file(const std::string& path);
  // Moves every staged file into place (the old result out first). The folder
  // can then stage and commit again (sam everything: one commit per image).
  void commit();
  const std::string& staging() const { return staging_; }

 private:
  std::string dir_;
  Sharing sharing_;
  std::string staging_;
  int lock_fd_ = -1;
  std::vector<std::string> names_;
  std::vector<std::string> replaced_;                        // old entries moved out at commit
  std::vector<std::pair<std::string, std::string>> files_;  // (temporary, final)
  std::vector<std::string> created_;                         // folders created here, innermost first
  bool committed_ = false;
};

}  // namespace sam::cli
