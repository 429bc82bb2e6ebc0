// The output contract's building blocks (engine/io/output_guard.h,
// cleanup_registry.h) and a mapped file truncated while in use (mapped_file.h).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/error.h"
#include "engine/io/cleanup_registry.h"
#include "engine/io/mapped_file.h"
#include "engine/io/output_guard.h"
#include "test_util.h"

namespace {
namespace fs = std::filesystem;

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const engine::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("outputs never overwrite inputs, hard links included", "[output_guard]") {
  test_util::TempDir dir;
  const fs::path model = dir.path() / "model.safetensors", link = dir.path() / "link.npy";
  write_file(model, "weights");
  fs::create_hard_link(model, link);
  const std::vector<engine::InputFile> inputs = {{"--model", model.string()}};
  CHECK(message_of([&] { engine::check_not_an_input("--save-logits", link.string(), inputs); }) ==
        "--save-logits " + link.string() + ": is the --model input; outputs never overwrite inputs");
  CHECK_NOTHROW(engine::check_not_an_input("--save-logits", (dir.path() / "new.npy").string(), inputs));
  CHECK(engine::same_path((dir.path() / "a" / ".." / "x.npy").string(), (dir.path() / "x.npy").string()));
  CHECK(engine::is_inside((dir.path() / "out" / "l.npy").string(), (dir.path() / "out").string()));
  CHECK_FALSE(engine::is_inside((dir.path() / "outside.npy").string(), (dir.path() / "out").string()));
}

TEST_CASE("an existing output is replaced only with --overwrite, and only if ours", "[output_guard]") {
  test_util::TempDir dir;
  const fs::path p = dir.path() / "x.npy", empty = dir.path() / "empty.npy";
  write_file(p, "user data");
  write_file(empty, "");
  auto npy = [](const std::string& f) { return engine::starts_with_bytes(f, "\x93NUMPY") ? "" : "not a .npy file"; };
  CHECK_NOTHROW(engine::check_replaceable_file(empty.string(), false, "sam segment", npy));
  CHECK(message_of([&] { engine::check_replaceable_file(p.string(), false, "sam segment", npy); }) ==
        p.string() + ": already exists (use --overwrite to replace it)");
  CHECK(message_of([&] { engine::check_replaceable_file(p.string(), true, "sam segment", npy); }) ==
        p.string() + ": not written by sam segment (not a .npy file); --overwrite replaces only such files");
  write_file(p, "\x93NUMPY rest");
  CHECK_NOTHROW(engine::check_replaceable_file(p.string(), true, "sam segment", npy));
}

TEST_CASE("temporaries of dead processes are recognised by the pid in their name", "[output_guard]") {
  CHECK(engine::cleanup::is_stale_temporary(".sam-staging-2147483646-abcdef", ".sam-staging-"));
  CHECK_FALSE(engine::cleanup::is_stale_temporary(".sam-staging-" + engine::cleanup::pid_tag() + "-abcdef",
                                                  ".sam-staging-"));
  CHECK_FALSE(engine::cleanup::is_stale_temporary(".sam-staging-1-abcdef", ".sam-staging-"));  // init lives
  CHECK_FALSE(engine::cleanup::is_stale_temporary(".sam-staging-abcdef", ".sam-staging-"));    // no pid: ignored
  CHECK_FALSE(engine::cleanup::is_stale_temporary("notes.txt", ".sam-staging-"));
}

TEST_CASE("a mapped file truncated while in use reads zeros and is reported, not SIGBUS", "[output_guard]") {
  test_util::TempDir dir;
  const fs::path p = dir.path() / "model.bin";
  write_file(p, std::string(1 << 20, '\x7f'));
  const auto m = engine::MappedFile::open(p.string());
  CHECK_NOTHROW(m->check_unchanged());
  fs::resize_file(p, 4096);
  const volatile std::byte* data = m->data();
  CHECK(static_cast<int>(data[(1 << 20) - 1]) == 0);  // past the new end: a zero page, not SIGBUS
  CHECK(static_cast<int>(data[10]) == 0x7f);
  CHECK(message_of([&] { engine::MappedFile::check_all_unchanged(); }) ==
        p.string() + ": changed while in use (truncated or rewritten in place); no result is kept");
}
