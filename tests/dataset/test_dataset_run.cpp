// sam/dataset/dataset_run: shards, manifests, logs, resume ([dataset]).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "engine/error.h"
#include "sam/dataset/dataset_run.h"

namespace fs = std::filesystem;
namespace ds = sam::dataset;

namespace {
// A fresh folder under the temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sam-dataset-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<ds::Item> items_of(const std::vector<std::string>& keys) {
  std::vector<ds::Item> out;
  for (const auto& k : keys) out.push_back({k, k, 0});
  return out;
}
}  // namespace

TEST_CASE("fnv1a64 is the published FNV-1a 64 (stable across machines and versions)", "[dataset]") {
  // Test vectors of the FNV reference (Fowler/Noll/Vo, draft-eastlake-fnv).
  CHECK(ds::fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(ds::fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(ds::fnv1a64("foobar") == 0x85944171f73967e8ull);
  // Bytes, not chars: a high byte is not sign-extended.
  CHECK(ds::fnv1a64("\xff") == ((0xcbf29ce484222325ull ^ 0xffull) * 1099511628211ull));
  // The shard of a key only depends on the key and N.
  CHECK(ds::shard_of("images/000001.jpg", 4) == static_cast<int>(ds::fnv1a64("images/000001.jpg") % 4));
}

TEST_CASE("shard I/N parsing (--shard): 0-based, bounds, junk refused", "[dataset]") {
  CHECK(ds::parse_shard("").index == 0);
  CHECK(ds::parse_shard("").count == 1);
  const ds::Shard s = ds::parse_shard("3/4");
  CHECK(s.index == 3);
  CHECK(s.count == 4);
  CHECK(s.label() == "3/4");
  CHECK(s.file_tag() == "shard-3-of-4");
  CHECK(ds::parse_shard("0/1").count == 1);
  for (const char* bad : {"4/4", "-1/4", "1/0", "0/-2", "x/4", "1/", "/4", "1", "1/4/5", "1 /4", "1/4 ", "99999999999/4"})
    CHECK_THROWS_AS(ds::parse_shard(bad), engine::Error);
  try {
    ds::parse_shard("4/4");
  } catch (const engine::Error& e) {
    CHECK(std::string(e.what()).find("0-based") != std::string::npos);
  }
}

TEST_CASE("shards partition a dataset: every path in exactly one shard, whatever the order", "[dataset]") {
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("dir" + std::to_string(i % 7) + "/img_" + std::to_string(i) + ".jpg");
  for (int n : {1, 2, 3, 4, 7, 16}) {
    std::map<std::string, int> seen;
    std::vector<std::string> shuffled = keys;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(n));
    for (int i = 0; i < n; ++i) {
      const auto part = ds::select_shard(items_of(keys), {i, n});
      const auto part_shuffled = ds::select_shard(items_of(shuffled), {i, n});
      CHECK(part.size() == part_shuffled.size());  // the order of the list changes nothing
      std::set<std::string> a, b;
      for (const auto& it : part) a.insert(it.key);
      for (const auto& it : part_shuffled) b.insert(it.key);
      CHECK(a == b);
      for (const auto& it : part) ++seen[it.key];
      if (n > 1) CHECK(part.size() < keys.size());  // not all in one shard
      if (n == 4) CHECK(part.size() > 150);         // roughly balanced (250 expected)
    }
    CHECK(seen.size() == keys.size());
    for (const auto& [k, c] : seen) CHECK(c == 1);
  }
}

TEST_CASE("manifest: comments, blanks, CRLF, relative paths, duplicates", "[dataset]") {
  TempDir t;
  const fs::path m = t.path / "lists" / "train.txt";
  write_file(m,
             "# images of the training split\n"
             "a.jpg\r\n"
             "\n"
             "   sub/b.png   \n"
             "/abs/c.jpg\n"
             "./a.jpg\n"
             "sub/b.png\n"
             "\t# indented comment\n"
             "d.bmp");  // no final newline
  const ds::Dataset d = ds::read_manifest(m.string());
  REQUIRE(d.items.size() == 4);
  CHECK(d.items[0].key == "a.jpg");
  CHECK(d.items[0].path == (t.path / "lists" / "a.jpg").string());
  CHECK(d.items[0].line == 2);
  CHECK(d.items[1].key == "sub/b.png");
  CHECK(d.items[1].path == (t.path / "lists" / "sub/b.png").string());
  CHECK(d.items[2].path == "/abs/c.jpg");
  CHECK(d.items[3].key == "d.bmp");
  CHECK(d.items[3].line == 9);
  REQUIRE(d.warnings.size() == 2);
  CHECK(d.warnings[0].find(":6: ./a.jpg is listed again (first on line 2)") != std::string::npos);
  CHECK(d.warnings[1].find(":7: sub/b.png is listed again (first on line 4)") != std::string::npos);
  CHECK(ds::open_dataset(m.string()).kind == ds::InputKind::kManifest);

  write_file(t.path / "empty.txt", "# nothing\n\n");
  CHECK_THROWS_WITH(ds::read_manifest((t.path / "empty.txt").string()), Catch::Contains("lists no images"));
  CHECK_THROWS_WITH(ds::read_manifest((t.path / "missing.txt").string()), Catch::Contains("no such manifest"));
  write_file(t.path / "bin.txt", std::string("a.jpg\n\0\x01", 8));
  CHECK_THROWS_WITH(ds::read_manifest((t.path / "bin.txt").string()), Catch::Contains(":2: a NUL byte"));
}

TEST_CASE("folder listing: files only, sorted, keys relative to the folder", "[dataset]") {
  TempDir t;
  write_file(t.path / "in" / "b.jpg", "x");
  write_file(t.path / "in" / "a.png", "x");
  write_file(t.path / "in" / "sub" / "c.png", "x");
  const ds::Dataset d = ds::open_dataset((t.path / "in").string());
  CHECK(d.kind == ds::InputKind::kFolder);
  REQUIRE(d.items.size() == 2);
  CHECK(d.items[0].key == "a.png");
  CHECK(d.items[1].key == "b.jpg");
  CHECK(d.items[1].path == (t.path / "in" / "b.jpg").string());
  const ds::Dataset one = ds::open_dataset((t.path / "in" / "a.png").string());
  CHECK(one.kind == ds::InputKind::kFile);
  CHECK(one.items.size() == 1);
  CHECK_THROWS_WITH(ds::open_dataset((t.path / "nope").string()), Catch::Contains("no such file or folder"));
}

TEST_CASE("run: done / skipped / failed, the log, the summary, the exit code, then a rerun resumes", "[dataset]") {
  TempDir t;
  const fs::path out = t.path / "out";
  const ds::Shard shard{1, 2};
  const auto items = items_of({"a.jpg", "bad.jpg", "c.jpg", "d.jpg"});
  std::set<std::string> written;  // the "outputs in place"
  int processed = 0;
  ds::Callbacks cb;
  cb.is_complete = [&](const ds::Item& it) { return written.count(it.key) > 0; };
  cb.process = [&](const ds::Item& it) -> std::vector<std::string> {
    ++processed;
    if (it.key == "bad.jpg") engine::fail("{}: empty file", it.key);
    written.insert(it.key);
    return {it.key + ".out"};
  };
  std::vector<std::string> failures;
  cb.on_failure = [&](const ds::Item& it, const std::string& msg) { failures.push_back(it.key + " | " + msg); };
  written.insert("c.jpg");  // done by an earlier run
  const std::string log_path = ds::default_log_path(out.string(), shard);
  CHECK(log_path == (out / "logs" / "shard-1-of-2.jsonl").string());
  {
    ds::ShardLog log(log_path, shard);
    const ds::Summary s = ds::run(items, shard, &log, cb);
    CHECK(s.images == 4);
    CHECK(s.done == 2);
    CHECK(s.skipped == 1);
    CHECK(s.failed == 1);
    CHECK(ds::exit_code(s) == ds::kExitSomeFailed);
    CHECK(ds::summary_text(s).rfind("shard 1/2: 4 image(s): 2 done, 1 skipped, 1 failed (", 0) == 0);
  }
  CHECK(processed == 3);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0] == "bad.jpg | bad.jpg: empty file");
  auto lines = read_lines(log_path);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].rfind(R"({"image":"a.jpg","status":"done","ms":)", 0) == 0);
  CHECK(lines[0].find(R"("outputs":["a.jpg.out"])") != std::string::npos);
  CHECK(lines[1].rfind(R"({"image":"bad.jpg","status":"failed","error":"bad.jpg: empty file","ms":)", 0) == 0);
  CHECK(lines[2].rfind(R"({"image":"c.jpg","status":"skipped","ms":)", 0) == 0);
  CHECK(lines[4].rfind(R"({"summary":{"shard":"1/2","images":4,"done":2,"skipped":1,"failed":1,"ms":)", 0) == 0);
  CHECK(ds::completed_images((out / "logs").string()) == std::set<std::string>{"a.jpg", "c.jpg", "d.jpg"});

  // A rerun (the bad image still bad) skips what is done and appends to the log.
  processed = 0;
  {
    ds::ShardLog log(log_path, shard);
    const ds::Summary s = ds::run(items, shard, &log, cb);
    CHECK(s.done == 0);
    CHECK(s.skipped == 3);
    CHECK(s.failed == 1);
  }
  CHECK(processed == 1);
  CHECK(read_lines(log_path).size() == 10);
  // Nothing failed: exit code 0.
  ds::Summary ok;
  ok.done = 3;
  CHECK(ds::exit_code(ok) == 0);
}

