#include "sam/preprocess.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

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

inline uint8_t clip8(int64_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

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
    for (int y = 0; y < src.height; ++y) {
      const uint8_t* in = src.row(y);
      uint8_t* out = tmp.row(y);
      for (int xx = 0; xx < out_w; ++xx) {
        const int xmin = c.bounds[static_cast<size_t>(xx) * 2], xmax = c.bounds[static_cast<size_t>(xx) * 2 + 1];
        const int32_t* k = &c.k[static_cast<size_t>(xx) * c.taps];
        for (int b = 0; b < ch; ++b) {
          int64_t ss = 1 << (kPrecisionBits - 1);
          for (int x = 0; x < xmax; ++x) ss += static_cast<int64_t>(in[(x + xmin) * ch + b]) * k[x];
          out[xx * ch + b] = clip8(ss);
        }
      }
    }
  } else {
    tmp = src;
  }
  if (out_h == tmp.height) return tmp;
  // Vertical pass.
  const Coeffs c = precompute(tmp.height, out_h);
  Image out;
  out.width = tmp.width;
  out.height = out_h;
  out.pixels.resize(static_cast<size_t>(tmp.width) * out_h * ch);
  const size_t row_len = static_cast<size_t>(tmp.width) * ch;
  for (int yy = 0; yy < out_h; ++yy) {
    const int ymin = c.bounds[static_cast<size_t>(yy) * 2], ymax = c.bounds[static_cast<size_t>(yy) * 2 + 1];
    const int32_t* k = &c.k[static_cast<size_t>(yy) * c.taps];
    uint8_t* o = out.row(yy);
    for (size_t i = 0; i < row_len; ++i) {
      int64_t ss = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < ymax; ++y) ss += static_cast<int64_t>(tmp.row(y + ymin)[i]) * k[y];
      o[i] = clip8(ss);
    }
  }
  return out;
}

engine::Tensor normalize_and_pad(const Image& resized, int img_size) {
  engine::check(resized.channels == 3 && resized.width <= img_size && resized.height <= img_size,
                "normalize_and_pad: {}x{}x{} image for a {} input", resized.width, resized.height, resized.channels,
                img_size);
  engine::Tensor t = engine::Tensor::zeros(engine::DType::F32, {1, 3, img_size, img_size});
  float* out = t.data<float>();
  for (int c = 0; c < 3; ++c) {
    float* plane = out + static_cast<size_t>(c) * img_size * img_size;
    for (int y = 0; y < resized.height; ++y) {
      const uint8_t* in = resized.row(y);
      for (int x = 0; x < resized.width; ++x)
        plane[static_cast<size_t>(y) * img_size + x] = (static_cast<float>(in[x * 3 + c]) - kPixelMean[c]) / kPixelStd[c];
    }
  }
  return t;
}

}  // namespace sam
