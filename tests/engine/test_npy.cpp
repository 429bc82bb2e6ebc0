#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/npy.h"
#include "engine/tensor.h"
#include "test_util.h"

using engine::DType;
using engine::Shape;
using engine::Tensor;
using test_util::TempDir;

namespace {

// The dict literal NumPy writes, from the documented format: keys sorted,
// repr() of each value, ", " after every item, shape as a Python tuple.
std::string numpy_dict(const std::string& descr, const std::vector<int64_t>& shape) {
  std::string tuple = "(";
  for (size_t i = 0; i < shape.size(); ++i) tuple += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) tuple += ",";
  tuple += ")";
  return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + tuple + ", }";
}

// A complete version-1.0 .npy file: magic, version, u16 little-endian header
// length, header padded with spaces and ended by '\n' so the data starts at a
// multiple of 64, then the data.
std::vector<unsigned char> make_npy(const std::string& header_text, const void* data, size_t bytes,
                                    unsigned char major = 1, unsigned char minor = 0) {
  std::string header = header_text;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<unsigned char> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, minor};
  const size_t len = header.size();
  out.push_back(static_cast<unsigned char>(len & 0xFF));
  out.push_back(static_cast<unsigned char>((len >> 8) & 0xFF));
  if (major != 1) {
    out.push_back(static_cast<unsigned char>((len >> 16) & 0xFF));
    out.push_back(static_cast<unsigned char>((len >> 24) & 0xFF));
  }
  test_util::append(out, header);
  const auto* d = static_cast<const unsigned char*>(data);
  out.insert(out.end(), d, d + bytes);
  return out;
}

Tensor patterned(DType dt, const Shape& shape) {
  Tensor t = Tensor::empty(dt, shape);
  auto* b = static_cast<unsigned char*>(t.raw_data());
  for (size_t i = 0; i < t.nbytes(); ++i) b[i] = static_cast<unsigned char>((i * 131 + 7) ^ (i >> 8));
  return t;
}

void require_npy_error(const std::string& path, const std::string& word) {
  INFO("file " << path << ", expecting a message with '" << word << "'");
  try {
    (void)engine::read_npy_raw(path);
    FAIL("no error");
  } catch (const engine::Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains(word, Catch::CaseSensitive::No));
  }
  CHECK_THROWS_AS(engine::read_npy(path), engine::Error);
}

}  // namespace

TEST_CASE("npy round trips f32/f16/i32/u8 at ranks 0, 1, 2, 4", "[npy]") {
  TempDir dir;
  const std::vector<std::vector<int64_t>> shapes = {{}, {1}, {7}, {0}, {3, 5}, {0, 4}, {2, 3, 1, 5}, {2, 0, 3, 1}};
  const std::vector<std::pair<DType, std::string>> types = {
      {DType::F32, "<f4"}, {DType::F16, "<f2"}, {DType::I32, "<i4"}, {DType::U8, "|u1"}};
  int k = 0;
  for (const auto& [dt, descr] : types) {
    for (const auto& dims : shapes) {
      const Shape shape(dims);
      INFO("dtype " << engine::dtype_name(dt) << " shape " << shape.str());
      const std::string path = dir.file("a" + std::to_string(k++) + ".npy");
      Tensor t = patterned(dt, shape);
      engine::write_npy(path, t);

      Tensor r = engine::read_npy(path);
      CHECK(r.dtype() == dt);
      CHECK(r.shape() == shape);
      REQUIRE(r.nbytes() == t.nbytes());
      CHECK(std::memcmp(r.raw_data(), t.raw_data(), t.nbytes()) == 0);

      const engine::NpyArray raw = engine::read_npy_raw(path);
      CHECK(raw.descr == descr);
      CHECK(raw.shape == shape);
      CHECK(raw.item_size == engine::dtype_size(dt));
      REQUIRE(raw.data.size() == t.nbytes());
      if (t.nbytes() > 0) CHECK(std::memcmp(raw.data.data(), t.raw_data(), t.nbytes()) == 0);

      // The file is exactly prefix + padded header + data.
      const std::vector<unsigned char> bytes = test_util::read_bytes(path);
      const size_t header_len = bytes[8] | (size_t{bytes[9]} << 8);
      CHECK(bytes.size() == 10 + header_len + t.nbytes());
    }
  }
  // Only the output files are left in the directory (no temporaries).
  CHECK(dir.entries().size() == static_cast<size_t>(k));
}

