#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/tensor.h"
#include "test_util.h"

using engine::DType;
using engine::SafetensorsFile;
using engine::Shape;
using engine::Tensor;
using test_util::TempDir;

namespace {

Tensor patterned(DType dt, const Shape& shape, unsigned seed) {
  Tensor t = Tensor::empty(dt, shape);
  auto* b = static_cast<unsigned char*>(t.raw_data());
  for (size_t i = 0; i < t.nbytes(); ++i) b[i] = static_cast<unsigned char>(i * 167 + seed * 29 + (i >> 7));
  return t;
}

// A safetensors file from its parts, as the format documents it: u64 little-
// endian header length, the header text, the data bytes.
std::vector<unsigned char> make_file(const std::string& header, const std::vector<unsigned char>& data,
                                     uint64_t header_len_override = UINT64_MAX) {
  const uint64_t n = header_len_override == UINT64_MAX ? header.size() : header_len_override;
  std::vector<unsigned char> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(n >> (8 * i)));
  test_util::append(out, header);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

uint64_t header_length(const std::vector<unsigned char>& file) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file[static_cast<size_t>(i)];
  return n;
}

std::string entry(const std::string& dtype, const std::string& shape, const std::string& offsets) {
  return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

template <typename Matcher>
void require_open_error_matching(const TempDir& dir, const std::string& name, const std::vector<unsigned char>& bytes,
                                 const Matcher& matcher) {
  const std::string path = dir.file(name);
  test_util::write_bytes(path, bytes);
  INFO("file " << name);
  try {
    (void)SafetensorsFile::open(path);
    FAIL("opened without an error");
  } catch (const engine::Error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, matcher);
    CHECK_THAT(what, Catch::Contains(name));  // the message names the file
  }
}

void require_open_error(const TempDir& dir, const std::string& name, const std::vector<unsigned char>& bytes,
                        const std::string& word) {
  require_open_error_matching(dir, name, bytes, Catch::Contains(word, Catch::CaseSensitive::No));
}

}  // namespace

