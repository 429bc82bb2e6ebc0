// Image decoding beyond JPEG pixels (sam/io/bmp_decoder.cpp, sam/io/exif.cpp, the PNG
// checks in sam/io/image.cpp, the JPEG size bound): BMPs and EXIF-rotated JPEGs bit for
// bit against PIL (and cv2) on the generated set (tests/reference/write_test_images.py),
// and the refusals: truncated or lying files, unsupported BMP variants, PNG CRCs and
// IEND, garbage EXIF (ignored, never a crash).
#include <catch2/catch.hpp>

#include <cstdio>
#include <jpeglib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/npy.h"
#include "sam/io/exif.h"
#include "sam/io/image.h"

namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint32_t v) { b.push_back(v & 0xFF), b.push_back((v >> 8) & 0xFF); }
void put32(Bytes& b, uint32_t v) { put16(b, v & 0xFFFF), put16(b, v >> 16); }

// A 24-bit BI_RGB BMP (40-byte header) whose pixel (x, y) is (x, y, x + y); top-down
// rows where `height` < 0. `compression` and `bits` are written as given.
Bytes bmp(int width, int height, int bits = 24, uint32_t compression = 0) {
  const int h = height < 0 ? -height : height;
  const uint32_t stride = ((static_cast<uint32_t>(width) * bits + 31) / 32) * 4;
  Bytes b{'B', 'M'};
  put32(b, 54 + stride * h), put32(b, 0), put32(b, 54);
  put32(b, 40), put32(b, static_cast<uint32_t>(width)), put32(b, static_cast<uint32_t>(height));
  put16(b, 1), put16(b, bits), put32(b, compression), put32(b, stride * h);
  for (int i = 0; i < 4; ++i) put32(b, 0);
  for (int r = 0; r < h; ++r) {
    const int y = height < 0 ? r : h - 1 - r;  // the picture row stored here
    Bytes row(stride, 0);
    for (int x = 0; x < width && bits == 24; ++x) row[3 * x] = x + y, row[3 * x + 1] = y, row[3 * x + 2] = x;
    b.insert(b.end(), row.begin(), row.end());
  }
  return b;
}

std::string message_of(const Bytes& data, const std::string& name = "x") {
  try {
    sam::decode_image(data.data(), data.size(), name);
  } catch (const engine::Error& e) {
    return e.what();
  }
  return "(accepted)";
}

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

Bytes png_bytes(int w, int h) {
  sam::Image img;
  img.width = w, img.height = h, img.channels = 3;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 7);
  const std::string path = (std::filesystem::temp_directory_path() / "sam_test_image_decoders.png").string();
  sam::write_png(path, img);
  Bytes b = read_file(path);
  std::filesystem::remove(path);
  return b;
}

// A baseline YCbCr JPEG of w x h from libjpeg (errors abort: test code), with an
// optional APP1 segment written right after SOI.
Bytes jpeg_bytes(int w, int h, const Bytes& app1 = {}) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37) ^ (i >> 4));
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = w, c.image_height = h, c.input_components = 3, c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_start_compress(&c, TRUE);
  if (!app1.empty()) jpeg_write_marker(&c, JPEG_APP0 + 1, app1.data(), static_cast<unsigned>(app1.size()));
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = px.data() + static_cast<size_t>(c.next_scanline) * w * 3;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  Bytes out(buf, buf + size);
  jpeg_destroy_compress(&c);
  std::free(buf);
  return out;
}

// "Exif\0\0" + a little-endian TIFF header + IFD0 holding only Orientation = `o`.
Bytes exif_payload(int o) {
  Bytes b{'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0};
  put32(b, 8), put16(b, 1);
  put16(b, 0x0112), put16(b, 3), put32(b, 1), put16(b, o), put16(b, 0);
  put32(b, 0);
  return b;
}

}  // namespace

TEST_CASE("BMP: top-down rows are accepted and equal the bottom-up picture", "[image]") {
  const Bytes up = bmp(5, 3), down = bmp(5, -3);
  const sam::Image a = sam::decode_image(up.data(), up.size(), "up.bmp");
  const sam::Image b = sam::decode_image(down.data(), down.size(), "down.bmp");
  REQUIRE(a.width == 5);
  REQUIRE(a.height == 3);
  CHECK(a.pixels == b.pixels);
  CHECK(a.row(2)[3 * 4 + 0] == 4);  // R = x at (4, 2)
  CHECK(a.row(2)[3 * 4 + 1] == 2);  // G = y
}

