// libFuzzer target: the safetensors reader, every tensor view it hands out
// (touched at both ends), and the model-file checks (variant detection, schema).
#include <cstddef>
#include <cstdint>
#include <exception>

#include "engine/io/safetensors.h"
#include "fuzz_util.h"
#include "sam/io/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz_util::write_input(data, size, ".safetensors");
  try {
    const engine::SafetensorsFile f = engine::SafetensorsFile::open(path);
    volatile uint8_t sink = 0;
    for (const engine::SafetensorsEntry& e : f.entries()) {
      const engine::Tensor t = f.tensor(e);
      if (t.nbytes()) {
        const auto* p = static_cast<const uint8_t*>(t.raw_data());
        sink = sink + p[0] + p[t.nbytes() - 1];
      }
    }
    (void)f.find("a");
  } catch (const std::exception&) {
  }
  try {
    const sam::ModelFile m = sam::ModelFile::open(path);
    (void)m.parameter_count();
  } catch (const std::exception&) {
  }
  return 0;
}