TEST_CASE("a shard's log is locked: a second process on the same shard is refused, other shards not", "[dataset]") {
  TempDir t;
  const std::string log0 = ds::default_log_path(t.path.string(), {0, 2});
  const std::string log1 = ds::default_log_path(t.path.string(), {1, 2});
  ds::ShardLog held(log0, {0, 2});
  // flock belongs to the open file description: a second open of the log, in
  // this process as in another, finds it locked.
  CHECK_THROWS_WITH(ds::ShardLog(log0, {0, 2}), Catch::Contains("shard 0/2 is being run by another process"));
  CHECK_NOTHROW(ds::ShardLog(log1, {1, 2}));
}

TEST_CASE("completed_images ignores partial and foreign lines", "[dataset]") {
  TempDir t;
  write_file(t.path / "logs" / "shard-0-of-2.jsonl",
             "{\"image\":\"a.jpg\",\"status\":\"done\",\"ms\":1,\"outputs\":[]}\n"
             "{\"image\":\"b.jpg\",\"status\":\"failed\",\"error\":\"x\",\"ms\":1}\n"
             "{\"image\":\"c.jpg\",\"sta");  // a line being written
  write_file(t.path / "logs" / "shard-1-of-2.jsonl", "{\"image\":\"d.jpg\",\"status\":\"skipped\",\"ms\":1}\nnot json\n");
  write_file(t.path / "logs" / "notes.txt", "{\"image\":\"e.jpg\",\"status\":\"done\"}\n");
  CHECK(ds::completed_images((t.path / "logs").string()) == std::set<std::string>{"a.jpg", "d.jpg"});
  CHECK(ds::completed_images((t.path / "missing").string()).empty());
}
