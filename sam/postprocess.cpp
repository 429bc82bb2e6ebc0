#include "postprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "engine/thread_pool.h"

namespace sam {
namespace {

// One output index of a bilinear resize: two source indices and their weights,
// computed as aten/src/ATen/native/UpSample.h does for align_corners=False
// (area_pixel_compute_source_index + guard_index_and_lambda), in float.
struct Tap {
  int i0, i1;
  float w0, w1;
};

std::vector<Tap> taps(int in_size, int out_size) {
  std::vector<Tap> t(static_cast<size_t>(out_size));
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int o = 0; o < out_size; ++o) {
    float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (src < 0.f) src = 0.f;
    const int i0 = std::min(static_cast<int>(std::floor(src)), in_size - 1);
    const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.f), 1.f);
    t[static_cast<size_t>(o)] = {i0, i0 + (i0 < in_size - 1 ? 1 : 0), 1.f - l1, l1};
  }
  return t;
}

}  // namespace

void resize_bilinear_plane(const float* in, int in_h, int in_w, float* out, int out_h, int out_w) {
  const std::vector<Tap> ty = taps(in_h, out_h), tx = taps(in_w, out_w);
  for (int y = 0; y < out_h; ++y) {
    const Tap& a = ty[static_cast<size_t>(y)];
    const float* r0 = in + static_cast<size_t>(a.i0) * in_w;
    const float* r1 = in + static_cast<size_t>(a.i1) * in_w;
    for (int x = 0; x < out_w; ++x) {
      const Tap& b = tx[static_cast<size_t>(x)];
      out[static_cast<size_t>(y) * out_w + x] =
          a.w0 * (b.w0 * r0[b.i0] + b.w1 * r0[b.i1]) + a.w1 * (b.w0 * r1[b.i0] + b.w1 * r1[b.i1]);
    }
  }
}

namespace {

// Horizontal taps applied to one source row: out[x] = w0 * row[i0] + w1 * row[i1].
void resize_row(const float* row, const std::vector<Tap>& tx, float* out) {
  const size_t n = tx.size();
  for (size_t x = 0; x < n; ++x) out[x] = tx[x].w0 * row[tx[x].i0] + tx[x].w1 * row[tx[x].i1];
}

// Vertical taps: out[x] = w0 * r0[x] + w1 * r1[x] (contiguous, vectorises).
void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* out) {
  for (int x = 0; x < n; ++x) out[x] = w0 * r0[x] + w1 * r1[x];
}

// Two-slot cache of rows produced in increasing source-row order: row(r)
// returns make(r, dst)'s row, computing it only on a miss.
class RowCache {
 public:
  explicit RowCache(int width) : buf_(static_cast<size_t>(2) * width), width_(width) {}
  template <class Make>
  const float* row(int r, const Make& make) {
    for (int s = 0; s < 2; ++s)
      if (key_[s] == r) return buf_.data() + static_cast<size_t>(s) * width_;
    const int slot = key_[0] < key_[1] ? 0 : 1;  // evict the older (smaller) row
    float* dst = buf_.data() + static_cast<size_t>(slot) * width_;
    make(r, dst);
    key_[slot] = r;
    return dst;
  }

 private:
  std::vector<float> buf_;
  int width_;
  int key_[2] = {-1, -1};
};