TEST_CASE("BMP: truncated, lying and unsupported files are refused by name", "[image]") {
  Bytes half = bmp(64, 48);
  half.resize(half.size() / 2);
  CHECK(message_of(half) == "x: cannot decode BMP image: truncated (64x48 at 24 bits per pixel needs 9216 bytes of "
                            "pixel data from offset 54; the file holds 4581)");
  Bytes lying = bmp(4, 4);
  lying.resize(102);
  lying[18] = 9000 & 0xFF, lying[19] = 9000 >> 8, lying[22] = 11000 & 0xFF, lying[23] = 11000 >> 8;
  CHECK(message_of(lying) == "x: cannot decode BMP image: truncated (9000x11000 at 24 bits per pixel needs "
                             "297000000 bytes of pixel data from offset 54; the file holds 48)");
  CHECK(message_of(bmp(4, 4, 8, 1)) ==
        "x: cannot decode BMP image: RLE8 compression is not supported (only uncompressed BI_RGB and BI_BITFIELDS are)");
  CHECK(message_of(bmp(4, 4, 4, 2)) ==
        "x: cannot decode BMP image: RLE4 compression is not supported (only uncompressed BI_RGB and BI_BITFIELDS are)");
  CHECK(message_of(bmp(4, 4, 2)) ==
        "x: cannot decode BMP image: 2 bits per pixel is not supported (1, 4, 8, 16, 24 and 32 are)");
  // BI_BITFIELDS in a 40-byte header: the three masks follow it (here: zeros, a layout PIL does not read at 16 bits)
  CHECK(message_of(bmp(4, 4, 16, 3)) ==
        "x: cannot decode BMP image: 16-bit bitfields layout R=0x0 G=0x0 B=0x0 A=0x0 is not supported");
  CHECK(message_of(bmp(0, 4)) == "x: BMP image has no pixels (0x4)");
  CHECK(message_of(bmp(20000, -20000)) == "x: BMP image of 20000x20000 pixels exceeds the limit of 100000000 pixels");
  CHECK(message_of(Bytes{'B', 'M', 0, 0}) == "x: cannot decode BMP image: truncated (the file ends inside its header)");
  // every cut of a small file is refused
  const Bytes full = bmp(7, 5);
  for (size_t n = 2; n < full.size(); ++n) {
    INFO("cut at " << n);
    CHECK(message_of(Bytes(full.begin(), full.begin() + n)).find("cannot decode BMP image: truncated") !=
          std::string::npos);
  }
}

TEST_CASE("PNG: a cut anywhere, a broken CRC and missing pixel data are refused", "[image]") {
  const Bytes full = png_bytes(13, 9);
  REQUIRE(message_of(full) == "(accepted)");
  for (size_t n = 1; n < full.size(); ++n) {
    INFO("cut at " << n);
    CHECK(message_of(Bytes(full.begin(), full.begin() + n)) != "(accepted)");
  }
  CHECK(message_of(Bytes(full.begin(), full.end() - 12)) ==
        "x: cannot decode PNG image: truncated or corrupt (the file ends before its IEND chunk)");
  Bytes flipped = full;
  flipped[full.size() - 20] ^= 0x01;  // inside the IDAT data
  CHECK(message_of(flipped).find("x: cannot decode PNG image: truncated or corrupt (CRC mismatch in its IDAT chunk "
                                 "at offset ") == 0);
}

TEST_CASE("JPEG: a header claiming more pixels than the data can code is refused before decoding", "[image]") {
  Bytes j = jpeg_bytes(64, 48);
  const size_t sof = [&] {
    for (size_t i = 2; i + 1 < j.size(); ++i)
      if (j[i] == 0xFF && j[i + 1] == 0xC0) return i;
    return size_t{0};
  }();
  REQUIRE(sof > 0);
  j[sof + 5] = 11000 >> 8, j[sof + 6] = 11000 & 0xFF, j[sof + 7] = 9000 >> 8, j[sof + 8] = 9000 & 0xFF;
  const std::string m = message_of(j);
  CHECK(m.find("x: cannot decode JPEG image: truncated (9000x11000 pixels need at least 290508 bytes of coded "
               "data; ") == 0);
}

