#include "sam/io/image.h"

// JPEG goes to libjpeg-turbo (jpeg_decoder.cpp): the library PIL and OpenCV use,
// so photos decode to the official pipeline's pixels exactly.
// BMP goes to bmp_decoder.cpp (exact size checks, top-down rows, PIL's pixels).
// stb_image is compiled here, not taken from Debian's libstb: only the PNG
// decoder is built (less attack surface than stb's nine formats), and
// sanitizer and fuzzing builds instrument the decoder itself. STB_IMAGE_STATIC
// keeps its symbols private to this file. Its allocations are zeroed (stb_image
// 2.27's JPEG decoder read uninitialised memory; kept as a cheap safeguard).
#include <cstdlib>
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(p, size) std::realloc(p, size)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#include <stb_image.h>
// stb_image_write compiled here too (static): the package links no libstb.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb_image_write.h>

#include <zlib.h>

#include <cstring>
#include <memory>
#include <vector>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/mapped_file.h"
#include "sam/io/bmp_decoder.h"
#include "sam/io/jpeg_decoder.h"

namespace sam {
namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// The format from the magic bytes and, where the header holds them, the
// dimensions, read without stb (so that an oversized or empty image is named as
// such instead of stb's "unknown image type").
struct Sniffed {
  const char* format = nullptr;  // "PNG", "JPEG", "BMP"; nullptr: none of them
  int64_t width = -1, height = -1;  // PNG: -1 where not found in the header
};

// The bytes of filtered rows a PNG's zlib data must inflate to: one filter byte
// per row of each Adam7 pass (interlaced) or of the image.
uint64_t png_data_bytes(int64_t width, int64_t height, int channels, int depth, bool interlaced) {
  const auto rows = [&](int64_t w, int64_t h) {
    return w > 0 && h > 0 ? static_cast<uint64_t>(h) * (1 + (static_cast<uint64_t>(w) * channels * depth + 7) / 8) : 0;
  };
  if (!interlaced) return rows(width, height);
  static constexpr int x0[] = {0, 4, 0, 2, 0, 1, 0}, y0[] = {0, 0, 4, 0, 2, 0, 1};
  static constexpr int dx[] = {8, 8, 4, 4, 2, 2, 1}, dy[] = {8, 8, 8, 4, 4, 2, 2};
  uint64_t total = 0;
  for (int k = 0; k < 7; ++k) total += rows((width - x0[k] + dx[k] - 1) / dx[k], (height - y0[k] + dy[k] - 1) / dy[k]);
  return total;
}

// A chunk type for a message: its four letters, or its bytes in hex where they are not letters.
std::string chunk_name(const uint8_t* t) {
  for (int i = 0; i < 4; ++i)
    if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z')))
      return fmt::format("0x{:02x}{:02x}{:02x}{:02x}", t[0], t[1], t[2], t[3]);
  return std::string(reinterpret_cast<const char*>(t), 4);
}

// Checks a PNG's chunk structure and pixel data before stb_image sees them, so
// that every allocation stays bounded by the file and the image's dimensions:
// stb_image 2.27 allocates an IDAT chunk's declared length before reading it
// (found by tests/fuzz/fuzz_image) and inflates all of the IDAT data, however
// much that is (a "zlib bomb"). Here every chunk must lie inside the file and
// the data is inflated once into a small scratch buffer, counting: more output
// than rows x (filter byte + row bytes) (plus slack for interlacing) or a broken
// zlib stream is refused, and so is less output than the rows need. Every
// chunk's CRC is checked (stb_image checks none) and the file must reach its
// IEND chunk: a PNG cut anywhere is refused. Returns the reason, or "".
std::string check_png(const uint8_t* p, size_t n, int64_t width, int64_t height) {
  std::vector<std::pair<size_t, size_t>> idat;  // (offset, length)
  bool apple = false;                           // "CgBI": raw deflate without the zlib header
  bool iend = false;
  for (size_t i = 8; i < n && !iend;) {
    if (n - i < 12 || be32(p + i) > n - i - 12) return "a chunk runs past the end of the file";
    const uint32_t len = be32(p + i);
    const uint8_t* type = p + i + 4;
    if (static_cast<uint32_t>(crc32(0, type, len + 4)) != be32(type + 4 + len))
      return fmt::format("CRC mismatch in its {} chunk at offset {}", chunk_name(type), i);
    if (std::memcmp(type, "IDAT", 4) == 0) idat.emplace_back(i + 8, len);
    if (std::memcmp(type, "CgBI", 4) == 0) apple = true;
    iend = std::memcmp(type, "IEND", 4) == 0;
    i += size_t{len} + 12;
  }
  if (!iend) return "the file ends before its IEND chunk";
  if (idat.empty() || n < 29 || width <= 0 || height <= 0) return "";  // stb_image refuses these itself
  int channels = 0;
  switch (p[25]) {  // IHDR colour type
    case 0: case 3: channels = 1; break;
    case 2: channels = 3; break;
    case 4: channels = 2; break;
    case 6: channels = 4; break;
    default: return "";
  }
  const int depth = p[24];
  if (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16) return "";
  const uint64_t needed = png_data_bytes(width, height, channels, depth, p[28] == 1);
  const uint64_t limit = needed + 4 * static_cast<uint64_t>(height) + 64;
  z_stream z{};
  if (inflateInit2(&z, apple ? -15 : 15) != Z_OK) return "out of memory";
  std::vector<unsigned char> sink(64 << 10);
  const char* why = nullptr;
  int rc = Z_OK;
  for (size_t k = 0; k < idat.size() && rc != Z_STREAM_END && !why; ++k) {
    z.next_in = const_cast<Bytef*>(p + idat[k].first);
    z.avail_in = static_cast<uInt>(idat[k].second);
    while (z.avail_in > 0 && rc != Z_STREAM_END) {
      z.next_out = sink.data();
      z.avail_out = static_cast<uInt>(sink.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        why = "bad zlib data";
        break;
      }
      if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // no progress possible
      if (z.total_out > limit) {
        why = "its pixel data inflates to more than the image's size needs";
        break;
      }
    }
  }
  const uint64_t got = z.total_out;
  inflateEnd(&z);
  if (why) return why;
  if (got < needed) return fmt::format("its pixel data inflates to {} bytes; the image needs {}", got, needed);
  return "";
}

Sniffed sniff(const uint8_t* p, size_t n) {
  Sniffed s;
  if (n >= 8 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
    s.format = "PNG";
    if (n >= 24 && std::memcmp(p + 12, "IHDR", 4) == 0) {
      s.width = be32(p + 16);
      s.height = be32(p + 20);
    }
  } else if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    s.format = "JPEG";  // libjpeg reads its header itself (jpeg_decoder.cpp)
  } else if (n >= 2 && p[0] == 'B' && p[1] == 'M') {
    s.format = "BMP";  // bmp_decoder.cpp reads its header itself
  }
  return s;
}

}  // namespace

