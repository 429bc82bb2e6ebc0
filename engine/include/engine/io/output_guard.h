// The output contract shared by every command (README "Outputs"): an input is
// never written, an existing non-empty output is replaced only with
// --overwrite, and --overwrite replaces only what the command itself writes.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace engine {

// An input the command reads, for the "outputs never overwrite inputs" check:
// `what` names it in messages (e.g. "--image").
struct InputFile {
  std::string what;
  std::string path;
};

// Throws "WHAT PATH: is the INPUT input; outputs never overwrite inputs" if
// `path` exists and is the same file (st_dev + st_ino) as one of `inputs`.
void check_not_an_input(const std::string& what, const std::string& path, const std::vector<InputFile>& inputs);

// True if both name the same existing file, or (either missing) the same canonical path.
bool same_path(const std::string& a, const std::string& b);
// True if `path` is `dir` or lies anywhere under it (canonical paths).
bool is_inside(const std::string& path, const std::string& dir);

// For an output file `path` that may exist: nothing if it does not or is empty;
// otherwise throws "PATH: already exists (use --overwrite to replace it)", or
// with `overwrite`, unless `foreign_reason(path)` is empty (the file is one this
// command writes), "PATH: not written by WRITER (REASON); --overwrite replaces
// only such files". A folder is refused as "is a directory".
void check_replaceable_file(const std::string& path, bool overwrite, const std::string& writer,
                            const std::function<std::string(const std::string&)>& foreign_reason);

// Whether the file starts with `magic` (false if unreadable).
bool starts_with_bytes(const std::string& path, const std::string& magic);

}  // namespace engine
