#include "sam/preprocess.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/thread_pool.h"

namespace sam {

std::pair<int, int> preprocess_shape(int height, int width, int long_side) {
  // scale = long_side * 1.0 / max(h, w); int(h * scale + 0.5), in double as Python does.
  const double scale = long_side * 1.0 / std::max(height, width);
  const int h = static_cast<int>(height * scale + 0.5);
  const int w = static_cast<int>(width * scale + 0.5);
  return {h, w};
}

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

// Pillow: precompute_coeffs() + normalize_coeffs_8bpc() for the bilinear
// (triangle, support 1) filter, for one axis.
struct Coeffs {
  int taps = 0;             // coefficients per output (ksize)
  std::vector<int> bounds;  // per output: first input index, count
  std::vector<int32_t> k;   // [out, taps] fixed-point weights
};

Coeffs precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Coeffs c;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(out_size) * 2);
  c.k.assign(static_cast<size_t>(out_size) * c.taps, 0);
  std::vector<double> w(static_cast<size_t>(c.taps));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // (int) truncates toward zero in C, as in Pillow.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double t = std::fabs((x + xmin - center + 0.5) * ss);
      w[static_cast<size_t>(x)] = t < 1.0 ? 1.0 - t : 0.0;
      ww += w[static_cast<size_t>(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[static_cast<size_t>(x)] / ww : w[static_cast<size_t>(x)];
      c.k[static_cast<size_t>(xx) * c.taps + x] =
          static_cast<int32_t>(v < 0 ? std::trunc(-0.5 + v * (1 << kPrecisionBits))
                                     : std::trunc(0.5 + v * (1 << kPrecisionBits)));
    }
    c.bounds[static_cast<size_t>(xx) * 2] = xmin;
    c.bounds[static_cast<size_t>(xx) * 2 + 1] = xmax;
  }
  return c;
}

// Sums in int32, as Pillow's ImagingResample (PRECISION_BITS leaves the headroom: 255 times
// weights that sum to 2^22 plus the rounding half stays below 2^31).
inline uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Rows are independent in both passes: they are split over the thread pool (2 passes of a
// 1800x1200 photo to 1024 wide: ~18 ms on one core).
constexpr int64_t kRowsPerTask = 16;

}  // namespace

Image resize_bilinear_pil(const Image& src, int out_w, int out_h) {
  engine::check(src.channels == 3, "resize: RGB image expected");
  engine::check(out_w > 0 && out_h > 0, "resize: empty target {}x{}", out_w, out_h);
  const int ch = 3;
  // Horizontal pass (Pillow runs it first) over all rows.
  Image tmp;
  if (out_w != src.width) {
    const Coeffs c = precompute(src.width, out_w);
    tmp.width = out_w;
    tmp.height = src.height;
    tmp.pixels.resize(static_cast<size_t>(out_w) * src.height * ch);
    engine::thread_pool().parallel_for(0, src.height, kRowsPerTask, [&](int64_t y0, int64_t y1) {
      for (int64_t y = y0; y < y1; ++y) {
        const uint8_t* in = src.row(static_cast<int>(y));
        uint8_t* out = tmp.row(static_cast<int>(y));
        for (int xx = 0; xx < out_w; ++xx) {
          const int xmin = c.bounds[static_cast<size_t>(xx) * 2], xmax = c.bounds[static_cast<size_t>(xx) * 2 + 1];
          const int32_t* k = &c.k[static_cast<size_t>(xx) * c.taps];
          const uint8_t* px = in + xmin * ch;
          int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
          for (int x = 0; x < xmax; ++x, px += ch) {
            s0 += px[0] * k[x];
            s1 += px[1] * k[x];
            s2 += px[2] * k[x];
          }
          out[xx * ch] = clip8(s0);
          out[xx * ch + 1] = clip8(s1);
          out[xx * ch + 2] = clip8(s2);
        }
      }
    });
  } else {
    tmp = src;
  }
  if (out_h == tmp.height) return tmp;
  // Vertical pass: a row of int32 sums per output row, one tap row at a time (vectorisable).
  const Coeffs c = precompute(tmp.height, out_h);
  Image out;
  out.width = tmp.width;
  out.height = out_h;
  out.pixels.resize(static_cast<size_t>(tmp.width) * out_h * ch);
  const size_t row_len = static_cast<size_t>(tmp.width) * ch;
  engine::thread_pool().parallel_for(0, out_h, kRowsPerTask, [&](int64_t y0, int64_t y1) {
    std::vector<int32_t> acc(row_len);
    for (int64_t yy = y0; yy < y1; ++yy) {
      const int ymin = c.bounds[static_cast<size_t>(yy) * 2], ymax = c.bounds[static_cast<size_t>(yy) * 2 + 1];
      const int32_t* k = &c.k[static_cast<size_t>(yy) * c.taps];
      std::fill(acc.begin(), acc.end(), int32_t{1} << (kPrecisionBits - 1));
      for (int y = 0; y < ymax; ++y) {
        const uint8_t* in = tmp.row(y + ymin);
        const int32_t w = k[y];
        for (size_t i = 0; i < row_len; ++i) acc[i] += in[i] * w;
      }
      uint8_t* o = out.row(static_cast<int>(yy));
      for (size_t i = 0; i < row_len; ++i) o[i] = clip8(acc[i]);
    }
  });
  return out;
}

engine::Tensor normalize_and_pad(const Image& resized, int img_size) {
  engine::check(resized.channels == 3 && resized.width <= img_size && resized.height <= img_size,
                "normalize_and_pad: {}x{}x{} image for a {} input", resized.width, resized.height, resized.channels,
                img_size);
  engine::Tensor t = engine::Tensor::zeros(engine::DType::F32, {1, 3, img_size, img_size});
  float* out = t.data<float>();
  engine::thread_pool().parallel_for(0, int64_t{3} * resized.height, kRowsPerTask, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int c = static_cast<int>(r / resized.height), y = static_cast<int>(r % resized.height);
      float* o = out + (static_cast<size_t>(c) * img_size + y) * img_size;
      const uint8_t* in = resized.row(y);
      for (int x = 0; x < resized.width; ++x) o[x] = (static_cast<float>(in[x * 3 + c]) - kPixelMean[c]) / kPixelStd[c];
    }
  });
  return t;
}

}  // namespace sam
