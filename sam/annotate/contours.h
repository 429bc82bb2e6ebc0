// Polygons from binary masks: the outer borders of a mask's 8-connected
// regions by border following (Suzuki & Abe 1985, "Topological structural
// analysis of digitized binary images by border following"), with the points,
// start points, orientation and contour order that OpenCV's
// cv::findContours(mask, RETR_EXTERNAL, CHAIN_APPROX_SIMPLE) gives, so that
// label files written from them equal those of Python pipelines built on
// OpenCV (Ultralytics' masks2segments). Tested point for point against OpenCV
// (tests/annotate/).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sam::annotate {

using ContourPoint = std::array<int, 2>;        // (x, y): column, row in mask pixels
using Contour = std::vector<ContourPoint>;

// The external contours of `mask` ([height, width] u8, non-zero = inside, rows
// `row_stride` bytes apart). Each contour is the chain of border pixels of one
// 8-connected region that is not inside a hole of another region, compressed to
// the pixels where the chain changes direction (CHAIN_APPROX_SIMPLE); a single
// pixel gives one point. A contour starts at its region's first pixel in raster
// order and runs counterclockwise on screen (down the left side first). Regions
// inside holes of other regions are left out (RETR_EXTERNAL). The contours come
// in OpenCV's order: the region found last in the raster scan first. Pixels
// outside the image count as background. Empty when the mask has no set pixel;
// throws std::invalid_argument on a negative size or a row stride < width.
std::vector<Contour> external_contours(const uint8_t* mask, int height, int width, std::ptrdiff_t row_stride);

// Ultralytics' merge_multi_segment (ultralytics/data/converter.py), which
// masks2segments(strategy="all") applies when a mask has more than one
// contour: joins the contours, in the given order, into one closed chain
// through the closest pair of points of each consecutive pair of contours
// (each contour is walked from its joining point once round and closed, the
// middle ones split at their two joining points: there and back). One
// contour is returned as it is.
Contour merge_contours(const std::vector<Contour>& contours);

// The contours of a mask as one polygon, as Ultralytics' masks2segments
// (default strategy "all") computes it: external_contours, then
// merge_contours when there are several; empty when the mask is empty.
Contour mask_polygon(const uint8_t* mask, int height, int width, std::ptrdiff_t row_stride);

}  // namespace sam::annotate