Image decode_image(const void* data, size_t size, const std::string& name, int64_t max_pixels, ExifOrientation exif) {
  engine::check(size > 0, "{}: empty file", name);
  engine::check(size <= static_cast<size_t>(INT32_MAX), "{}: file too large ({} bytes)", name, size);
  const auto* bytes = static_cast<const stbi_uc*>(data);
  const int len = static_cast<int>(size);
  const Sniffed s = sniff(bytes, size);
  if (!s.format) engine::fail("{}: not a readable image: unknown format (PNG, JPEG and BMP are supported)", name);
  if (std::strcmp(s.format, "JPEG") == 0)
    return decode_jpeg(bytes, size, name, max_pixels, exif == ExifOrientation::kApply);
  if (std::strcmp(s.format, "BMP") == 0) return decode_bmp(bytes, size, name, max_pixels);
  // Refuse by the header's dimensions before anything is decoded or allocated.
  auto check_size = [&](int64_t w, int64_t h) {
    engine::check(w > 0 && h > 0, "{}: {} image has no pixels ({}x{})", name, s.format, w, h);
    // w * h <= max_pixels, without overflow for 32-bit header fields
    engine::check(w <= max_pixels / h, "{}: {} image of {}x{} pixels exceeds the limit of {} pixels", name, s.format,
                  w, h, max_pixels);
  };
  if (s.width >= 0 && s.height >= 0) check_size(s.width, s.height);
  if (const std::string why = check_png(bytes, size, s.width, s.height); !why.empty())
    engine::fail("{}: cannot decode PNG image: truncated or corrupt ({})", name, why);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(bytes, len, &w, &h, &c))
    engine::fail("{}: not a readable {} image (corrupt header)", name, s.format);
  check_size(w, h);
  const int info_w = w, info_h = h;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(bytes, len, &w, &h, &c, 3), stbi_image_free);
  if (!pixels) engine::fail("{}: cannot decode {} image: truncated or corrupt ({})", name, s.format, stbi_failure_reason());
  engine::check(w == info_w && h == info_h, "{}: {} image decodes to {}x{} but its header says {}x{}", name, s.format,
                w, h, info_w, info_h);
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.assign(pixels.get(), pixels.get() + static_cast<size_t>(w) * h * 3);
  return img;
}

Image load_image(const std::string& path, ExifOrientation exif) {
  engine::check_regular_file(path);
  auto file = engine::MappedFile::open(path);
  return decode_image(file->data(), file->size(), path, kMaxImagePixels, exif);
}

void write_png(const std::string& path, const Image& image) {
  engine::check(image.channels == 1 || image.channels == 3, "write_png: {} channels", image.channels);
  engine::AtomicFile out(path);
  struct Sink {
    engine::AtomicFile* file;
    std::string error;
  } sink{&out, {}};
  auto write_fn = [](void* ctx, void* data, int size) {
    auto* s = static_cast<Sink*>(ctx);
    if (!s->error.empty()) return;
    try {
      s->file->write(data, static_cast<size_t>(size));
    } catch (const std::exception& e) {
      s->error = e.what();
    }
  };
  const int ok = stbi_write_png_to_func(write_fn, &sink, image.width, image.height, image.channels,
                                        image.pixels.data(), image.width * image.channels);
  if (!sink.error.empty()) throw engine::Error(sink.error);
  engine::check(ok != 0, "{}: PNG encoding failed", path);
  out.commit();
}

}  // namespace sam
