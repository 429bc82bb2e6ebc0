// Border following for the outer borders of a binary mask (Suzuki & Abe 1985),
// in the form OpenCV's findContours(RETR_EXTERNAL, CHAIN_APPROX_SIMPLE) gives.
//
// The mask is copied into a label image with a one-pixel background frame
// (so regions touching the image edge have a border like any other). Labels:
//   0 background, 1 foreground not yet on a followed border,
//   kFollowed  a pixel of a followed outer border,
//   kRightEdge a pixel of a followed outer border whose east neighbour is
//              background that the border search looked at (the border's
//              right-hand side seen from the raster scan).
// The raster scan starts following an outer border at a 0 -> 1 step, unless the
// last border pixel passed on this row is a kFollowed one: then the scan is
// inside a region already followed (in a hole of it, or on its hole border),
// and RETR_EXTERNAL wants no contour there. Hole borders are never followed.
#include "sam/annotate/contours.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

namespace sam::annotate {
namespace {

constexpr int8_t kFollowed = 2;
constexpr int8_t kRightEdge = -2;

// The 8 neighbour directions, counterclockwise on screen starting east
// (y grows downwards): E, NE, N, NW, W, SW, S, SE.
constexpr int kStepX[8] = {1, 1, 0, -1, -1, -1, 0, 1};
constexpr int kStepY[8] = {0, -1, -1, -1, 0, 1, 1, 1};

// The label image: [height + 2, width + 2] with a background frame.
struct LabelImage {
  int stride = 0;  // = width + 2
  std::vector<int8_t> labels;
  std::ptrdiff_t offset[8] = {};  // index step of each direction

