// JPEG decoding (sam/io/jpeg_decoder.cpp): bit for bit against PIL and OpenCV on the
// generated set (tests/reference/write_test_jpegs.cpp + decode_test_jpegs.py), and
// the refusals: every truncation, a header that lies about the size, the pixel
// limit, too many progressive scans, unsupported component counts.
#include <catch2/catch.hpp>

#include <cstdio>
#include <jpeglib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/npy.h"
#include "sam/io/image.h"
#include "sam/io/jpeg_decoder.h"

namespace {

struct EncodeOptions {
  int components = 3;  // 1 grey, 2 (unknown colour space), 3 YCbCr
  int quality = 85;
  bool progressive = false;
  std::vector<jpeg_scan_info> scans;  // a custom scan script (progressive)
};

std::vector<uint8_t> pattern(int w, int h, int comps) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * comps);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37 + (i / 97) * 11) ^ (i >> 5));
  return px;
}

// Encodes in memory with libjpeg (the test's own writer; errors in it abort).
std::vector<uint8_t> encode(int w, int h, const EncodeOptions& o) {
  const std::vector<uint8_t> px = pattern(w, h, o.components);
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = w;
  c.image_height = h;
  c.input_components = o.components;
  c.in_color_space = o.components == 1 ? JCS_GRAYSCALE : o.components == 3 ? JCS_RGB : JCS_UNKNOWN;
  jpeg_set_defaults(&c);
  if (o.components == 2) jpeg_set_colorspace(&c, JCS_UNKNOWN);
  jpeg_set_quality(&c, o.quality, TRUE);
  if (o.progressive) jpeg_simple_progression(&c);
  if (!o.scans.empty()) {
    c.scan_info = o.scans.data();
    c.num_scans = static_cast<int>(o.scans.size());
  }
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(px.data() + static_cast<size_t>(c.next_scanline) * w * o.components);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&c);
  std::free(buf);
  return out;
}

// A valid single-component progressive scan script: the DC scan, then each AC
// coefficient alone, first at point transform `al`, then refined bit by bit:
// 1 + 63 * (al + 1) scans.
std::vector<jpeg_scan_info> many_scans(int al) {
  std::vector<jpeg_scan_info> s;
  s.push_back({1, {0}, 0, 0, 0, 0});
  for (int ah = 0, a = al; a >= 0; ah = a, --a)
    for (int k = 1; k < 64; ++k) s.push_back({1, {0}, k, k, ah, a});
  return s;
}

std::string error_of(const std::vector<uint8_t>& data, int64_t max_pixels = sam::kMaxImagePixels) {
  try {
    sam::decode_image(data.data(), data.size(), "x.jpg", max_pixels);
  } catch (const engine::Error& e) {
    return e.what();
  }
  return "";
}

// Offset of the first SOFn marker's height field.
size_t sof_height_offset(const std::vector<uint8_t>& d) {
  for (size_t i = 2; i + 9 < d.size(); ++i)
    if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) return i + 5;
  FAIL("no SOF marker");
  return 0;
}

}  // namespace

TEST_CASE("JPEG: every truncation is refused, never a partly grey picture", "[sam][jpeg]") {
  for (const bool progressive : {false, true}) {
    EncodeOptions o;
    o.progressive = progressive;
    const std::vector<uint8_t> full = encode(45, 29, o);
    INFO((progressive ? "progressive" : "baseline") << ", " << full.size() << " bytes");
    const sam::Image img = sam::decode_image(full.data(), full.size(), "x.jpg");
    CHECK(img.width == 45);
    CHECK(img.height == 29);
    // Every cut that removes entropy-coded data; the last two bytes are the EOI
    // marker, which the picture does not need.
    int refused = 0;
    for (size_t n = 1; n + 2 < full.size(); ++n) {
      const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(n));
      const std::string e = error_of(cut);
      INFO("cut at " << n);
      REQUIRE(!e.empty());
      ++refused;
    }
    CHECK(refused == static_cast<int>(full.size()) - 3);
    // A cut inside the entropy-coded data names the truncation.
    const std::vector<uint8_t> half(full.begin(), full.begin() + static_cast<long>(full.size() * 3 / 4));
    CHECK(error_of(half) == "x.jpg: cannot decode JPEG image: truncated (Premature end of JPEG file)");
  }
}

