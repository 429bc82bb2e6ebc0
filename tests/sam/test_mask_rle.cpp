// The bit-parallel mask_to_rle (sam/amg/mask_rle.cpp) against a plain
// per-pixel reference: mask_to_rle_pytorch's definition (column-major pixel
// order, the first run a 0-run, runs alternate). Sizes around the 64 x 64
// tiles and primes; masks random, striped, single pixels, empty and full; any
// non-zero byte counts as set. The box, area and COCO string derived from the
// runs are checked against the mask on the same masks.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "sam/amg/amg_utils.h"

using sam::amg::mask_to_rle;
using sam::amg::Rle;

namespace {

std::vector<uint32_t> reference_counts(const std::vector<uint8_t>& m, int h, int w) {
  std::vector<uint32_t> counts;
  uint32_t run = 0;
  bool value = false;
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < h; ++y) {
      const bool v = m[static_cast<size_t>(y) * w + x] != 0;
      if (v != value) {
        counts.push_back(run);
        run = 0;
        value = v;
      }
      ++run;
    }
  counts.push_back(run);
  return counts;
}

void check_mask(const std::vector<uint8_t>& m, int h, int w, const char* kind) {
  const Rle r = mask_to_rle(m.data(), h, w);
  INFO(kind << " mask " << h << "x" << w);
  CHECK(r.h == h);
  CHECK(r.w == w);
  CHECK(r.counts == reference_counts(m, h, w));
  // What sam serve derives from the runs: box, area, the COCO string.
  CHECK(sam::amg::rle_to_box(r) == sam::amg::mask_to_box(m.data(), h, w));
  int64_t area = 0;
  for (uint8_t v : m) area += v != 0;
  CHECK(sam::amg::area_from_rle(r) == area);
  CHECK(sam::amg::coco_decode_counts(sam::amg::coco_encode_counts(r.counts)) == r.counts);
}

}  // namespace

TEST_CASE("mask_to_rle equals the per-pixel reference", "[amg][rle]") {
  std::mt19937 rng(11);
  const int sizes[] = {1, 2, 7, 8, 9, 31, 63, 64, 65, 67, 127, 128, 129, 131, 191, 193};
  for (int h : sizes)
    for (int w : sizes) {
      if ((h * 7 + w) % 3 != 0 && h != 64 && w != 64 && h != 1) continue;  // a spread of the pairs
      const size_t n = static_cast<size_t>(h) * w;
      std::vector<uint8_t> m(n);
      // Random pixels at several densities, with arbitrary non-zero byte values.
      for (double p : {0.02, 0.5, 0.98}) {
        std::bernoulli_distribution on(p);
        for (auto& v : m) v = on(rng) ? static_cast<uint8_t>(1 + rng() % 255) : 0;
        check_mask(m, h, w, "random");
      }
      // Blobs: long runs that cross word, tile and column boundaries.
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) m[static_cast<size_t>(y) * w + x] = ((x / 5 + y / 37) % 3 == 0) ? 255 : 0;
      check_mask(m, h, w, "blocks");
      // Alternating pixels: the most runs a mask can have.
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) m[static_cast<size_t>(y) * w + x] = (x + y) & 1;
      check_mask(m, h, w, "checker");
      std::fill(m.begin(), m.end(), 0);
      check_mask(m, h, w, "empty");
      std::fill(m.begin(), m.end(), 1);
      check_mask(m, h, w, "full");
      // One set pixel: first, last, and at the tile edges.
      for (size_t at : {size_t{0}, n - 1, std::min(n - 1, size_t{63}), std::min(n - 1, static_cast<size_t>(64) * w)}) {
        std::fill(m.begin(), m.end(), 0);
        m[at] = 0x80;
        check_mask(m, h, w, "one pixel");
      }
    }
}

TEST_CASE("mask_to_rle of an empty mask and of a photo-sized mask", "[amg][rle]") {
  CHECK(mask_to_rle(nullptr, 0, 0).counts == std::vector<uint32_t>{0});
  CHECK(mask_to_rle(nullptr, 5, 0).counts == std::vector<uint32_t>{0});
  // 1280 x 960 (what sam serve encodes per mask): a disc plus noise.
  const int h = 960, w = 1280;
  std::vector<uint8_t> m(static_cast<size_t>(h) * w);
  std::mt19937 rng(5);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double dx = x - 600.5, dy = y - 410.25;
      m[static_cast<size_t>(y) * w + x] = (dx * dx + dy * dy < 300.0 * 300.0) != (rng() % 50 == 0);
    }
  check_mask(m, h, w, "disc");
}
