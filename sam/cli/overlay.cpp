#include "overlay.h"

#include <algorithm>
#include <cmath>

namespace sam::cli {

std::array<uint8_t, 3> palette_color(int index) {
  static constexpr std::array<std::array<uint8_t, 3>, 10> kPalette = {{{30, 144, 255},
                                                                       {255, 160, 30},
                                                                       {60, 200, 90},
                                                                       {220, 50, 160},
                                                                       {250, 230, 40},
                                                                       {140, 90, 230},
                                                                       {0, 210, 210},
                                                                       {240, 80, 60},
                                                                       {150, 220, 40},
                                                                       {120, 120, 255}}};
  return kPalette[static_cast<size_t>(index) % kPalette.size()];
}

Image draw_overlay(const Image& image, const std::vector<OverlayMask>& masks, const std::vector<std::array<float, 4>>& boxes,
                   const std::vector<std::array<float, 3>>& points) {
  Image out = image;
  const int W = image.width, H = image.height;
  const size_t n = static_cast<size_t>(W) * H;
  for (const OverlayMask& m : masks) {
    const auto c = palette_color(m.color_index);
    for (size_t i = 0; i < n; ++i) {
      if (!m.mask[i]) continue;
      uint8_t* p = out.pixels.data() + i * 3;
      for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>((p[k] * 45 + c[static_cast<size_t>(k)] * 55) / 100);
    }
  }
  auto put = [&](int x, int y, std::array<uint8_t, 3> c) {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    uint8_t* p = out.row(y) + x * 3;
    p[0] = c[0];
    p[1] = c[1];
    p[2] = c[2];
  };
  const int thick = std::max(1, std::min(W, H) / 300);
  for (size_t b = 0; b < boxes.size(); ++b) {
    const auto c = palette_color(static_cast<int>(b));
    const int x0 = static_cast<int>(boxes[b][0]), y0 = static_cast<int>(boxes[b][1]);
    const int x1 = static_cast<int>(boxes[b][2]), y1 = static_cast<int>(boxes[b][3]);
    for (int t = 0; t < thick; ++t) {
      for (int x = x0; x <= x1; ++x) {
        put(x, y0 + t, c);
        put(x, y1 - t, c);
      }
      for (int y = y0; y <= y1; ++y) {
        put(x0 + t, y, c);
        put(x1 - t, y, c);
      }
    }
  }
  const int radius = std::max(3, std::min(W, H) / 120);
  for (const auto& p : points) {
    const std::array<uint8_t, 3> fill = p[2] > 0.5f ? std::array<uint8_t, 3>{40, 220, 40}
                                                    : std::array<uint8_t, 3>{230, 40, 40};
    const int cx = static_cast<int>(p[0]), cy = static_cast<int>(p[1]);
    for (int dy = -radius - 1; dy <= radius + 1; ++dy)
      for (int dx = -radius - 1; dx <= radius + 1; ++dx) {
        const int d2 = dx * dx + dy * dy;
        if (d2 <= radius * radius) put(cx + dx, cy + dy, fill);
        else if (d2 <= (radius + 1) * (radius + 1)) put(cx + dx, cy + dy, {255, 255, 255});
      }
  }
  return out;
}

}  // namespace sam::cli
