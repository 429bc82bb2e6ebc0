// Activation arena: one block reserved up front, bump-allocated during a
// forward pass, reset between passes. Nothing is freed individually and
// nothing is allocated from the heap once the arena is reserved.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/tensor.h"

namespace engine {

class Arena {
 public:
  Arena() = default;
  explicit Arena(size_t capacity_bytes) { reserve(capacity_bytes); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Allocates the backing block (64-byte aligned). Only allowed while empty;
  // a second reserve with a larger size replaces the block.
  void reserve(size_t capacity_bytes);

  // `bytes` from the arena, aligned to `alignment` (a power of two <= 4096).
  // Throws engine::Error when the reservation is exhausted: the arena never grows
  // silently, so an undersized plan is caught in tests, not hidden by malloc.
  void* allocate(size_t bytes, size_t alignment = kTensorAlignment);

  // A contiguous tensor living in the arena (a borrowed view: valid until reset()).
  Tensor tensor(DType dtype, const Shape& shape);

  // Forgets every allocation; the block stays reserved.
  void reset() { used_ = 0; }
  // Returns the block's pages to the OS (madvise DONTNEED) while keeping the
  // reservation: the next pass faults in zero pages. Only allowed while empty.
  void release_pages();

  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }
  size_t high_water() const { return high_water_; }

 private:
  std::unique_ptr<std::byte, void (*)(void*)> block_{nullptr, nullptr};
  size_t capacity_ = 0;
  size_t used_ = 0;
  size_t high_water_ = 0;
};

}  // namespace engine
