// Shared by the libFuzzer targets: readers that take a path get the input
// through a file on a RAM disk, one per process (so -jobs/-workers runs do not
// collide), rewritten for every input and removed at exit.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fuzz_util {

inline const std::string& temp_path(const char* suffix) {
  static const std::string path = [suffix] {
    const char* dir = std::getenv("SAM_FUZZ_TMPDIR");
    if (!dir) dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string p = dir;
    p += "/sam_fuzz_";
    p += std::to_string(::getpid());
    p += suffix;
    std::atexit([] { std::remove(temp_path("").c_str()); });
    return p;
  }();
  return path;
}

// Writes the input to the per-process file and returns its path.
inline const std::string& write_input(const uint8_t* data, size_t size, const char* suffix) {
  const std::string& path = temp_path(suffix);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace fuzz_util
