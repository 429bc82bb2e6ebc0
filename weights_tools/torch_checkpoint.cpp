#include "torch_checkpoint.h"

#include <cstring>

#include "engine/error.h"

namespace weights_tools {
namespace {
// data.pkl of vit_h is 100 KB; the unpickler's memory is bounded separately.
constexpr size_t kMaxPickleBytes = 64u << 20;
}

TorchCheckpoint::TorchCheckpoint(const std::string& path) : path_(path), zip_(path) {
  std::string pkl;
  for (const std::string& n : zip_.names()) {
    const auto slash = n.find('/');
    if (slash != std::string::npos && n.compare(slash, std::string::npos, "/data.pkl") == 0) {
      engine::check(pkl.empty(), "{}: archive holds more than one data.pkl", path);
      pkl = n;
      prefix_ = n.substr(0, slash + 1);
    }
  }
  engine::check(!pkl.empty(), "{}: zip archive without <name>/data.pkl: not a PyTorch checkpoint", path);
  if (zip_.contains(prefix_ + "byteorder")) {
    const auto order = zip_.read(prefix_ + "byteorder", 16);
    const std::string s(reinterpret_cast<const char*>(order.data()), order.size());
    engine::check(s == "little", "{}: byteorder '{}' is not supported (little-endian only)", path, s);
  }
  const std::vector<std::byte> bytes = zip_.read(pkl, kMaxPickleBytes);
  tensors_ = engine::with_context(path, [&] { return read_state_dict_pickle(bytes.data(), bytes.size()); });
  for (const TensorRecord& t : tensors_) {
    const std::string entry = prefix_ + "data/" + t.storage_key;
    engine::check(zip_.contains(entry), "{}: tensor '{}' refers to storage '{}', which the archive lacks", path,
                  t.name, entry);
    const size_t esize = torch_dtype_size(t.dtype);
    const uint64_t want = static_cast<uint64_t>(engine::checked_mul(t.storage_numel, static_cast<int64_t>(esize)));
    const uint64_t have = zip_.size(entry);
    engine::check(have == want, "{}: storage '{}' of tensor '{}' holds {} bytes, expected {} ({} x {})", path, entry,
                  t.name, have, want, t.storage_numel, torch_dtype_name(t.dtype));
  }
}

engine::Tensor TorchCheckpoint::read(const TensorRecord& r) const {
  const auto dtype = to_engine_dtype(r.dtype);
  engine::check(dtype.has_value(), "{}: tensor '{}' has dtype {}, expected a floating type", path_, r.name,
                torch_dtype_name(r.dtype));
  const std::string entry = prefix_ + "data/" + r.storage_key;
  const engine::Shape shape{std::span<const int64_t>(r.shape)};
  const size_t esize = engine::dtype_size(*dtype);
  engine::Tensor out = engine::Tensor::empty(*dtype, shape);
  if (out.numel() == 0) return out;
  const engine::Shape strides{std::span<const int64_t>(r.strides)};
  const engine::Tensor probe = engine::Tensor::from_blob(nullptr, *dtype, shape, strides);
  if (probe.is_contiguous()) {
    zip_.read_range(entry, static_cast<uint64_t>(r.storage_offset) * esize, out.raw_data(), out.nbytes());
    return out;
  }
  // A strided view: read the span it covers, then gather.
  int64_t last = r.storage_offset;
  for (size_t i = 0; i < r.shape.size(); ++i) last += (r.shape[i] - 1) * r.strides[i];
  const int64_t span = last - r.storage_offset + 1;
  engine::Tensor window = engine::Tensor::empty(*dtype, engine::Shape{span});
  zip_.read_range(entry, static_cast<uint64_t>(r.storage_offset) * esize, window.raw_data(), window.nbytes());
  out.copy_from(engine::Tensor::from_blob(window.raw_data(), *dtype, shape, strides));
  return out;
}

}  // namespace weights_tools
