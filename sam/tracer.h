// Per-layer trace hook: modules report each layer's output under its official
// module path (e.g. "image_encoder.blocks.3.attn"), in the layout the official
// module returns (so it can be compared with forward-hook dumps of the
// reference code). A null Tracer* costs nothing.
#pragma once

#include <string>

#include "engine/tensor.h"

namespace sam {

class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual void record(const std::string& module_path, const engine::Tensor& output) = 0;
  // False for tracers that only want the layer boundaries (timing): modules
  // then keep their fused fast paths and report the layers they still produce.
  virtual bool needs_tensors() const { return true; }
};

inline void trace(Tracer* t, const std::string& path, const engine::Tensor& out) {
  if (t) t->record(path, out);
}

}  // namespace sam
