// Replays every seed of the fuzz corpora (tests/fuzz/corpus/<target>/, including
// the inputs that found bugs) through the libFuzzer targets' own entry points, in
// the unit tests: so the regressions also run in the ordinary and the ASan + UBSan
// builds, without clang. (fuzz_prompts needs the CLI's sources and is left to
// scripts/fuzz.sh.) tests/CMakeLists.txt compiles each fuzz_<target>.cpp into
// unit_tests with LLVMFuzzerTestOneInput renamed to replay_<target>.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_util.h"

extern "C" int replay_pickle(const uint8_t* data, size_t size);
extern "C" int replay_zip_checkpoint(const uint8_t* data, size_t size);
extern "C" int replay_safetensors(const uint8_t* data, size_t size);
extern "C" int replay_npy(const uint8_t* data, size_t size);
extern "C" int replay_image(const uint8_t* data, size_t size);

namespace {

void replay_dir(const std::filesystem::path& dir, int (*fn)(const uint8_t*, size_t)) {
  REQUIRE(std::filesystem::is_directory(dir));
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    INFO(e.path().string());
    const std::vector<unsigned char> bytes = test_util::read_bytes(e.path().string());
    CHECK(fn(bytes.data(), bytes.size()) == 0);
    ++n;
  }
  CHECK(n > 0);
  CHECK(fn(nullptr, 0) == 0);  // the empty input
}

void replay(const std::string& target, int (*fn)(const uint8_t*, size_t)) {
  replay_dir(std::filesystem::path(SAM_FUZZ_CORPUS) / target, fn);
}

}  // namespace

TEST_CASE("fuzz seeds replay cleanly: pickle", "[fuzz_seeds]") { replay("pickle", replay_pickle); }
// The zip_checkpoint seeds are checkpoints (.pth), never committed: the ctest
// entry fuzz_seeds_zip_checkpoint writes them into the build tree
// (tests/fuzz/make_seeds.py --zip-checkpoint-only) and passes the folder in SAM_ZIP_SEEDS.
TEST_CASE("fuzz seeds replay cleanly: zip checkpoint", "[.][fuzz_seeds_zip]") {
  const char* dir = std::getenv("SAM_ZIP_SEEDS");
  if (!dir) FAIL("SAM_ZIP_SEEDS is not set: run this test through ctest (fuzz_seeds_zip_checkpoint)");
  replay_dir(dir, replay_zip_checkpoint);
}
TEST_CASE("fuzz seeds replay cleanly: safetensors", "[fuzz_seeds]") { replay("safetensors", replay_safetensors); }
TEST_CASE("fuzz seeds replay cleanly: npy", "[fuzz_seeds]") { replay("npy", replay_npy); }
TEST_CASE("fuzz seeds replay cleanly: image", "[fuzz_seeds]") { replay("image", replay_image); }
