#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/arena.h"
#include "engine/error.h"

using engine::Arena;
using engine::DType;
using engine::Shape;

namespace {
uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }
size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }
}  // namespace

TEST_CASE("arena allocations are aligned and bump-allocated", "[arena]") {
  Arena arena(10007);
  REQUIRE(arena.capacity() >= 10007);
  CHECK(arena.used() == 0);
  CHECK(arena.high_water() == 0);

  // First allocation sits at the block start; the block is at least 64-byte aligned.
  void* first = arena.allocate(1);
  CHECK(addr(first) % engine::kTensorAlignment == 0);
  CHECK(arena.used() == 1);
  const uintptr_t base = addr(first);

  struct Req {
    size_t bytes, align;
  };
  const std::vector<Req> reqs = {{3, 1},  {5, 2},   {7, 64},  {13, 8},   {0, 16}, {1, 4096},
                                 {17, 64}, {31, 128}, {1021, 32}, {2, 1}, {0, 64},  {97, 256}};
  size_t expected_used = 1;
  for (const Req& r : reqs) {
    INFO("bytes " << r.bytes << " alignment " << r.align);
    void* p = arena.allocate(r.bytes, r.align);
    CHECK(addr(p) % r.align == 0);
    const size_t start = round_up(expected_used, r.align);
    CHECK(addr(p) - base == start);
    expected_used = start + r.bytes;
    CHECK(arena.used() == expected_used);
    CHECK(arena.high_water() == expected_used);
    // The memory is usable (ASan would flag writes outside the block).
    std::memset(p, 0xAB, r.bytes);
  }

  // Default alignment is the tensor alignment.
  void* d = arena.allocate(10);
  CHECK(addr(d) % 64 == 0);
  CHECK(addr(d) - base == round_up(expected_used, 64));
  const size_t peak = arena.used();

  arena.reset();
  CHECK(arena.used() == 0);
  CHECK(arena.high_water() == peak);
  // After reset the same memory is handed out again.
  CHECK(arena.allocate(5) == first);
  CHECK(arena.high_water() == peak);
}

TEST_CASE("arena exhaustion throws engine::Error and leaves the arena usable", "[arena]") {
  Arena arena(4096);
  const size_t cap = arena.capacity();
  REQUIRE(cap >= 4096);
  try {
    arena.allocate(cap + 1);
    FAIL("over-allocation accepted");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("exhausted"));
  }
  CHECK(arena.used() == 0);

  arena.allocate(cap - 100, 1);
  CHECK(arena.used() == cap - 100);
  CHECK_THROWS_AS(arena.allocate(101, 1), engine::Error);
  CHECK(arena.used() == cap - 100);
  // Alignment padding counts: 100 bytes remain but the aligned start is further on.
  const size_t start64 = round_up(cap - 100, 64);
  CHECK_THROWS_AS(arena.allocate(cap - start64 + 1, 64), engine::Error);
  // A page-aligned start lands exactly at the end of the block: no room for a byte.
  CHECK_THROWS_AS(arena.allocate(1, 4096), engine::Error);
  // Exactly what is left fits.
  CHECK_NOTHROW(arena.allocate(100, 1));
  CHECK(arena.used() == cap);
  CHECK_THROWS_AS(arena.allocate(1, 1), engine::Error);
  // Sizes near SIZE_MAX must not wrap around.
  CHECK_THROWS_AS(arena.allocate(SIZE_MAX, 1), engine::Error);
  arena.reset();
  CHECK_THROWS_AS(arena.allocate(SIZE_MAX - 10, 64), engine::Error);
  CHECK_THROWS_AS(arena.allocate(SIZE_MAX), engine::Error);
  CHECK(arena.used() == 0);

  // Bad alignments.
  CHECK_THROWS_AS(arena.allocate(8, 0), engine::Error);
  CHECK_THROWS_AS(arena.allocate(8, 3), engine::Error);
  CHECK_THROWS_AS(arena.allocate(8, 48), engine::Error);
  CHECK_THROWS_AS(arena.allocate(8, 8192), engine::Error);

  // An arena that was never reserved refuses everything non-empty.
  Arena none;
  CHECK(none.capacity() == 0);
  CHECK_THROWS_AS(none.allocate(1), engine::Error);
  CHECK_THROWS_AS(none.tensor(DType::F32, {1}), engine::Error);
}

