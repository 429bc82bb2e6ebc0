#include "sam/io/bmp_decoder.h"

// The header is read as PIL's BmpImagePlugin (Pillow 9.4) reads it, so that the
// same bytes become the same pixels; where PIL's reading is itself a slip (a
// 4-bit file with a 16-step grey palette, a 4- or 8-bit file with a black-and-
// white 2-colour palette: PIL unpacks those as 8-bit or 1-bit data) this decoder
// follows the palette, as OpenCV does. Every size comes from the header and is
// checked against the file's length before the canvas is allocated.
#include <array>
#include <cstring>

#include "engine/error.h"

namespace sam {
namespace {

uint32_t le16(const uint8_t* p) { return p[0] | (uint32_t{p[1]} << 8); }
uint32_t le32(const uint8_t* p) {
  return p[0] | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

constexpr uint32_t kRgb = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3, kJpeg = 4, kPng = 5;

struct BmpLayout {
  int64_t width = 0, height = 0;
  bool top_down = false;
  int bits = 0;
  uint32_t compression = kRgb;
  std::array<uint32_t, 4> masks{};  // R, G, B, A (BI_BITFIELDS)
  size_t palette_at = 0;            // first palette entry
  size_t palette_entry = 4;         // bytes per entry: 3 (OS/2 core header) or 4
  uint64_t colors = 0;              // palette entries
  uint64_t pixels_at = 0;           // bfOffBits
  uint64_t stride = 0;              // bytes per row, padded to 4
};

// How one pixel of a 16-, 24- or 32-bit row becomes R, G, B.
enum class Packing { kPalette, k555, k565, kBytes };

struct PixelFormat {
  Packing packing = Packing::kBytes;
  int r = 2, g = 1, b = 0;  // kBytes: the byte offsets of R, G and B in a pixel
};

const char* compression_name(uint32_t c) {
  switch (c) {
    case kRle8: return "RLE8";
    case kRle4: return "RLE4";
    case kJpeg: return "JPEG";
    case kPng: return "PNG";
    default: return nullptr;
  }
}

// Parses the file and info headers (and BI_BITFIELDS masks) into `l`.
BmpLayout read_layout(const uint8_t* p, size_t n, const std::string& name) {
  engine::check(n >= 18, "{}: cannot decode BMP image: truncated (the file ends inside its header)", name);
  BmpLayout l;
  l.pixels_at = le32(p + 10);
  const uint32_t header_size = le32(p + 14);
  if (header_size != 12 && header_size != 40 && header_size != 52 && header_size != 56 && header_size != 64 &&
      header_size != 108 && header_size != 124)
    engine::fail("{}: cannot decode BMP image: unsupported header size {} (12, 40, 52, 56, 64, 108 and 124 are)",
                 name, header_size);
  engine::check(n >= 14 + size_t{header_size},
                "{}: cannot decode BMP image: truncated (the file ends inside its header)", name);
  const uint8_t* h = p + 14;
  l.palette_at = 14 + size_t{header_size};
  if (header_size == 12) {  // OS/2 BITMAPCOREHEADER: unsigned 16-bit extents, 3-byte palette entries
    l.width = le16(h + 4);
    l.height = le16(h + 6);
    l.bits = static_cast<int>(le16(h + 10));
    l.palette_entry = 3;
  } else {
    l.width = static_cast<int32_t>(le32(h + 4));
    // As PIL: a height whose top byte is 0xFF is negative (top-down rows).
    l.top_down = h[11] == 0xFF;
    l.height = l.top_down ? -int64_t{static_cast<int32_t>(le32(h + 8))} : int64_t{le32(h + 8)};
    l.bits = static_cast<int>(le16(h + 14));
    l.compression = le32(h + 16);
    l.colors = le32(h + 32);
    if (l.compression == kBitfields) {
      if (header_size >= 52) {  // the masks are part of the header (the alpha mask from 56 bytes on)
        for (int i = 0; i < 3; ++i) l.masks[i] = le32(h + 40 + 4 * i);
        l.masks[3] = header_size >= 56 ? le32(h + 52) : 0;
      } else {  // BITMAPINFOHEADER: three masks follow the header
        engine::check(n >= l.palette_at + 12,
                      "{}: cannot decode BMP image: truncated (the file ends inside its colour masks)", name);
        for (int i = 0; i < 3; ++i) l.masks[i] = le32(p + l.palette_at + 4 * i);
        l.palette_at += 12;
      }
    }
  }
  return l;
}

// Checks the depth and compression against what is supported; returns how pixels are packed.
PixelFormat pixel_format(const BmpLayout& l, const std::string& name) {
  if (const char* c = compression_name(l.compression))
    engine::fail("{}: cannot decode BMP image: {} compression is not supported (only uncompressed BI_RGB and "
                 "BI_BITFIELDS are)", name, c);
  if (l.compression != kRgb && l.compression != kBitfields)
    engine::fail("{}: cannot decode BMP image: unknown compression {} (only uncompressed BI_RGB and BI_BITFIELDS "
                 "are supported)", name, l.compression);
  const int b = l.bits;
  if (b != 1 && b != 4 && b != 8 && b != 16 && b != 24 && b != 32)
    engine::fail("{}: cannot decode BMP image: {} bits per pixel is not supported (1, 4, 8, 16, 24 and 32 are)",
                 name, b);
  if (l.compression == kRgb) {
    if (b <= 8) return {Packing::kPalette};
    if (b == 16) return {Packing::k555};
    return {Packing::kBytes, 2, 1, 0};  // BGR / BGRX
  }
  const auto& m = l.masks;
  const auto is = [&](uint32_t r, uint32_t g, uint32_t bl) { return m[0] == r && m[1] == g && m[2] == bl; };
  if (b == 16 && is(0xF800, 0x7E0, 0x1F)) return {Packing::k565};
  if (b == 16 && is(0x7C00, 0x3E0, 0x1F)) return {Packing::k555};
  if (b == 24 && is(0xFF0000, 0xFF00, 0xFF)) return {Packing::kBytes, 2, 1, 0};
  if (b == 32) {  // the layouts PIL reads (its alpha masks: 0 or the remaining byte)
    if (is(0xFF0000, 0xFF00, 0xFF) && (m[3] == 0 || m[3] == 0xFF000000)) return {Packing::kBytes, 2, 1, 0};
    if (is(0xFF000000, 0xFF0000, 0xFF00) && (m[3] == 0 || m[3] == 0xFF)) return {Packing::kBytes, 3, 2, 1};
    if (is(0xFF, 0xFF00, 0xFF0000) && m[3] == 0xFF000000) return {Packing::kBytes, 0, 1, 2};
    if (is(0, 0, 0) && m[3] == 0) return {Packing::kBytes, 2, 1, 0};  // PIL: no masks read as BGRA
  }
  engine::fail("{}: cannot decode BMP image: {}-bit bitfields layout R={:#x} G={:#x} B={:#x} A={:#x} is not supported",
               name, b, m[0], m[1], m[2], m[3]);
}

// Converts one stored row to RGB.
void convert_row(const uint8_t* in, uint8_t* out, int64_t width, int bits, const PixelFormat& f,
                 const std::array<std::array<uint8_t, 3>, 256>& palette) {
  switch (f.packing) {
    case Packing::kPalette: {
      const int per_byte = 8 / bits, mask = (1 << bits) - 1;
      for (int64_t x = 0; x < width; ++x, out += 3) {
        const int shift = 8 - bits * (1 + static_cast<int>(x % per_byte));
        const auto& c = palette[(in[x / per_byte] >> shift) & mask];
        out[0] = c[0], out[1] = c[1], out[2] = c[2];
      }
      return;
    }
    case Packing::k555:
    case Packing::k565: {
      const bool g6 = f.packing == Packing::k565;
      for (int64_t x = 0; x < width; ++x, in += 2, out += 3) {
        const uint32_t v = le16(in);
        out[0] = static_cast<uint8_t>(((v >> (g6 ? 11 : 10)) & 31) * 255 / 31);
        out[1] = static_cast<uint8_t>(g6 ? ((v >> 5) & 63) * 255 / 63 : ((v >> 5) & 31) * 255 / 31);
        out[2] = static_cast<uint8_t>((v & 31) * 255 / 31);
      }
      return;
    }
    case Packing::kBytes: {
      const int step = bits / 8;
      for (int64_t x = 0; x < width; ++x, in += step, out += 3) {
        out[0] = in[f.r], out[1] = in[f.g], out[2] = in[f.b];
      }
      return;
    }
  }
}

}  // namespace

Image decode_bmp(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels) {
  BmpLayout l = read_layout(data, size, name);
  const int64_t w = l.width, h = l.height;
  engine::check(w > 0 && h > 0, "{}: BMP image has no pixels ({}x{})", name, w, l.top_down ? -h : h);
  engine::check(w <= max_pixels / h, "{}: BMP image of {}x{} pixels exceeds the limit of {} pixels", name, w, h,
                max_pixels);
  const PixelFormat format = pixel_format(l, name);

  std::array<std::array<uint8_t, 3>, 256> palette{};  // unset entries: grey (i, i, i), as PIL
  for (int i = 0; i < 256; ++i) palette[i] = {uint8_t(i), uint8_t(i), uint8_t(i)};
  if (format.packing == Packing::kPalette) {
    if (l.colors == 0) l.colors = uint64_t{1} << l.bits;
    engine::check(l.colors <= 65536, "{}: cannot decode BMP image: palette of {} colours (at most 65536)", name,
                  l.colors);
    engine::check(l.palette_at + l.colors * l.palette_entry <= size,
                  "{}: cannot decode BMP image: truncated (the file ends inside its palette of {} colours)", name,
                  l.colors);
    for (uint64_t i = 0; i < l.colors && i < 256; ++i) {
      const uint8_t* e = data + l.palette_at + i * l.palette_entry;  // B, G, R (, reserved)
      palette[i] = {e[2], e[1], e[0]};
    }
    // PIL: pixel data said to start right after the header starts after the palette.
    if (l.pixels_at == l.palette_at) l.pixels_at += l.colors * l.palette_entry;
  }
  l.stride = ((static_cast<uint64_t>(w) * l.bits + 31) / 32) * 4;
  const uint64_t needed = l.stride * static_cast<uint64_t>(h);
  const uint64_t held = l.pixels_at < size ? size - l.pixels_at : 0;
  if (held < needed)
    engine::fail("{}: cannot decode BMP image: truncated ({}x{} at {} bits per pixel needs {} bytes of pixel data "
                 "from offset {}; the file holds {})", name, w, h, l.bits, needed, l.pixels_at, held);

  Image img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  for (int64_t y = 0; y < h; ++y) {
    const int64_t stored = l.top_down ? y : h - 1 - y;
    convert_row(data + l.pixels_at + static_cast<uint64_t>(stored) * l.stride, img.row(static_cast<int>(y)), w,
                l.bits, format, palette);
  }
  return img;
}

}  // namespace sam