TEST_CASE("JPEG: a header that claims more rows than the data holds is refused early", "[sam][jpeg]") {
  std::vector<uint8_t> d = encode(64, 48, EncodeOptions{});
  const size_t at = sof_height_offset(d);
  d[at] = 0x2A;  // height 48 -> 0x2A30 = 10800 rows; 64 x 10800 is under the pixel limit
  d[at + 1] = 0x30;
  // The entropy-coded data meets the EOI marker after 48 rows' worth.
  CHECK(error_of(d) == "x.jpg: cannot decode JPEG image: truncated (Corrupt JPEG data: premature end of data segment)");
}

TEST_CASE("JPEG: the pixel limit is checked on the header, before decoding", "[sam][jpeg]") {
  const std::vector<uint8_t> d = encode(64, 48, EncodeOptions{});
  CHECK(error_of(d, 64 * 48) == "");
  CHECK(error_of(d, 64 * 48 - 1) == "x.jpg: JPEG image of 64x48 pixels exceeds the limit of 3071 pixels");
}

TEST_CASE("JPEG: progressive scans beyond the limit are refused", "[sam][jpeg]") {
  EncodeOptions o;
  o.components = 1;
  o.scans = many_scans(2);  // 1 + 63 * 3 = 190 scans: accepted
  REQUIRE(o.scans.size() <= static_cast<size_t>(sam::kMaxJpegScans));
  std::vector<uint8_t> d = encode(40, 24, o);
  const sam::Image ok = sam::decode_image(d.data(), d.size(), "x.jpg");
  CHECK(ok.width == 40);
  o.scans = many_scans(4);  // 1 + 63 * 5 = 316 scans
  REQUIRE(o.scans.size() > static_cast<size_t>(sam::kMaxJpegScans));
  d = encode(40, 24, o);
  CHECK(error_of(d) == "x.jpg: cannot decode JPEG image: corrupt (more than 256 progressive scans)");
}

TEST_CASE("JPEG: a two-component file is refused by name", "[sam][jpeg]") {
  EncodeOptions o;
  o.components = 2;
  const std::vector<uint8_t> d = encode(16, 16, o);
  CHECK(error_of(d) ==
        "x.jpg: cannot decode JPEG image: 2 components of unknown colour space (1, 3 and 4 are supported)");
}

TEST_CASE("JPEG: grayscale decodes to equal R, G and B", "[sam][jpeg]") {
  EncodeOptions o;
  o.components = 1;
  const std::vector<uint8_t> d = encode(13, 11, o);
  const sam::Image img = sam::decode_image(d.data(), d.size(), "x.jpg");
  REQUIRE(img.pixels.size() == 13u * 11u * 3u);
  for (size_t i = 0; i < img.pixels.size(); i += 3) {
    CHECK(img.pixels[i] == img.pixels[i + 1]);
    CHECK(img.pixels[i] == img.pixels[i + 2]);
  }
}

TEST_CASE("JPEG: the generated set decodes bit for bit as PIL and OpenCV decode it", "[.][jpeg_reference]") {
  const char* env = std::getenv("SAM_JPEG_DIR");
  if (!env) FAIL("SAM_JPEG_DIR is not set: run this test through ctest (jpeg_decodes_as_pil)");
  const std::string dir = env;
  std::ifstream manifest(dir + "/manifest.txt");
  REQUIRE(manifest);
  int files = 0, cv2_files = 0;
  for (std::string name; std::getline(manifest, name);) {
    if (name.empty()) continue;
    INFO(name);
    const sam::Image img = sam::load_image(dir + "/" + name + ".jpg");
    for (const char* reader : {"pil", "cv2"}) {
      const std::string ref = dir + "/" + name + "." + reader + ".npy";
      if (!std::filesystem::exists(ref)) {
        REQUIRE(std::string(reader) == "cv2");  // PIL's is always there; cv2 where installed
        continue;
      }
      INFO("reader " << reader);
      const engine::NpyArray a = engine::read_npy_raw(ref);
      REQUIRE(a.shape.to_vector() == std::vector<int64_t>{img.height, img.width, 3});
      REQUIRE(a.data.size() == img.pixels.size());
      size_t differ = 0;
      for (size_t i = 0; i < a.data.size(); ++i) differ += static_cast<uint8_t>(a.data[i]) != img.pixels[i];
      CHECK(differ == 0);
      (std::string(reader) == "pil" ? files : cv2_files) += 1;
    }
  }
  CHECK(files >= 60);
  if (cv2_files == 0) WARN("OpenCV (python3-opencv) is not installed: compared with PIL only");
  else CHECK(cv2_files >= 50);
}
