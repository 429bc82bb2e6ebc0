// Writes a command's files into a staging folder inside OUTDIR and moves them
// into place only when all are written: a failure (full disk, exception) leaves
// OUTDIR as it was, never with part of a result (a folder this command created
// is removed again).
#pragma once

#include <string>
#include <vector>

namespace sam::cli {

class OutputDir {
 public:
  explicit OutputDir(const std::string& dir);  // creates `dir` if needed
  ~OutputDir();                                 // removes the staging folder if commit() was not reached
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  // Where to write `name` now (inside the staging folder).
  std::string staged(const std::string& name);
  // Where to write a file that belongs elsewhere (e.g. --save-logits FILE): a
  // temporary name next to `path`, renamed to `path` by commit(), removed
  // otherwise. Fails now if `path` cannot be written (missing folder, a folder).
  std::string staged_file(const std::string& path);
  // Moves every staged file into place.
  void commit();

 private:
  std::string dir_;
  std::string staging_;
  std::vector<std::string> names_;
  std::vector<std::pair<std::string, std::string>> files_;  // (temporary, final)
  std::vector<std::string> created_;                         // folders created here, innermost first
  bool committed_ = false;
};

}  // namespace sam::cli
