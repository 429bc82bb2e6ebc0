#include <sys/mman.h>

#include "engine/arena.h"

#include <cstdlib>

namespace engine {

void Arena::reserve(size_t capacity_bytes) {
  check(used_ == 0, "arena: reserve() while {} bytes are in use", used_);
  if (capacity_bytes <= capacity_) return;
  const size_t padded = (capacity_bytes + 4095) / 4096 * 4096;
  void* p = std::aligned_alloc(4096, padded);
  check(p != nullptr, "arena: out of memory reserving {} bytes", padded);
  block_ = std::unique_ptr<std::byte, void (*)(void*)>(static_cast<std::byte*>(p), std::free);
  capacity_ = padded;
}

void Arena::release_pages() {
  check(used_ == 0, "arena: release_pages() while {} bytes are in use", used_);
  if (block_) madvise(block_.get(), capacity_, MADV_DONTNEED);  // page-aligned block (reserve)
}

void* Arena::allocate(size_t bytes, size_t alignment) {
  check(alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= 4096,
        "arena: bad alignment {}", alignment);
  const size_t start = (used_ + alignment - 1) & ~(alignment - 1);
  check(start <= capacity_ && bytes <= capacity_ - start,
        "arena exhausted: {} bytes requested, {} of {} in use", bytes, used_, capacity_);
  used_ = start + bytes;
  if (used_ > high_water_) high_water_ = used_;
  return block_.get() + start;
}

Tensor Arena::tensor(DType dtype, const Shape& shape) {
  const int64_t bytes = checked_mul(shape.numel(), static_cast<int64_t>(dtype_size(dtype)));
  return Tensor::from_blob(allocate(static_cast<size_t>(bytes)), dtype, shape);
}

}  // namespace engine
