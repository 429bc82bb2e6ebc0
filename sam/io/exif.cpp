#include "sam/io/exif.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace sam {
namespace {

// A bounds-checked reader of the TIFF structure inside the Exif segment.
class TiffReader {
 public:
  TiffReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool set_order() {
    if (n_ < 8) return false;
    if (p_[0] == 'I' && p_[1] == 'I') little_ = true;
    else if (p_[0] == 'M' && p_[1] == 'M') little_ = false;
    else return false;
    return u16(2) == 42;
  }
  bool has(size_t at, size_t len) const { return at <= n_ && len <= n_ - at; }
  uint32_t u16(size_t at) const {
    if (!has(at, 2)) return 0;
    return little_ ? p_[at] | (uint32_t{p_[at + 1]} << 8) : (uint32_t{p_[at]} << 8) | p_[at + 1];
  }
  uint32_t u32(size_t at) const {
    if (!has(at, 4)) return 0;
    return little_ ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  }

 private:
  const uint8_t* p_;
  size_t n_;
  bool little_ = true;
};

constexpr uint32_t kOrientationTag = 0x0112;
constexpr uint32_t kShort = 3, kLong = 4;

// Copies pixel (sx, sy) of `in` to (x, y) of `out` for every output pixel, in
// 64 x 64 tiles (a transposing walk over a large image stays in cache).
template <typename Source>
void remap(const Image& in, Image& out, Source source) {
  constexpr int kTile = 64;
  for (int ty = 0; ty < out.height; ty += kTile)
    for (int tx = 0; tx < out.width; tx += kTile)
      for (int y = ty; y < std::min(ty + kTile, out.height); ++y) {
        uint8_t* o = out.row(y) + static_cast<size_t>(tx) * 3;
        for (int x = tx; x < std::min(tx + kTile, out.width); ++x, o += 3) {
          const auto [sx, sy] = source(x, y);
          std::memcpy(o, in.row(sy) + static_cast<size_t>(sx) * 3, 3);
        }
      }
}

void mirror_rows(Image& img) {
  for (int y = 0; y < img.height; ++y) {
    uint8_t* r = img.row(y);
    for (int a = 0, b = img.width - 1; a < b; ++a, --b)
      for (int c = 0; c < 3; ++c) std::swap(r[a * 3 + c], r[b * 3 + c]);
  }
}

void flip_rows(Image& img) {
  for (int a = 0, b = img.height - 1; a < b; ++a, --b)
    std::swap_ranges(img.row(a), img.row(a) + static_cast<size_t>(img.width) * 3, img.row(b));
}

}  // namespace

int exif_orientation(const uint8_t* payload, size_t size) {
  if (size < 6 || std::memcmp(payload, "Exif\0\0", 6) != 0) return 1;
  TiffReader t(payload + 6, size - 6);
  if (!t.set_order()) return 1;
  const size_t ifd = t.u32(4);
  if (!t.has(ifd, 2)) return 1;
  const size_t count = t.u16(ifd);
  for (size_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (!t.has(e, 12)) return 1;
    if (t.u16(e) != kOrientationTag) continue;
    const uint32_t type = t.u16(e + 2), n = t.u32(e + 4);
    if (n != 1) return 1;
    const uint32_t v = type == kShort ? t.u16(e + 8) : type == kLong ? t.u32(e + 8) : 0;
    return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
  }
  return 1;
}

void apply_exif_orientation(Image& image, int orientation) {
  if (orientation < 2 || orientation > 8 || image.channels != 3) return;
  if (orientation <= 4) {  // in place
    if (orientation != 4) mirror_rows(image);
    if (orientation != 2) flip_rows(image);
    return;
  }
  Image out;
  out.width = image.height;
  out.height = image.width;
  out.channels = 3;
  out.pixels.resize(image.pixels.size());
  const int w = image.width, h = image.height;
  using P = std::pair<int, int>;
  switch (orientation) {
    case 5: remap(image, out, [](int x, int y) { return P{y, x}; }); break;              // transpose
    case 6: remap(image, out, [h](int x, int y) { return P{y, h - 1 - x}; }); break;     // 90 clockwise
    case 7: remap(image, out, [w, h](int x, int y) { return P{w - 1 - y, h - 1 - x}; }); break;  // transverse
    default: remap(image, out, [w](int x, int y) { return P{w - 1 - y, x}; }); break;    // 8: 90 counter-clockwise
  }
  image = std::move(out);
}

}  // namespace sam