TEST_CASE("EXIF: orientations 1..8 turn the stored pixels into the displayed picture", "[image]") {
  // stored 3 x 2: pixel value = 10 * y + x (R channel); displayed = PIL's exif_transpose
  const std::vector<std::vector<std::vector<int>>> want = {
      {{0, 1, 2}, {10, 11, 12}},    // 1
      {{2, 1, 0}, {12, 11, 10}},    // 2 mirror
      {{12, 11, 10}, {2, 1, 0}},    // 3 rotate 180
      {{10, 11, 12}, {0, 1, 2}},    // 4 flip
      {{0, 10}, {1, 11}, {2, 12}},  // 5 transpose
      {{10, 0}, {11, 1}, {12, 2}},  // 6 rotate 90 clockwise
      {{12, 2}, {11, 1}, {10, 0}},  // 7 transverse
      {{2, 12}, {1, 11}, {0, 10}},  // 8 rotate 90 counter-clockwise
  };
  for (int o = 1; o <= 8; ++o) {
    INFO("orientation " << o);
    sam::Image img;
    img.width = 3, img.height = 2, img.channels = 3;
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x)
        for (int c = 0; c < 3; ++c) img.pixels.push_back(static_cast<uint8_t>(10 * y + x + 100 * c));
    REQUIRE(sam::exif_orientation(exif_payload(o).data(), exif_payload(o).size()) == o);
    sam::apply_exif_orientation(img, o);
    const auto& w = want[o - 1];
    REQUIRE(img.height == static_cast<int>(w.size()));
    REQUIRE(img.width == static_cast<int>(w[0].size()));
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < img.width; ++x) CHECK(img.row(y)[3 * x + 2] == w[y][x] + 200);
  }
}

TEST_CASE("EXIF: applied to a JPEG unless ignored; garbage Exif is ignored, never a crash", "[image]") {
  const Bytes j = jpeg_bytes(16, 8, exif_payload(6));
  const sam::Image shown = sam::decode_image(j.data(), j.size(), "x.jpg");
  CHECK((shown.width == 8 && shown.height == 16));
  const sam::Image stored = sam::decode_image(j.data(), j.size(), "x.jpg", sam::kMaxImagePixels,
                                              sam::ExifOrientation::kIgnore);
  CHECK((stored.width == 16 && stored.height == 8));
  // every cut and every single-byte change of the payload: an orientation 1..8, no crash
  const Bytes p = exif_payload(6);
  for (size_t n = 0; n <= p.size(); ++n) {
    const int o = sam::exif_orientation(p.data(), n);
    CHECK((o >= 1 && o <= 8));
  }
  for (size_t i = 0; i < p.size(); ++i)
    for (int v : {0x00, 0x7F, 0x80, 0xFF}) {
      Bytes q = p;
      q[i] = static_cast<uint8_t>(v);
      const int o = sam::exif_orientation(q.data(), q.size());
      CHECK((o >= 1 && o <= 8));
    }
  CHECK(sam::exif_orientation(exif_payload(9).data(), exif_payload(9).size()) == 1);
}

TEST_CASE("BMP and EXIF JPEG: the generated set decodes bit for bit as PIL and OpenCV decode it",
          "[.][image_reference]") {
  const char* env = std::getenv("SAM_IMAGE_SET_DIR");
  if (!env) FAIL("SAM_IMAGE_SET_DIR is not set: run this test through ctest (images_decode_as_pil)");
  const std::string dir = env;
  std::ifstream manifest(dir + "/manifest.txt");
  REQUIRE(manifest);
  int files = 0, cv2_files = 0;
  for (std::string file; std::getline(manifest, file);) {
    if (file.empty()) continue;
    INFO(file);
    const sam::Image img = sam::load_image(dir + "/" + file);
    const std::string stem = file.substr(0, file.rfind('.'));
    for (const char* reader : {"pil", "cv2"}) {
      const std::string ref = dir + "/" + stem + "." + reader + ".npy";
      if (!std::filesystem::exists(ref)) continue;  // cv2: JPEGs only, where installed
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
  CHECK(files >= 80);
  if (cv2_files == 0) WARN("OpenCV (python3-opencv) is not installed: compared with PIL only");
}