TEST_CASE("arena tensors are contiguous views inside the block", "[arena]") {
  Arena arena(1 << 16);
  const uintptr_t lo = addr(arena.allocate(0));
  const uintptr_t hi = lo + arena.capacity();
  arena.reset();

  engine::Tensor a = arena.tensor(DType::F32, {7, 13});
  engine::Tensor b = arena.tensor(DType::U8, {3});
  engine::Tensor c = arena.tensor(DType::BF16, {5, 1, 11});
  engine::Tensor z = arena.tensor(DType::I32, {0, 9});
  std::vector<const engine::Tensor*> all = {&a, &b, &c, &z};
  for (const engine::Tensor* t : all) {
    CHECK(t->is_contiguous());
    CHECK(addr(t->raw_data()) % engine::kTensorAlignment == 0);
    CHECK(addr(t->raw_data()) >= lo);
    CHECK(addr(t->raw_data()) + t->nbytes() <= hi);
  }
  CHECK(a.shape() == Shape{7, 13});
  CHECK(c.dtype() == DType::BF16);
  // Non-empty tensors do not overlap.
  std::vector<const engine::Tensor*> nonempty = {&a, &b, &c};
  for (size_t i = 0; i < nonempty.size(); ++i)
    for (size_t j = i + 1; j < nonempty.size(); ++j) {
      const uintptr_t a0 = addr(nonempty[i]->raw_data()), a1 = a0 + nonempty[i]->nbytes();
      const uintptr_t b0 = addr(nonempty[j]->raw_data()), b1 = b0 + nonempty[j]->nbytes();
      CHECK((a1 <= b0 || b1 <= a0));
    }
  // used() accounts for every byte of the last tensor.
  CHECK(arena.used() >= addr(c.raw_data()) - lo + c.nbytes());

  // Values written through one tensor survive writes through the others.
  float* pa = a.data<float>();
  for (int i = 0; i < 91; ++i) pa[i] = static_cast<float>(i) + 0.5f;
  std::memset(b.raw_data(), 0xFF, b.nbytes());
  std::memset(c.raw_data(), 0xEE, c.nbytes());
  for (int i = 0; i < 91; ++i) REQUIRE(pa[i] == static_cast<float>(i) + 0.5f);

  // Too large a tensor, or an overflowing shape, throws.
  CHECK_THROWS_AS(arena.tensor(DType::F32, {1 << 16}), engine::Error);
  CHECK_THROWS_AS(arena.tensor(DType::F32, {int64_t{1} << 62, 4}), engine::Error);
  CHECK_THROWS_AS(arena.tensor(DType::F32, {-1}), engine::Error);
}

TEST_CASE("arena reserve is refused while allocations are live", "[arena]") {
  Arena arena;
  arena.reserve(100);
  const size_t cap = arena.capacity();
  CHECK(cap >= 100);
  arena.allocate(10);
  try {
    arena.reserve(1 << 20);
    FAIL("reserve while in use accepted");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("in use"));
  }
  CHECK(arena.capacity() == cap);
  CHECK(arena.used() == 10);
  arena.reset();
  arena.reserve(50);  // smaller: keeps the block
  CHECK(arena.capacity() == cap);
  arena.reserve(cap + 12345);  // larger: replaces it
  CHECK(arena.capacity() >= cap + 12345);
  void* p = arena.allocate(cap + 12345, 1);
  std::memset(p, 1, cap + 12345);
  CHECK(arena.used() == cap + 12345);
}