  LabelImage(const uint8_t* mask, int height, int width, std::ptrdiff_t row_stride) : stride(width + 2) {
    labels.assign(static_cast<size_t>(height + 2) * stride, 0);
    for (int y = 0; y < height; ++y) {
      const uint8_t* row = mask + static_cast<std::ptrdiff_t>(y) * row_stride;
      int8_t* out = labels.data() + static_cast<size_t>(y + 1) * stride + 1;
      for (int x = 0; x < width; ++x) out[x] = row[x] != 0 ? 1 : 0;
    }
    for (int d = 0; d < 8; ++d) offset[d] = kStepX[d] + static_cast<std::ptrdiff_t>(kStepY[d]) * stride;
  }
};

// Follows the outer border that starts at label index `start` (frame
// coordinates x, y: the region's first pixel in raster order, west neighbour
// background), marking its pixels, and returns its direction-change points in
// mask coordinates.
Contour follow_outer_border(LabelImage& img, std::ptrdiff_t start, int x, int y) {
  int8_t* lab = img.labels.data();
  Contour contour;
  // First neighbour clockwise from west (NW, N, NE, E, SE, S, SW): the
  // border continues from there. None: a lone pixel.
  int first = -1;
  for (int k = 1; k < 8; ++k) {
    const int d = (4 - k) & 7;
    if (lab[start + img.offset[d]] != 0) {
      first = d;
      break;
    }
  }
  if (first < 0) {
    lab[start] = kRightEdge;
    contour.push_back({x - 1, y - 1});
    return contour;
  }
  const std::ptrdiff_t second = start + img.offset[first];
  std::ptrdiff_t current = start;
  int back = first;             // direction from `current` to the pixel the search starts after
  int last_move = first ^ 4;    // direction of the previous step (none yet: never equal to a first step)
  for (;;) {
    // Counterclockwise from the direction after `back`: the first foreground
    // neighbour is the next border pixel (at worst `back` itself, 8th).
    int d = back;
    for (int k = 0; k < 8; ++k) {
      d = (d + 1) & 7;
      if (lab[current + img.offset[d]] != 0) break;
    }
    // East looked at and background: d in [1, back] means the search wrapped past 0.
    if (static_cast<unsigned>(d - 1) < static_cast<unsigned>(back))
      lab[current] = kRightEdge;
    else if (lab[current] == 1)
      lab[current] = kFollowed;
    if (d != last_move) {  // CHAIN_APPROX_SIMPLE: a point where the direction changes
      contour.push_back({x - 1, y - 1});
      last_move = d;
    }
    x += kStepX[d];
    y += kStepY[d];
    const std::ptrdiff_t next = current + img.offset[d];
    if (next == start && current == second) break;  // back at the start, about to repeat the first step
    current = next;
    back = (d + 4) & 7;
  }
  return contour;
}

}  // namespace

std::vector<Contour> external_contours(const uint8_t* mask, int height, int width, std::ptrdiff_t row_stride) {
  if (height < 0 || width < 0)
    throw std::invalid_argument("external_contours: negative mask size " + std::to_string(height) + "x" +
                                std::to_string(width));
  if (height == 0 || width == 0) return {};
  if (row_stride < width)
    throw std::invalid_argument("external_contours: row stride " + std::to_string(row_stride) + " < width " +
                                std::to_string(width));
  LabelImage img(mask, height, width, row_stride);
  int8_t* lab = img.labels.data();
  std::vector<Contour> found;
  for (int y = 1; y <= height; ++y) {
    const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(y) * img.stride;
    std::ptrdiff_t last_border = row;  // the frame pixel: background, "outside"
    int prev = 0;
    for (int x = 1; x <= width; ++x) {
      const std::ptrdiff_t i = row + x;
      int v = lab[i];
      if (v == prev) continue;
      if (prev == 0 && v == 1) {
        if (lab[last_border] <= 0) {  // not inside a followed region: a new outer border
          found.push_back(follow_outer_border(img, i, x, y));
          last_border = i;
          v = lab[i];
        }
      } else if (v == 0 && prev != 1 && prev > 0) {
        last_border = i - 1;  // leaving a followed border into a hole
      }
      prev = v;
      if (v != 0 && v != 1) last_border = i;
    }
  }
  std::reverse(found.begin(), found.end());  // OpenCV lists the last found first
  return found;
}

Contour merge_contours(const std::vector<Contour>& contours) {
  const size_t n = contours.size();
  if (n == 0) return {};
  if (n == 1) return contours[0];
  // links[i]: the joining point indices of contour i (to the previous contour,
  // then to the next; the first and the last contour have one).
  std::vector<std::vector<size_t>> links(n);
  for (size_t i = 1; i < n; ++i) {
    const Contour& a = contours[i - 1];
    const Contour& b = contours[i];
    int64_t best = std::numeric_limits<int64_t>::max();
    size_t best_a = 0, best_b = 0;
    for (size_t p = 0; p < a.size(); ++p)  // first minimum in row-major order, as np.argmin
      for (size_t q = 0; q < b.size(); ++q) {
        const int64_t dx = a[p][0] - b[q][0], dy = a[p][1] - b[q][1];
        const int64_t d2 = dx * dx + dy * dy;
        if (d2 < best) {
          best = d2;
          best_a = p;
          best_b = q;
        }
      }
    links[i - 1].push_back(best_a);
    links[i].push_back(best_b);
  }
  // Each contour rotated to start at its first joining point and closed
  // (its first point repeated at the end); a middle contour whose joining
  // points come in decreasing order is walked backwards first.
  std::vector<Contour> rolled(n);
  Contour merged;
  for (size_t i = 0; i < n; ++i) {
    Contour c = contours[i];
    std::vector<size_t> idx = links[i];
    if (idx.size() == 2 && idx[0] > idx[1]) {
      std::reverse(c.begin(), c.end());
      idx = {c.size() - 1 - idx[0], c.size() - 1 - idx[1]};
    }
    std::rotate(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(idx[0]), c.end());
    c.push_back(c.front());
    if (i == 0 || i == n - 1)
      merged.insert(merged.end(), c.begin(), c.end());
    else  // there: from the joining point to the previous contour up to the one to the next
      merged.insert(merged.end(), c.begin(), c.begin() + static_cast<std::ptrdiff_t>(idx[1] - idx[0] + 1));
    rolled[i] = std::move(c);
  }
  for (size_t i = n - 1; i-- > 1;) {  // and back: the rest of each middle contour, last to first
    const size_t skip = links[i][1] > links[i][0] ? links[i][1] - links[i][0] : links[i][0] - links[i][1];
    merged.insert(merged.end(), rolled[i].begin() + static_cast<std::ptrdiff_t>(skip), rolled[i].end());
  }
  return merged;
}

Contour mask_polygon(const uint8_t* mask, int height, int width, std::ptrdiff_t row_stride) {
  return merge_contours(external_contours(mask, height, width, row_stride));
}

}  // namespace sam::annotate
