// libFuzzer target: the .npy reader (raw bytes of any dtype, and as a tensor
// with the header comment that tags cached embeddings).
#include <cstddef>
#include <cstdint>
#include <exception>

#include "engine/io/npy.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz_util::write_input(data, size, ".npy");
  try {
    const engine::NpyArray a = engine::read_npy_raw(path);
    volatile size_t n = a.data.size() + a.comment.size() + static_cast<size_t>(a.shape.numel());
    (void)n;
  } catch (const std::exception&) {
  }
  try {
    std::string comment;
    const engine::Tensor t = engine::read_npy(path, &comment);
    volatile size_t n = t.nbytes() + comment.size();
    (void)n;
  } catch (const std::exception&) {
  }
  return 0;
}