TEST_CASE("safetensors round trip of mixed dtypes and shapes", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  Tensor base = patterned(DType::F32, {5, 3}, 1);
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"encoder.weight", patterned(DType::F32, {3, 5}, 2)},
      {"half", patterned(DType::F16, {7}, 3)},
      {"brain", patterned(DType::BF16, {2, 3, 1}, 4)},
      {"empty", Tensor::empty(DType::F32, {0, 4})},
      {"ints", patterned(DType::I32, {13}, 5)},
      {"scalar", patterned(DType::F32, {}, 6)},
      {"bytes", patterned(DType::U8, {1, 1, 11}, 7)},
      {"transposed", base.permute({1, 0})},  // non-contiguous input
      {"empty_u8", Tensor::empty(DType::U8, {0})},
  };
  const std::map<std::string, std::string> metadata = {
      {"variant", "vit_b"}, {"format", "pt"}, {"quote\"key", "line\nbreak \\ and \xc3\xa9"}, {"empty", ""}};
  engine::write_safetensors(path, tensors, metadata);
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});

  const std::vector<unsigned char> bytes = test_util::read_bytes(path);
  const uint64_t header_len = header_length(bytes);
  CHECK((8 + header_len) % 64 == 0);
  // Expected layout: back to back, larger element sizes first (declaration order
  // among equal sizes), so that every tensor is aligned to its element size.
  size_t total = 0;
  std::map<std::string, std::pair<size_t, size_t>> expected_offsets;
  for (size_t esize : {size_t{4}, size_t{2}, size_t{1}})
    for (const auto& [name, t] : tensors) {
      if (t.element_size() != esize) continue;
      expected_offsets[name] = {total, total + t.nbytes()};
      total += t.nbytes();
    }
  CHECK(bytes.size() == 8 + header_len + total);

  const intptr_t page = ::sysconf(_SC_PAGESIZE);
  std::vector<Tensor> views;
  {
    SafetensorsFile f = SafetensorsFile::open(path);
    CHECK(f.path() == path);
    CHECK(f.metadata() == metadata);
    CHECK(f.data_bytes() == total);
    REQUIRE(f.entries().size() == tensors.size());
    // Entries come in file order (ascending offsets).
    for (size_t i = 1; i < f.entries().size(); ++i) CHECK(f.entries()[i - 1].begin <= f.entries()[i].begin);
    for (const auto& [name, t] : tensors) {
      INFO("tensor " << name);
      const engine::SafetensorsEntry* e = f.find(name);
      REQUIRE(e != nullptr);
      CHECK(f.contains(name));
      CHECK(e->dtype == t.dtype());
      CHECK(e->shape == t.shape());
      CHECK(e->begin == expected_offsets[name].first);
      CHECK(e->end == expected_offsets[name].second);
      CHECK(e->begin % t.element_size() == 0);
      Tensor v = f.tensor(name);
      CHECK(v.dtype() == t.dtype());
      CHECK(v.shape() == t.shape());
      CHECK(v.is_contiguous());
      const Tensor c = t.contiguous();
      CHECK(std::memcmp(v.raw_data(), c.raw_data(), c.nbytes()) == 0);
      // Zero copy: the view points into the mapping, whose start (page aligned)
      // is data - (8 + header_len + begin); the file bytes are right there.
      const auto* p = static_cast<const unsigned char*>(v.raw_data());
      const intptr_t file_start = reinterpret_cast<intptr_t>(p) - static_cast<intptr_t>(8 + header_len + e->begin);
      CHECK(file_start % page == 0);
      CHECK(f.tensor(name).raw_data() == v.raw_data());
      CHECK(f.tensor(*e).raw_data() == v.raw_data());
      if (c.nbytes() > 0)
        CHECK(std::memcmp(p, bytes.data() + 8 + header_len + e->begin, c.nbytes()) == 0);
      views.push_back(v);
    }
    // The first tensor starts 64-byte aligned in memory (data section aligned in the file).
    CHECK(reinterpret_cast<uintptr_t>(f.tensor("encoder.weight").raw_data()) % 64 == 0);
    CHECK_FALSE(f.contains("nope"));
    CHECK(f.find("nope") == nullptr);
    CHECK_THROWS_AS(f.tensor("nope"), engine::Error);
  }
  // The views outlive the SafetensorsFile: the mapping stays alive.
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor c = tensors[i].second.contiguous();
    CHECK(std::memcmp(views[i].raw_data(), c.raw_data(), c.nbytes()) == 0);
  }
  const Tensor scalar = views[5];
  CHECK(scalar.rank() == 0);
  CHECK(scalar.numel() == 1);
  // Tensors are packed back to back, so after the odd-sized ones this view is
  // not 4-byte aligned: read its bytes rather than through a float*.
  float value = 0;
  std::memcpy(&value, scalar.raw_data(), sizeof value);
  CHECK(test_util::f32_bits(value) == test_util::f32_bits(tensors[5].second.data<float>()[0]));
}

TEST_CASE("safetensors without metadata or tensors", "[safetensors]") {
  TempDir dir;
  engine::write_safetensors(dir.file("none.safetensors"), {});
  SafetensorsFile f = SafetensorsFile::open(dir.file("none.safetensors"));
  CHECK(f.entries().empty());
  CHECK(f.metadata().empty());
  CHECK(f.data_bytes() == 0);
  const auto bytes = test_util::read_bytes(dir.file("none.safetensors"));
  CHECK(bytes.size() % 64 == 0);
  // Only zero-element tensors.
  engine::write_safetensors(dir.file("zeros.safetensors"),
                            {{"a", Tensor::empty(DType::F16, {0})}, {"b", Tensor::empty(DType::I32, {3, 0})}});
  SafetensorsFile z = SafetensorsFile::open(dir.file("zeros.safetensors"));
  REQUIRE(z.entries().size() == 2);
  CHECK(z.tensor("b").shape() == Shape{3, 0});
  CHECK(z.data_bytes() == 0);
}