// The fused two-stage upscaling of postprocess_masks for n planes, split into
// jobs of (plane, block of output rows); `emit(plane, y, row_values)` receives
// each output row of W values.
//
// Each bilinear stage is, as ATen evaluates it, w0y * (w0x a + w1x b) + w1y * (w0x c + w1x d):
// horizontal interpolation of two source rows, then a vertical blend. So the
// horizontally resized source rows are computed once and cached (each serves
// ~2 output rows), and every output row is a contiguous blend of two cached
// rows; the arithmetic per element is unchanged.
template <class Emit>
void upscale_rows(const engine::Tensor& src, int img_size, int input_h, int input_w, int original_h, int original_w,
                  Emit emit) {
  const int n = static_cast<int>(src.dim(0) * src.dim(1));
  const int L = static_cast<int>(src.dim(2));
  // Stage 1: L -> img_size (only rows/columns < input_h / input_w survive the crop).
  const std::vector<Tap> s1y = taps(L, img_size);
  std::vector<Tap> s1x = taps(L, img_size);
  s1x.resize(static_cast<size_t>(input_w));
  // Stage 2: cropped [input_h, input_w] -> original size.
  const std::vector<Tap> s2y = taps(input_h, original_h), s2x = taps(input_w, original_w);
  const int threads = engine::thread_pool().num_threads();
  const int row_blocks = std::max(1, std::min(original_h, (2 * threads + n - 1) / n));
  engine::thread_pool().parallel_for(0, int64_t{n} * row_blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> mid(static_cast<size_t>(input_w)), out_row(static_cast<size_t>(original_w));
    for (int64_t job = begin; job < end; ++job) {
      const int m = static_cast<int>(job / row_blocks), blk = static_cast<int>(job % row_blocks);
      const int y_begin = static_cast<int>(int64_t{original_h} * blk / row_blocks);
      const int y_end = static_cast<int>(int64_t{original_h} * (blk + 1) / row_blocks);
      const float* plane = src.data<float>() + static_cast<size_t>(m) * L * L;
      // low[r]: low-res row r resized horizontally to the cropped width.
      RowCache low(input_w);
      auto make_low = [&](int r, float* dst) { resize_row(plane + static_cast<size_t>(r) * L, s1x, dst); };
      // wide[r]: intermediate (img_size-scale) row r, resized horizontally to original_w.
      RowCache wide(original_w);
      auto make_wide = [&](int r, float* dst) {
        const Tap& a = s1y[static_cast<size_t>(r)];
        const float* r0 = low.row(a.i0, make_low);
        const float* r1 = low.row(a.i1, make_low);
        blend_rows(r0, r1, a.w0, a.w1, input_w, mid.data());
        resize_row(mid.data(), s2x, dst);
      };
      for (int y = y_begin; y < y_end; ++y) {
        const Tap& a = s2y[static_cast<size_t>(y)];
        const float* r0 = wide.row(a.i0, make_wide);
        const float* r1 = wide.row(a.i1, make_wide);
        blend_rows(r0, r1, a.w0, a.w1, original_w, out_row.data());
        emit(m, y, out_row.data());
      }
    }
  });
}

engine::Tensor checked_source(const engine::Tensor& low_res, int img_size, int input_h, int input_w, int original_h,
                              int original_w) {
  engine::check(low_res.dtype() == engine::DType::F32 && low_res.rank() == 4 && low_res.dim(2) == low_res.dim(3),
                "postprocess_masks: expected f32 [N, C, L, L], got {}", low_res.shape().str());
  engine::check(input_h > 0 && input_w > 0 && input_h <= img_size && input_w <= img_size && original_h > 0 &&
                    original_w > 0,
                "postprocess_masks: bad sizes (input {}x{}, image {}x{})", input_w, input_h, original_w, original_h);
  return low_res.contiguous();
}

}  // namespace

engine::Tensor postprocess_masks(const engine::Tensor& low_res, int img_size, int input_h, int input_w,
                                 int original_h, int original_w) {
  const engine::Tensor src = checked_source(low_res, img_size, input_h, input_w, original_h, original_w);
  engine::Tensor out = engine::Tensor::empty(engine::DType::F32, {src.dim(0), src.dim(1), original_h, original_w});
  float* dst = out.data<float>();
  const size_t plane = static_cast<size_t>(original_h) * original_w;
  upscale_rows(src, img_size, input_h, input_w, original_h, original_w, [&](int m, int y, const float* row) {
    std::memcpy(dst + m * plane + static_cast<size_t>(y) * original_w, row, sizeof(float) * original_w);
  });
  return out;
}

engine::Tensor postprocess_masks_binary(const engine::Tensor& low_res, int img_size, int input_h, int input_w,
                                        int original_h, int original_w, float threshold) {
  const engine::Tensor src = checked_source(low_res, img_size, input_h, input_w, original_h, original_w);
  engine::Tensor out = engine::Tensor::empty(engine::DType::U8, {src.dim(0), src.dim(1), original_h, original_w});
  uint8_t* dst = out.data<uint8_t>();
  const size_t plane = static_cast<size_t>(original_h) * original_w;
  upscale_rows(src, img_size, input_h, input_w, original_h, original_w, [&](int m, int y, const float* row) {
    uint8_t* o = dst + m * plane + static_cast<size_t>(y) * original_w;
    for (int x = 0; x < original_w; ++x) o[x] = row[x] > threshold;
  });
  return out;
}

}  // namespace sam
