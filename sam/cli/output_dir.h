// Writes a command's files into a staging folder inside OUTDIR and moves them
// into place only when all are written: a failure (full disk, exception) leaves
// OUTDIR as it was, never with part of a result.
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
  // Moves every staged file to `dir`/name.
  void commit();

 private:
  std::string dir_;
  std::string staging_;
  std::vector<std::string> names_;
  bool committed_ = false;
};

}  // namespace sam::cli