TEST_CASE("SafetensorsWriter streams data in odd-sized pieces", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("stream.safetensors");
  const std::vector<engine::SafetensorsSpec> specs = {
      {"a", DType::F32, {17}}, {"z0", DType::BF16, {0, 3}}, {"b", DType::F16, {5, 7}},
      {"z1", DType::U8, {0}},  {"c", DType::U8, {1}},        {"d", DType::I32, {3, 1, 11}}};
  size_t total = 0;
  for (const auto& s : specs) total += static_cast<size_t>(s.shape.numel()) * engine::dtype_size(s.dtype);
  std::vector<unsigned char> payload(total);
  for (size_t i = 0; i < total; ++i) payload[i] = static_cast<unsigned char>(i * 7919 % 251);

  {
    engine::SafetensorsWriter w(path, specs, {{"k", "v"}});
    const size_t header_part = w.total_bytes();
    CHECK(header_part % 64 == 0);
    const size_t pieces[] = {1, 3, 7, 13, 0, 61, 2};
    size_t pos = 0, k = 0;
    while (pos < total) {
      const size_t take = std::min(pieces[k++ % std::size(pieces)], total - pos);
      w.write(payload.data() + pos, take);
      pos += take;
    }
    CHECK(w.total_bytes() == header_part + total);
    // Not visible before finish(): only the temporary exists.
    CHECK_FALSE(std::filesystem::exists(path));
    w.finish();
  }
  CHECK(dir.entries() == std::vector<std::string>{"stream.safetensors"});
  SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.metadata() == std::map<std::string, std::string>{{"k", "v"}});
  size_t offset = 0;
  for (const auto& s : specs) {
    INFO(s.name);
    const size_t n = static_cast<size_t>(s.shape.numel()) * engine::dtype_size(s.dtype);
    const engine::SafetensorsEntry* e = f.find(s.name);
    REQUIRE(e != nullptr);
    CHECK(e->begin == offset);
    CHECK(e->end == offset + n);
    CHECK(e->shape == s.shape);
    Tensor t = f.tensor(s.name);
    if (n > 0) CHECK(std::memcmp(t.raw_data(), payload.data() + offset, n) == 0);
    offset += n;
  }
}

TEST_CASE("SafetensorsWriter errors leave no file behind", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("out.safetensors");
  const std::vector<engine::SafetensorsSpec> specs = {{"a", DType::F32, {3}}, {"b", DType::U8, {5}}};
  const std::vector<unsigned char> data(100, 0x5A);

  SECTION("too much data") {
    engine::SafetensorsWriter w(path, specs, {});
    w.write(data.data(), 12);
    try {
      w.write(data.data(), 6);
      FAIL("extra data accepted");
    } catch (const engine::Error& e) {
      CHECK_THAT(e.what(), Catch::Contains("more data"));
    }
  }
  SECTION("too much data in one piece") {
    engine::SafetensorsWriter w(path, specs, {});
    CHECK_THROWS_AS(w.write(data.data(), 18), engine::Error);
  }
  SECTION("unfinished: finish() refuses") {
    engine::SafetensorsWriter w(path, specs, {});
    w.write(data.data(), 14);
    try {
      w.finish();
      FAIL("finish accepted missing data");
    } catch (const engine::Error& e) {
      CHECK_THAT(e.what(), Catch::Contains("'b'") && Catch::Contains("not fully written"));
    }
  }
  SECTION("unfinished: never finished") {
    engine::SafetensorsWriter w(path, specs, {});
    w.write(data.data(), 17);
  }
  SECTION("an exception while writing") {
    try {
      engine::SafetensorsWriter w(path, specs, {});
      w.write(data.data(), 5);
      throw std::runtime_error("interrupted");
    } catch (const std::runtime_error&) {
    }
  }
  SECTION("duplicate names") {
    CHECK_THROWS_AS(engine::SafetensorsWriter(path, {{"a", DType::F32, {1}}, {"a", DType::F32, {1}}}, {}),
                    engine::Error);
  }
  SECTION("reserved name") {
    CHECK_THROWS_AS(engine::SafetensorsWriter(path, {{"__metadata__", DType::F32, {1}}}, {}), engine::Error);
  }
  SECTION("overflowing shape") {
    CHECK_THROWS_AS(engine::SafetensorsWriter(path, {{"a", DType::F32, {int64_t{1} << 62}}}, {}), engine::Error);
  }
  SECTION("missing directory") {
    CHECK_THROWS_AS(engine::SafetensorsWriter(dir.file("nodir/out.safetensors"), specs, {}), engine::Error);
  }
  SECTION("a name that is not UTF-8") {
    // JSON text must be UTF-8; the refusal is an engine::Error like any other.
    CHECK_THROWS_AS(engine::SafetensorsWriter(path, {{"bad\xff\xfename", DType::F32, {1}}}, {}), engine::Error);
  }
  SECTION("metadata that is not UTF-8") {
    CHECK_THROWS_AS(engine::SafetensorsWriter(path, specs, {{"k", "\xc3"}}), engine::Error);
  }
  SECTION("write_safetensors with duplicate names") {
    CHECK_THROWS_AS(engine::write_safetensors(path, {{"x", Tensor::zeros(DType::F32, {2})},
                                                     {"x", Tensor::zeros(DType::F32, {2})}}),
                    engine::Error);
  }
  // Whatever failed, the directory is empty: no output, no ".out.safetensors.tmp-*".
  CHECK(dir.entries().empty());
}

