// mask_to_rle_pytorch of segment_anything/utils/amg.py for one row-major mask:
// runs in column-major (Fortran) pixel order, as COCO RLE wants them.
//
// Walking a row-major mask column by column touches a new cache line per
// pixel, and a per-pixel loop is slow on masks of a few megapixels (sam serve
// encodes three 1280x960 masks per click). Instead, per 64 x 64 tile:
//   1. each row's 64 bytes become one 64-bit word (bit c = column c != 0),
//   2. the 64 x 64 bit matrix is transposed in registers (bit r of word c =
//      row r of column c),
//   3. runs are found a word (64 pixels of a column) at a time with countr_zero,
//      so a long run costs one step per 64 pixels and a change costs one step.
// About one operation per pixel instead of a cache miss per pixel; the plain
// per-pixel reference is in tests/sam/test_mask_rle.cpp.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sam/amg/amg_utils.h"

namespace sam::amg {
namespace {

constexpr int kTile = 64;

// Bit i = (byte i of the 8 bytes at p != 0), bytes in memory order.
inline uint64_t nonzero_bits8(const uint8_t* p) {
  uint64_t x;
  std::memcpy(&x, p, sizeof x);
  if constexpr (std::endian::native == std::endian::big) x = __builtin_bswap64(x);
  // High bit of each byte set iff the byte is non-zero (no carry crosses bytes:
  // 0x7f + 0x7f fits in a byte).
  uint64_t hi = (((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | x) & 0x8080808080808080ULL;
  // Gather the 8 high bits (at 8i + 7) into bits 56 + i: the multiplier's terms
  // 2^(7j) move bit 8i + 7 to 8i + 7 + 7j, which is 56 + i for j = 7 - i; no two
  // terms land on the same bit, so nothing carries into the top byte.
  return (hi * 0x0002040810204081ULL) >> 56;
}

// Bit c = (row[c] != 0) for c < cols (cols <= 64); the other bits 0.
inline uint64_t row_bits(const uint8_t* row, int cols) {
  uint64_t bits = 0;
  int c = 0;
  for (; c + 8 <= cols; c += 8) bits |= nonzero_bits8(row + c) << c;
  for (; c < cols; ++c) bits |= static_cast<uint64_t>(row[c] != 0) << c;
  return bits;
}

// In-place transpose of a 64 x 64 bit matrix (a[r] bit c -> a[c] bit r): swap
// the off-diagonal blocks of size j = 32, 16, ..., 1 within each 2j x 2j block.
void transpose64(uint64_t a[kTile]) {
  uint64_t m = 0x00000000ffffffffULL;
  for (int j = 32; j != 0; j >>= 1, m ^= m << j) {
    for (int k = 0; k < kTile; k = (k + j + 1) & ~j) {
      const uint64_t t = ((a[k] >> j) ^ a[k + j]) & m;
      a[k + j] ^= t;
      a[k] ^= t << j;
    }
  }
}

// Appends the column-major runs of one column, given as words of 64 pixels.
class RunScanner {
 public:
  explicit RunScanner(std::vector<uint32_t>& counts) : counts_(counts) {}
  // n pixels (1..64) of the column, pixel i in bit i of w.
  void push(uint64_t w, int n) {
    const uint64_t valid = n == 64 ? ~0ULL : (1ULL << n) - 1;
    uint64_t diff = (value_ ? ~w : w) & valid;  // pixels that end the open run
    int pos = 0;
    while (diff != 0) {
      const int t = std::countr_zero(diff);
      counts_.push_back(run_ + static_cast<uint32_t>(t - pos));
      run_ = 0;
      value_ ^= 1;
      pos = t;
      diff = ~diff & valid & (~0ULL << t);  // the new run ends where the pixels flip back
    }
    run_ += static_cast<uint32_t>(n - pos);
  }
  void finish() { counts_.push_back(run_); }

 private:
  std::vector<uint32_t>& counts_;
  uint32_t run_ = 0;  // open run, continued across words and columns
  int value_ = 0;     // its value: the first run is a 0-run (possibly empty)
};

}  // namespace

Rle mask_to_rle(const uint8_t* mask, int h, int w) {
  // Room for a run per 32 pixels up front (a noisy 1280x960 mask has ~6e4
  // runs): growing from empty re-copies the runs and faults in fresh pages.
  std::vector<uint32_t> counts;
  counts.reserve(static_cast<size_t>(h) * w / 32 + 64);
  RunScanner scan(counts);
  const int blocks = (h + kTile - 1) / kTile;
  // columns[c * blocks + b]: pixels (64b .. 64b + 63, x0 + c) of the strip.
  std::vector<uint64_t> columns(static_cast<size_t>(kTile) * blocks);
  uint64_t tile[kTile];
  for (int x0 = 0; x0 < w; x0 += kTile) {
    const int cols = std::min(kTile, w - x0);
    for (int b = 0; b < blocks; ++b) {
      const int y0 = b * kTile, rows = std::min(kTile, h - y0);
      for (int r = 0; r < rows; ++r) tile[r] = row_bits(mask + static_cast<size_t>(y0 + r) * w + x0, cols);
      std::fill(tile + rows, tile + kTile, 0);
      transpose64(tile);
      for (int c = 0; c < cols; ++c) columns[static_cast<size_t>(c) * blocks + b] = tile[c];
    }
    for (int c = 0; c < cols; ++c)
      for (int b = 0; b < blocks; ++b)
        scan.push(columns[static_cast<size_t>(c) * blocks + b], std::min(kTile, h - b * kTile));
  }
  scan.finish();
  // Callers keep many RLEs (automatic mask generation): no unused room in them.
  if (counts.capacity() > 2 * counts.size() + 64) counts = std::vector<uint32_t>(counts.begin(), counts.end());
  return {h, w, std::move(counts)};
}

}  // namespace sam::amg
