// The overlay picture of `sam segment`: the image with each mask blended in its
// own colour (the best-scoring mask drawn last, on top), boxes outlined and
// points drawn as dots (green foreground, red background).
#pragma once

#include <array>
#include <vector>

#include "sam/io/image.h"

namespace sam::cli {

struct OverlayMask {
  const uint8_t* mask;  // [H, W] 0/1
  int color_index;
};

std::array<uint8_t, 3> palette_color(int index);
Image draw_overlay(const Image& image, const std::vector<OverlayMask>& masks_bottom_to_top,
                   const std::vector<std::array<float, 4>>& boxes, const std::vector<std::array<float, 3>>& points);

}  // namespace sam::cli
