// The device activation arena (engine/cuda_device.h): engine::Arena's bump
// allocation over one cudaMalloc'd block (or a block the caller owns). The
// arithmetic never touches device memory, so it is tested without a GPU too.
#include <cstdint>

#include "engine/cuda_device.h"
#include "engine/error.h"

namespace engine::cuda {

void DeviceArena::reserve(size_t capacity_bytes) {
  engine::check(used_ == 0, "device arena: reserve() while {} bytes are in use", used_);
  if (capacity_bytes <= capacity_ && base_) return;
  const size_t padded = (capacity_bytes + 4095) / 4096 * 4096;
  owned_ = DeviceBuffer();  // free the old block first: the new one may need its memory
  base_ = nullptr;
  capacity_ = 0;
  owned_ = DeviceBuffer(padded, "device arena");
  base_ = owned_.as<std::byte>();
  capacity_ = padded;
}

void DeviceArena::adopt(void* base, size_t capacity_bytes) {
  engine::check(used_ == 0, "device arena: adopt() while {} bytes are in use", used_);
  engine::check(base != nullptr || capacity_bytes == 0, "device arena: adopt() of a null block of {} bytes", capacity_bytes);
  owned_ = DeviceBuffer();
  base_ = static_cast<std::byte*>(base);
  capacity_ = capacity_bytes;
}

void* DeviceArena::allocate(size_t bytes, size_t alignment) {
  engine::check(alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= 4096, "device arena: bad alignment {}",
        alignment);
  // Align the address, not the offset: an adopted block need not be 4096-aligned.
  const uintptr_t base = reinterpret_cast<uintptr_t>(base_);
  const size_t start = ((base + used_ + alignment - 1) & ~(uintptr_t{alignment} - 1)) - base;
  engine::check(base_ != nullptr && start <= capacity_ && bytes <= capacity_ - start,
        "device arena exhausted: {} bytes requested, {} of {} in use", bytes, used_, capacity_);
  used_ = start + bytes;
  if (used_ > high_water_) high_water_ = used_;
  return base_ + start;
}

}  // namespace engine::cuda