TEST_CASE("npy header is what NumPy writes", "[npy]") {
  TempDir dir;
  const std::vector<std::pair<std::vector<int64_t>, DType>> cases = {
      {{3}, DType::F32}, {{}, DType::F32}, {{2, 3}, DType::I32}, {{1, 2, 3, 4}, DType::U8}, {{0}, DType::F16},
      {{123456789}, DType::U8}};
  for (const auto& [dims, dt] : cases) {
    const Shape shape(dims);
    INFO("shape " << shape.str());
    const std::string path = dir.file("h.npy");
    if (shape.numel() > 1000) {
      // Large extent only to test the header text: write the header through write_npy_raw.
      engine::write_npy_raw(path, "|u1", shape, nullptr, 0);
    } else {
      engine::write_npy(path, Tensor::zeros(dt, shape));
    }
    const std::vector<unsigned char> b = test_util::read_bytes(path);
    REQUIRE(b.size() >= 10);
    CHECK(std::memcmp(b.data(), "\x93NUMPY", 6) == 0);
    CHECK(b[6] == 1);  // version 1.0
    CHECK(b[7] == 0);
    const size_t header_len = b[8] | (size_t{b[9]} << 8);
    REQUIRE(b.size() >= 10 + header_len);
    CHECK((10 + header_len) % 64 == 0);  // data starts 64-byte aligned
    const std::string header(reinterpret_cast<const char*>(b.data() + 10), header_len);
    const std::string descr = shape.numel() > 1000 ? "|u1"
                              : dt == DType::F32   ? "<f4"
                              : dt == DType::F16   ? "<f2"
                              : dt == DType::I32   ? "<i4"
                                                   : "|u1";
    const std::string dict = numpy_dict(descr, dims);
    REQUIRE(header.size() > dict.size());
    CHECK(header.substr(0, dict.size()) == dict);
    // Then only spaces and one final newline.
    CHECK(header.back() == '\n');
    CHECK(header.find_first_not_of(' ', dict.size()) == header.size() - 1);
  }
  // The "(3,)" one-tuple literally.
  engine::write_npy(dir.file("one.npy"), Tensor::zeros(DType::F32, {3}));
  const std::vector<unsigned char> b = test_util::read_bytes(dir.file("one.npy"));
  const std::string text(b.begin() + 10, b.end());
  CHECK(text.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 0) == 0);
}

TEST_CASE("write_npy writes strided tensors in logical order and refuses bf16", "[npy]") {
  TempDir dir;
  Tensor t = patterned(DType::F32, {5, 7});
  Tensor v = t.permute({1, 0}).slice(0, 1, 7, 2);  // [3, 5]
  engine::write_npy(dir.file("v.npy"), v);
  Tensor r = engine::read_npy(dir.file("v.npy"));
  REQUIRE(r.shape() == Shape{3, 5});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j)
      CHECK(test_util::f32_bits(r.data<float>()[i * 5 + j]) ==
            test_util::f32_bits(t.data<float>()[j * 7 + (1 + 2 * i)]));

  try {
    engine::write_npy(dir.file("b.npy"), Tensor::zeros(DType::BF16, {4}));
    FAIL("bf16 accepted");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("bf16"));
  }
  // Nothing was left behind for the refused write.
  CHECK(dir.entries() == std::vector<std::string>{"v.npy"});
}

TEST_CASE("read_npy_raw returns other dtypes as bytes", "[npy]") {
  TempDir dir;
  std::vector<uint16_t> bits(13);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint16_t>(0xFFFF - i * 4099);
  engine::write_npy_raw(dir.file("u2.npy"), "<u2", Shape{13}, bits.data(), bits.size() * 2);
  const engine::NpyArray a = engine::read_npy_raw(dir.file("u2.npy"));
  CHECK(a.descr == "<u2");
  CHECK(a.item_size == 2);
  CHECK(a.shape == Shape{13});
  REQUIRE(a.data.size() == 26);
  // Little-endian bytes of each value.
  for (size_t i = 0; i < bits.size(); ++i) {
    CHECK(static_cast<unsigned>(a.data[2 * i]) == (bits[i] & 0xFFu));
    CHECK(static_cast<unsigned>(a.data[2 * i + 1]) == (bits[i] >> 8));
  }
  // No engine tensor type for uint16.
  CHECK_THROWS_AS(engine::read_npy(dir.file("u2.npy")), engine::Error);

  // A hand-built file in the same layout, '<u2' [2, 3], is read identically.
  const uint16_t six[6] = {1, 2, 0x8000, 0xFFFF, 0x7E00, 0};
  test_util::write_bytes(dir.file("hand.npy"), make_npy(numpy_dict("<u2", {2, 3}), six, sizeof six));
  const engine::NpyArray h = engine::read_npy_raw(dir.file("hand.npy"));
  CHECK(h.shape == Shape{2, 3});
  REQUIRE(h.data.size() == sizeof six);
  CHECK(std::memcmp(h.data.data(), six, sizeof six) == 0);

  // '|b1' reads as u8; versions 2.0 and 3.0 (4-byte header length) are accepted too.
  const uint8_t flags[3] = {1, 0, 1};
  test_util::write_bytes(dir.file("b1.npy"), make_npy(numpy_dict("|b1", {3}), flags, 3));
  Tensor b1 = engine::read_npy(dir.file("b1.npy"));
  CHECK(b1.dtype() == DType::U8);
  CHECK(std::memcmp(b1.raw_data(), flags, 3) == 0);
  const float f[2] = {1.5f, -2.25f};
  for (unsigned char major : {2, 3}) {
    test_util::write_bytes(dir.file("v2.npy"), make_npy(numpy_dict("<f4", {2}), f, sizeof f, major, 0));
    Tensor v2 = engine::read_npy(dir.file("v2.npy"));
    REQUIRE(v2.shape() == Shape{2});
    CHECK(v2.data<float>()[1] == f[1]);
  }
}