TEST_CASE("corrupt safetensors files throw engine::Error with a reason", "[safetensors]") {
  TempDir dir;
  const std::vector<unsigned char> d12(12, 0x11);  // three f32
  const std::string a12 = entry("F32", "[3]", "[0,12]");

  // Sanity: the well-formed base case opens.
  test_util::write_bytes(dir.file("ok.safetensors"), make_file("{\"a\":" + a12 + "}", d12));
  CHECK(SafetensorsFile::open(dir.file("ok.safetensors")).entries().size() == 1);

  require_open_error(dir, "short.st", {1, 0, 0, 0, 0}, "too short");
  require_open_error(dir, "empty.st", {}, "too short");
  require_open_error(dir, "huge_header.st", make_file("{}", {}, (100u << 20) + 1), "limit");
  require_open_error(dir, "header_past_end.st", make_file("{\"a\":" + a12 + "}", d12, 1000), "past the end");
  require_open_error(dir, "max_header.st", make_file("{}", {}, UINT64_MAX - 1), "limit");
  require_open_error(dir, "not_json.st", make_file("{not json}", {}), "JSON");
  require_open_error(dir, "truncated_json.st", make_file("{\"a\":" + a12, d12), "JSON");
  require_open_error(dir, "trailing_json.st", make_file("{\"a\":" + a12 + "} x", d12), "JSON");
  require_open_error_matching(dir, "array.st", make_file("[1,2]", {}),
                     Catch::Contains("object") || Catch::Contains("start with '{'"));
  require_open_error(dir, "zero_header.st", make_file("", {}), "start with");
  require_open_error(dir, "entry_not_object.st", make_file("{\"a\":[1,2]}", {}), "not an object");
  require_open_error(dir, "duplicate.st", make_file("{\"a\":" + a12 + ",\"a\":" + a12 + "}", d12), "twice");
  require_open_error(dir, "duplicate_inner.st",
                     make_file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", d12),
                     "twice");
  require_open_error(dir, "unknown_dtype.st", make_file("{\"a\":" + entry("Q7", "[3]", "[0,12]") + "}", d12),
                     "dtype");
  require_open_error(dir, "dtype_not_string.st", make_file("{\"a\":{\"dtype\":7,\"shape\":[3],\"data_offsets\":[0,12]}}", d12),
                     "dtype");
  require_open_error(dir, "missing_field.st", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3]}}", d12), "lacks");
  require_open_error(dir, "negative_offset.st", make_file("{\"a\":" + entry("F32", "[3]", "[-12,0]") + "}", d12),
                     "negative");
  require_open_error(dir, "float_offset.st", make_file("{\"a\":" + entry("F32", "[3]", "[0.0,12.0]") + "}", d12),
                     "not an integer");
  require_open_error(dir, "string_offset.st", make_file("{\"a\":" + entry("F32", "[3]", "[\"0\",12]") + "}", d12),
                     "not an integer");
  require_open_error(dir, "huge_offset.st",
                     make_file("{\"a\":" + entry("F32", "[3]", "[0,18446744073709551615]") + "}", d12), "too large");
  require_open_error(dir, "huge_offset2.st",
                     make_file("{\"a\":" + entry("F32", "[3]", "[9223372036854775795,9223372036854775807]") + "}", d12),
                     "outside");
  require_open_error(dir, "bignum_offset.st",
                     make_file("{\"a\":" + entry("F32", "[3]", "[0,1e400]") + "}", d12), "JSON");
  require_open_error(dir, "reversed.st", make_file("{\"a\":" + entry("F32", "[3]", "[12,0]") + "}", d12), "reversed");
  require_open_error(dir, "past_end.st", make_file("{\"a\":" + entry("F32", "[4]", "[0,16]") + "}", d12), "outside");
  require_open_error(dir, "offsets_triple.st", make_file("{\"a\":" + entry("F32", "[3]", "[0,12,12]") + "}", d12),
                     "data_offsets");
  {
    const std::vector<unsigned char> d20(20, 1);
    require_open_error(dir, "overlap.st",
                       make_file("{\"a\":" + entry("F32", "[3]", "[0,12]") + ",\"b\":" + entry("F32", "[3]", "[8,20]") +
                                     "}",
                                 d20),
                       "overlap");
    const std::vector<unsigned char> d28(28, 1);
    require_open_error(dir, "hole.st",
                       make_file("{\"a\":" + entry("F32", "[3]", "[0,12]") + ",\"b\":" + entry("F32", "[3]", "[16,28]") +
                                     "}",
                                 d28),
                       "hole");
    require_open_error(dir, "hole_at_start.st", make_file("{\"a\":" + entry("F32", "[3]", "[4,16]") + "}",
                                                          std::vector<unsigned char>(16, 1)),
                       "hole");
    require_open_error(dir, "same_range.st",
                       make_file("{\"a\":" + entry("F32", "[3]", "[0,12]") + ",\"b\":" + entry("U8", "[12]", "[0,12]") +
                                     "}",
                                 d12),
                       "overlap");
  }
  require_open_error(dir, "trailing.st", make_file("{\"a\":" + a12 + "}", std::vector<unsigned char>(16, 1)),
                     "unused");
  require_open_error(dir, "no_tensors_trailing.st", make_file("{}", std::vector<unsigned char>(3, 1)), "unused");
  require_open_error(dir, "size_mismatch.st", make_file("{\"a\":" + entry("F32", "[3]", "[0,8]") + "}",
                                                        std::vector<unsigned char>(8, 1)),
                     "expected");
  require_open_error(dir, "size_mismatch_dtype.st", make_file("{\"a\":" + entry("F16", "[3]", "[0,12]") + "}", d12),
                     "expected");
  require_open_error(dir, "negative_extent.st", make_file("{\"a\":" + entry("F32", "[-3]", "[0,12]") + "}", d12),
                     "negative");
  require_open_error(dir, "float_extent.st", make_file("{\"a\":" + entry("F32", "[3.0]", "[0,12]") + "}", d12),
                     "not an integer");
  require_open_error(dir, "shape_not_array.st", make_file("{\"a\":" + entry("F32", "3", "[0,12]") + "}", d12), "shape");
  require_open_error(dir, "nine_dims.st",
                     make_file("{\"a\":" + entry("F32", "[1,1,1,1,1,1,1,1,3]", "[0,12]") + "}", d12), "shape");
  require_open_error(dir, "overflow_shape.st",
                     make_file("{\"a\":" + entry("F32", "[4294967296,4294967296]", "[0,12]") + "}", d12), "overflow");
  require_open_error(dir, "metadata_value.st",
                     make_file("{\"__metadata__\":{\"k\":1},\"a\":" + a12 + "}", d12), "not a string");
  require_open_error(dir, "metadata_nested.st",
                     make_file("{\"__metadata__\":{\"k\":{\"x\":\"y\"}},\"a\":" + a12 + "}", d12), "not a string");
  require_open_error(dir, "metadata_not_object.st", make_file("{\"__metadata__\":\"x\",\"a\":" + a12 + "}", d12),
                     "not an object");
  // A missing file and a directory name the problem.
  try {
    (void)SafetensorsFile::open(dir.file("does_not_exist.safetensors"));
    FAIL("no error");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("no such file"));
  }
  try {
    (void)SafetensorsFile::open(dir.path().string());
    FAIL("no error");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("directory"));
  }
}
