// What SAM asks of an image encoder, whatever its family (ViT today; MobileSAM's
// TinyViT or another backbone is a new implementation of this interface and a
// variant line in variants.cpp, not edits across the model).
#pragma once

#include <cstddef>
#include <memory>

#include "engine/arena.h"
#include "engine/tensor.h"
#include "sam/tracer.h"

namespace sam {

// The activation memory of one image-encoder pass: owned by a session (one per
// thread), never shared. The encoder that made it decides its layout.
class EncoderWorkspace {
 public:
  EncoderWorkspace() : arena_(std::make_unique<engine::Arena>()) {}
  size_t bytes() const { return arena_ ? arena_->capacity() : 0; }           // reserved
  size_t high_water() const { return arena_ ? arena_->high_water() : 0; }   // most used by a pass
  // Returns the pages to the OS between passes (the reservation stays; the
  // next pass faults them in again).
  void release_pages() {
    if (!arena_) return;
    arena_->reset();
    arena_->release_pages();
  }
  // For encoder implementations: the arena (re-created if moved from) and the
  // number of pool threads its per-worker scratch was sized for.
  engine::Arena& arena() {
    if (!arena_) arena_ = std::make_unique<engine::Arena>();
    return *arena_;
  }
  int threads() const { return threads_; }
  void set_threads(int threads) { threads_ = threads; }

 private:
  std::unique_ptr<engine::Arena> arena_;
  int threads_ = 0;
};

// Sam.image_encoder: [1, 3, S, S] normalised, padded input -> image embedding
// [1, prompt_embed_dim, G, G]. Immutable after construction; forward() is
// reentrant (each caller brings its own workspace).
class ImageEncoder {
 public:
  virtual ~ImageEncoder() = default;
  // A workspace reserved for one pass with the current pool's threads.
  virtual EncoderWorkspace make_workspace() const = 0;
  // x is dropped as soon as the encoder no longer needs it (pass it moved to
  // free it early). With a tracer, submodule outputs are reported under their
  // official module paths and layouts.
  virtual engine::Tensor forward(engine::Tensor x, EncoderWorkspace& ws, Tracer* tracer = nullptr) const = 0;
};

}  // namespace sam