TEST_CASE("corrupt npy files throw engine::Error", "[npy]") {
  TempDir dir;
  const float data3[3] = {1, 2, 3};
  const std::vector<unsigned char> good = make_npy(numpy_dict("<f4", {3}), data3, sizeof data3);
  test_util::write_bytes(dir.file("good.npy"), good);
  REQUIRE(engine::read_npy(dir.file("good.npy")).numel() == 3);
  const size_t header_end = good.size() - sizeof data3;

  auto write = [&](const std::string& name, const std::vector<unsigned char>& bytes) {
    test_util::write_bytes(dir.file(name), bytes);
    return dir.file(name);
  };

  {
    auto b = good;
    b[1] = 'X';
    require_npy_error(write("magic.npy", b), "magic");
  }
  require_npy_error(write("short.npy", {0x93, 'N', 'U'}), "magic");
  require_npy_error(write("empty.npy", {}), "magic");
  {
    auto b = good;
    b[6] = 9;
    require_npy_error(write("version.npy", b), "version");
  }
  {
    auto b = good;
    b[6] = 0;
    require_npy_error(write("version0.npy", b), "version");
  }
  {
    auto b = good;  // header length beyond the file
    b[8] = 0xFF;
    b[9] = 0xFF;
    require_npy_error(write("hlen.npy", b), "header");
  }
  {
    // Version 2.0 with a 4-byte header length far beyond the limit.
    std::vector<unsigned char> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xFF, 0xFF, 0xFF, 0x7F};
    test_util::append(b, std::string(64, ' '));
    require_npy_error(write("hlen2.npy", b), "header");
  }
  {
    auto b = good;  // truncated data
    b.pop_back();
    require_npy_error(write("trunc.npy", b), "expected");
  }
  {
    auto b = std::vector<unsigned char>(good.begin(), good.begin() + static_cast<long>(header_end));
    require_npy_error(write("nodata.npy", b), "expected");
  }
  {
    auto b = good;  // extra data
    b.push_back(0);
    require_npy_error(write("extra.npy", b), "expected");
  }
  {
    std::string dict = numpy_dict("<f4", {3});
    dict.replace(dict.find("False"), 5, "True");
    require_npy_error(write("fortran.npy", make_npy(dict, data3, sizeof data3)), "fortran");
  }
  require_npy_error(write("bigendian.npy", make_npy(numpy_dict(">f4", {3}), data3, sizeof data3)), "big-endian");
  require_npy_error(write("unknown.npy", make_npy(numpy_dict("<c8", {3}), data3, sizeof data3)), "dtype");
  require_npy_error(write("odd.npy", make_npy(numpy_dict("<f3", {3}), data3, sizeof data3)), "dtype");
  require_npy_error(write("object.npy", make_npy(numpy_dict("|O", {3}), data3, sizeof data3)), "dtype");
  {
    // Header without its closing brace.
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ";
    require_npy_error(write("unterminated.npy", make_npy(dict, data3, sizeof data3)), "header");
  }
  // A string that never ends.
  require_npy_error(write("quote.npy", make_npy("{'descr': '<f4", data3, sizeof data3)), "header");
  {
    const std::vector<int64_t> nine(9, 1);
    require_npy_error(write("ninedims.npy", make_npy(numpy_dict("<f4", nine), data3, 4)), "dimensions");
  }
  {
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999, 99999999999999), }";
    require_npy_error(write("overflow.npy", make_npy(dict, data3, sizeof data3)), "overflow");
  }
  {
    const std::string dict =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999999999999,), }";
    require_npy_error(write("overflow1.npy", make_npy(dict, data3, sizeof data3)), "overflow");
  }
  require_npy_error(write("negative.npy", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }",
                                                   data3, sizeof data3)),
                    "shape");
  require_npy_error(write("nodescr.npy", make_npy("{'fortran_order': False, 'shape': (3,), }", data3, sizeof data3)),
                    "descr");
  require_npy_error(
      write("badkey.npy", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1, }", data3,
                                   sizeof data3)),
      "key");
  require_npy_error(write("notdict.npy", make_npy("['<f4', False, (3,)]", data3, sizeof data3)), "expected");
  // A missing file names the path.
  require_npy_error(dir.file("missing.npy"), "no such file");
}
