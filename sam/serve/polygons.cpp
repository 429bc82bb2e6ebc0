// Mask outlines for the "polygons" output: one COCO polygon [x0, y0, x1, y1, ...]
// per external contour (sam/annotate/contours.h: OpenCV's findContours with
// RETR_EXTERNAL / CHAIN_APPROX_SIMPLE). Built without that code
// (SAM_SERVE_HAVE_CONTOURS unset), polygons are reported as unavailable and
// requests asking for them get 400.
#include "sam/serve/api.h"

#ifdef SAM_SERVE_HAVE_CONTOURS
#include "sam/annotate/contours.h"
#endif

namespace sam::serve {

#ifdef SAM_SERVE_HAVE_CONTOURS
bool polygons_available() { return true; }

std::vector<std::vector<int>> mask_polygons(const uint8_t* mask, int h, int w) {
  std::vector<std::vector<int>> out;
  for (const annotate::Contour& c : annotate::external_contours(mask, h, w, w)) {
    std::vector<int> poly;
    poly.reserve(c.size() * 2);
    for (const annotate::ContourPoint& p : c) {
      poly.push_back(p[0]);
      poly.push_back(p[1]);
    }
    out.push_back(std::move(poly));
  }
  return out;
}
#else
bool polygons_available() { return false; }

std::vector<std::vector<int>> mask_polygons(const uint8_t*, int, int) { return {}; }
#endif

}  // namespace sam::serve
