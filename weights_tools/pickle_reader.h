// An allow-list unpickler for the subset of pickle that torch.save writes for
// a state_dict (protocol 2): dicts, lists, tuples, strings, numbers, and the
// globals collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter and the torch.*Storage classes. Storages
// come in as persistent ids ('storage', torch.FloatStorage, '0', 'cpu', numel).
//
// Nothing from the file is executed: a GLOBAL outside the allow-list, an
// unknown opcode, or a structure torch.save would not produce is an error
// naming the offset. Every length is checked against the bytes that remain
// before anything is allocated; stack depth and memo size are bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "torch_dtype.h"

namespace weights_tools {

// One tensor of the state_dict as the pickle describes it.
struct TensorRecord {
  std::string name;          // state_dict key
  std::string storage_key;   // archive entry "data/<key>"
  TorchDType dtype = TorchDType::F32;
  int64_t storage_numel = 0;  // elements in the whole storage
  int64_t storage_offset = 0; // in elements
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements
};

// Parses data.pkl. The top-level object must be a dict (OrderedDict) from
// string keys to tensors; anything else is refused with a reason.
std::vector<TensorRecord> read_state_dict_pickle(const std::byte* data, size_t size);

}  // namespace weights_tools
