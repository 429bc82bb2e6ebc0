// What of a model file stays in RSS (sam/io/weights.cpp, the encoders' make_linear, model_identity):
// small tensors are copied out of the mapping at load, and a weight packed at load leaves RSS and is not
// touched again, neither by the model nor by model_identity(). Observed through /proc/self/maps and the
// present bits of /proc/self/pagemap (readable by the process itself without privileges).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "engine/tensor.h"
#include "random_checkpoint.h"
#include "sam/io/embedding_cache.h"
#include "sam/io/weights.h"
#include "sam/modeling/sam_model.h"
#include "sam/modeling/variants.h"
#include "sam/modeling/weight_schema.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;

struct Range {
  uintptr_t begin = 0, end = 0;
  bool contains(const void* p) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    return a >= begin && a < end;
  }
};

// The address range mapped from `path` (its one mapping), from /proc/self/maps.
Range mapping_of(const std::string& path) {
  const std::string want = fs::canonical(path).string();
  std::ifstream maps("/proc/self/maps");
  Range r;
  for (std::string line; std::getline(maps, line);) {
    if (line.size() < want.size() || line.compare(line.size() - want.size(), want.size(), want) != 0) continue;
    std::istringstream in(line);
    std::string span;
    in >> span;
    const uintptr_t b = std::stoull(span.substr(0, span.find('-')), nullptr, 16);
    const uintptr_t e = std::stoull(span.substr(span.find('-') + 1), nullptr, 16);
    if (r.begin == 0 || b < r.begin) r.begin = b;
    if (e > r.end) r.end = e;
  }
  return r;
}

// Pages wholly inside [p, p + bytes) that are mapped into this process now; -1 if pagemap is unreadable.
int64_t present_pages(const void* p, size_t bytes) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t lo = (a + page - 1) / page, hi = (a + bytes) / page;
  std::FILE* f = std::fopen("/proc/self/pagemap", "rb");
  if (!f) return -1;
  int64_t n = 0;
  for (uintptr_t i = lo; i < hi; ++i) {
    uint64_t e = 0;
    if (std::fseek(f, static_cast<long>(i * 8), SEEK_SET) != 0 || std::fread(&e, 8, 1, f) != 1) {
      std::fclose(f);
      return -1;
    }
    n += static_cast<int64_t>(e >> 63);
  }
  std::fclose(f);
  return n;
}

}  // namespace

TEST_CASE("model file pages: small tensors copied at load, packed weights leave RSS, model_identity touches none",
          "[weights]") {
  test_util::TempDir tmp;
  const std::string path = tmp.file("vit_t_bf16.safetensors");
  const sam::SamVariant* variant = sam::find_variant("vit_t");
  REQUIRE(variant != nullptr);
  // A bf16 file: under f32 precision its matrices are widened, packed, and both the widened copy and the
  // mapped pages dropped; get() of any of them afterwards would widen it again (and fault its pages back).
  weights_tools::write_random_checkpoint(variant->config, 11, path, engine::DType::BF16, false);
  auto weights = sam::Weights::load(path);
  const Range map = mapping_of(path);
  REQUIRE(map.end > map.begin);

  // 1. Up to 64 KiB: owned copies; larger: views of the file.
  int small = 0, large = 0;
  for (const auto& spec : sam::expected_weights(weights->config())) {
    const engine::Tensor& t = weights->stored(spec.name);
    INFO(spec.name << " " << t.nbytes() << " bytes");
    if (t.nbytes() <= 64 * 1024) {
      CHECK_FALSE(map.contains(t.raw_data()));
      ++small;
    } else {
      CHECK(map.contains(t.raw_data()));
      ++large;
    }
  }
  CHECK(small > 100);
  CHECK(large > 10);

  // 2. The model packs the encoder's matrices and releases them; model_identity() reads shapes only.
  const sam::SamModel model(weights);
  const std::string id = sam::model_identity(*weights);
  CHECK(id.size() == 64);
  int checked = 0;
  for (const char* name : {"image_encoder.layers.3.blocks.0.mlp.fc1.weight",
                           "image_encoder.layers.3.blocks.1.mlp.fc2.weight",
                           "image_encoder.layers.3.blocks.1.attn.qkv.weight"}) {
    const engine::Tensor& t = weights->stored(name);
    INFO(name << " " << t.nbytes() << " bytes");
    REQUIRE(t.nbytes() > 256 * 1024);  // several whole pages
    const int64_t present = present_pages(t.raw_data(), t.nbytes());
    if (present < 0) {
      WARN("/proc/self/pagemap is not readable here: the residency half of this test did not run");
      return;
    }
    CHECK(present == 0);
    ++checked;
  }
  CHECK(checked == 3);
}
