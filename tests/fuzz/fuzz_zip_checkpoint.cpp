// libFuzzer target: a whole PyTorch checkpoint (zip + data.pkl + storages) read
// by TorchCheckpoint, and every floating tensor in it read back.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "fuzz_util.h"
#include "torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz_util::write_input(data, size, ".pth");
  try {
    weights_tools::TorchCheckpoint ck(path);
    for (const weights_tools::TensorRecord& r : ck.tensors()) {
      if (!weights_tools::to_engine_dtype(r.dtype)) continue;
      try {
        const engine::Tensor t = ck.read(r);
        volatile uint8_t sink = t.nbytes() ? static_cast<const uint8_t*>(t.raw_data())[t.nbytes() - 1] : 0;
        (void)sink;
      } catch (const std::exception&) {
      }
    }
  } catch (const std::exception&) {
  }
  return 0;
}
