// The CUDA device layer (engine/cuda_device.h). The availability probe and the
// arena's arithmetic run everywhere; without a device, allocations must fail
// with engine::Error naming the call; with one, copies, streams, the arena and
// the f16 / bf16 weight upload are checked against host data.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "engine/cuda_device.h"
#include "engine/error.h"
#include "kernels/convert.h"

using engine::cuda::cuda_available;

TEST_CASE("cuda_available answers without throwing", "[cuda]") {
  bool ok = false;
  REQUIRE_NOTHROW(ok = cuda_available());
  REQUIRE(cuda_available() == ok);  // the same answer every time
  if (!ok) {
    REQUIRE_FALSE(engine::cuda::cuda_unavailable_reason().empty());
    WARN("no CUDA device here (" << engine::cuda::cuda_unavailable_reason() << "): the CUDA kernel tests skip");
  } else {
    REQUIRE(engine::cuda::cuda_unavailable_reason().empty());
    const engine::cuda::DeviceInfo info = engine::cuda::device_info();
    WARN("CUDA device " << info.index << ": " << info.name << ", compute capability " << info.cc_major << "."
                        << info.cc_minor << ", " << info.sm_count << " SMs");
  }
}

TEST_CASE("without a device, allocations fail with the call and CUDA's error", "[cuda]") {
  if (cuda_available() || engine::cuda::cuda_unavailable_reason() == "SAM_NO_CUDA=1") {
    WARN("skipped: a CUDA device may be present (this test covers machines without one)");
    return;
  }
  try {
    engine::cuda::DeviceBuffer b(1024, "test buffer");
    FAIL("cudaMalloc succeeded without a device");
  } catch (const engine::Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    REQUIRE(msg.find("cuda: cudaMalloc of 1024 bytes (test buffer): cuda") == 0);
  }
  engine::cuda::DeviceArena arena;
  REQUIRE_THROWS_AS(arena.reserve(1 << 20), engine::Error);
  REQUIRE(arena.capacity() == 0);
  REQUIRE_THROWS_AS(engine::cuda::Stream(), engine::Error);
}

TEST_CASE("device arena bump allocation over an adopted block", "[cuda]") {
  // The arithmetic only: the adopted block is host memory that is never dereferenced.
  alignas(4096) static std::byte block[8192];
  engine::cuda::DeviceArena a;
  a.adopt(block + 3, 5000);  // deliberately misaligned base
  void* p1 = a.allocate(10);
  REQUIRE(reinterpret_cast<uintptr_t>(p1) % 256 == 0);
  REQUIRE(static_cast<std::byte*>(p1) >= block + 3);
  void* p2 = a.allocate(100, 16);
  REQUIRE(reinterpret_cast<uintptr_t>(p2) % 16 == 0);
  REQUIRE(static_cast<std::byte*>(p2) >= static_cast<std::byte*>(p1) + 10);
  float* f = a.allocate_n<float>(8);
  REQUIRE(reinterpret_cast<uintptr_t>(f) % 256 == 0);
  const size_t used = a.used();
  REQUIRE_THROWS_AS(a.allocate(5000), engine::Error);  // exhausted: throws, state unchanged
  REQUIRE(a.used() == used);
  REQUIRE_THROWS_AS(a.allocate(8, 3), engine::Error);  // not a power of two
  REQUIRE_THROWS_AS(a.adopt(block, 100), engine::Error);  // not while in use
  a.reset();
  REQUIRE(a.used() == 0);
  REQUIRE(a.high_water() >= used);
  REQUIRE(a.allocate(4000, 1) == block + 3);
}

TEST_CASE("device buffers, streams and copies round-trip", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  std::vector<float> host(1000);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i) * 0.5f - 7.f;
  engine::cuda::DeviceBuffer b = engine::cuda::upload_vector(host);
  REQUIRE(b.bytes() == host.size() * sizeof(float));
  REQUIRE(engine::cuda::download_vector<float>(b.data(), host.size()) == host);

  engine::cuda::Stream s;
  std::vector<float> back(host.size(), 0.f);
  engine::cuda::DeviceBuffer c(host.size() * sizeof(float));
  engine::cuda::upload(c.data(), host.data(), host.size() * sizeof(float), s.get());
  engine::cuda::download(back.data(), c.data(), host.size() * sizeof(float), s.get());
  s.synchronize();
  REQUIRE(back == host);

  engine::cuda::DeviceBuffer moved = std::move(c);
  REQUIRE(c.empty());
  REQUIRE(moved.bytes() == host.size() * sizeof(float));
}

TEST_CASE("device arena over cudaMalloc", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  engine::cuda::DeviceArena a(1 << 20);
  REQUIRE(a.capacity() >= (1u << 20));
  float* x = a.allocate_n<float>(1000);
  REQUIRE(reinterpret_cast<uintptr_t>(x) % 256 == 0);
  std::vector<float> host(1000, 3.f);
  engine::cuda::upload(x, host.data(), host.size() * sizeof(float));
  REQUIRE(engine::cuda::download_vector<float>(x, host.size()) == host);
  REQUIRE_THROWS_AS(a.allocate(2 << 20), engine::Error);
  REQUIRE_THROWS_AS(a.reserve(4 << 20), engine::Error);  // not while in use
  a.reset();
  a.reserve(4 << 20);
  REQUIRE(a.capacity() >= (4u << 20));
}

TEST_CASE("weights upload once as f32, f16 or bf16, bit-exact with the host conversion", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  std::mt19937 rng(4);
  std::vector<float> w = cuda_test::random_matrix(1, 777, 777, rng, 3.f);
  w[0] = 1e-6f;    // f16 subnormal
  w[1] = 70000.f;  // f16 overflow
  const engine::cuda::DeviceBuffer f32 = engine::cuda::upload_weights(w.data(), w.size(), engine::cuda::WeightType::F32, "w");
  REQUIRE(engine::cuda::download_vector<float>(f32.data(), w.size()) == w);
  std::vector<uint16_t> want(w.size());
  const engine::cuda::DeviceBuffer f16 = engine::cuda::upload_weights(w.data(), w.size(), engine::cuda::WeightType::F16, "w");
  kernels::ref::convert_f32_to_f16(w.data(), want.data(), w.size());
  REQUIRE(engine::cuda::download_vector<uint16_t>(f16.data(), w.size()) == want);
  const engine::cuda::DeviceBuffer bf16 =
      engine::cuda::upload_weights(w.data(), w.size(), engine::cuda::WeightType::BF16, "w");
  kernels::ref::convert_f32_to_bf16(w.data(), want.data(), w.size());
  REQUIRE(engine::cuda::download_vector<uint16_t>(bf16.data(), w.size()) == want);
}

TEST_CASE("CUDA errors carry the call and CUDA's text", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  try {
    engine::cuda::DeviceBuffer huge(size_t{1} << 62, "absurd");
    FAIL("a 4 EiB cudaMalloc succeeded");
  } catch (const engine::Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    REQUIRE(msg.find("cuda: cudaMalloc of 4611686018427387904 bytes (absurd): cudaErrorMemoryAllocation") == 0);
  }
  // A bad launch argument comes back as engine::Error with the caller's context.
  REQUIRE_THROWS_WITH(engine::cuda::launch("block 3 attention", [] { throw std::invalid_argument("cuda x: bad"); }),
                      "block 3 attention: cuda x: bad");
}
