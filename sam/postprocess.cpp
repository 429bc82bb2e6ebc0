#include "sam/postprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "engine/ops/resample.h"

namespace sam {
namespace {

// The taps of a bilinear resize, one per output index (engine::ops::bilinear_taps:
// ATen's align_corners=False). Kept as arrays: the kernel table's resample_row
// reads them a vector at a time.
struct Taps {
  int in_size = 0;
  std::vector<int32_t> i0, i1;
  std::vector<float> w0, w1;

  Taps(int in, int out) : in_size(in), i0(out), i1(out), w0(out), w1(out) {
    engine::ops::bilinear_taps(in, out, i0.data(), i1.data(), w0.data(), w1.data());
  }
  int size() const { return static_cast<int>(i0.size()); }
  void shrink(int n) {  // keep the first n outputs
    i0.resize(n), i1.resize(n), w0.resize(n), w1.resize(n);
  }
  // Horizontal taps applied to one source row: out[x] = w0 * row[i0] + w1 * row[i1].
  void apply(const float* row, float* out) const {
    engine::ops::ResampleRowArgs a;
    a.row = row;
    a.in_size = in_size;
    a.i0 = i0.data();
    a.i1 = i1.data();
    a.w0 = w0.data();
    a.w1 = w1.data();
    a.n = size();
    a.out = out;
    engine::ops::resample_row(a);
  }
};

}  // namespace

void resize_bilinear_plane(const float* in, int in_h, int in_w, float* out, int out_h, int out_w) {
  const Taps ty(in_h, out_h), tx(in_w, out_w);
  for (int y = 0; y < out_h; ++y) {
    const float* r0 = in + static_cast<size_t>(ty.i0[y]) * in_w;
    const float* r1 = in + static_cast<size_t>(ty.i1[y]) * in_w;
    for (int x = 0; x < out_w; ++x)
      out[static_cast<size_t>(y) * out_w + x] = ty.w0[y] * (tx.w0[x] * r0[tx.i0[x]] + tx.w1[x] * r0[tx.i1[x]]) +
                                                ty.w1[y] * (tx.w0[x] * r1[tx.i0[x]] + tx.w1[x] * r1[tx.i1[x]]);
  }
}

namespace {

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
// jobs of (plane, block of output rows); `emit(plane, y, r0, r1, w0, w1)`
// produces output row y as the vertical blend w0 * r0 + w1 * r1 of two
// horizontally resized rows (W values each).
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
  const Taps s1y(L, img_size);
  Taps s1x(L, img_size);
  s1x.shrink(input_w);
  // Stage 2: cropped [input_h, input_w] -> original size.
  const Taps s2y(input_h, original_h), s2x(input_w, original_w);
  const int threads = engine::thread_pool().num_threads();
  const int row_blocks = std::max(1, std::min(original_h, (2 * threads + n - 1) / n));
  engine::thread_pool().parallel_for(0, int64_t{n} * row_blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> mid(static_cast<size_t>(input_w));
    for (int64_t job = begin; job < end; ++job) {
      const int m = static_cast<int>(job / row_blocks), blk = static_cast<int>(job % row_blocks);
      const int y_begin = static_cast<int>(int64_t{original_h} * blk / row_blocks);
      const int y_end = static_cast<int>(int64_t{original_h} * (blk + 1) / row_blocks);
      const float* plane = src.data<float>() + static_cast<size_t>(m) * L * L;
      // low[r]: low-res row r resized horizontally to the cropped width.
      RowCache low(input_w);
      auto make_low = [&](int r, float* dst) { s1x.apply(plane + static_cast<size_t>(r) * L, dst); };
      // wide[r]: intermediate (img_size-scale) row r, resized horizontally to original_w.
      RowCache wide(original_w);
      auto make_wide = [&](int r, float* dst) {
        const float* r0 = low.row(s1y.i0[r], make_low);
        const float* r1 = low.row(s1y.i1[r], make_low);
        engine::ops::blend_rows(r0, r1, s1y.w0[r], s1y.w1[r], input_w, mid.data());
        s2x.apply(mid.data(), dst);
      };
      for (int y = y_begin; y < y_end; ++y) {
        const float* r0 = wide.row(s2y.i0[y], make_wide);
        const float* r1 = wide.row(s2y.i1[y], make_wide);
        emit(m, y, r0, r1, s2y.w0[y], s2y.w1[y]);
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
  upscale_rows(src, img_size, input_h, input_w, original_h, original_w,
               [&](int m, int y, const float* r0, const float* r1, float w0, float w1) {
                 engine::ops::blend_rows(r0, r1, w0, w1, original_w, dst + m * plane + static_cast<size_t>(y) * original_w);
               });
  return out;
}

engine::Tensor postprocess_masks_binary(const engine::Tensor& low_res, int img_size, int input_h, int input_w,
                                        int original_h, int original_w, float threshold) {
  engine::check(low_res.rank() == 4, "postprocess_masks: expected f32 [N, C, L, L], got {}", low_res.shape().str());
  engine::Tensor out =
      engine::Tensor::empty(engine::DType::U8, {low_res.dim(0), low_res.dim(1), original_h, original_w});
  postprocess_masks_binary(low_res, img_size, input_h, input_w, original_h, original_w, out, threshold);
  return out;
}

void postprocess_masks_binary(const engine::Tensor& low_res, int img_size, int input_h, int input_w, int original_h,
                              int original_w, engine::Tensor& out, float threshold) {
  const engine::Tensor src = checked_source(low_res, img_size, input_h, input_w, original_h, original_w);
  engine::check(out.dtype() == engine::DType::U8 && out.is_contiguous() &&
                    out.shape() == engine::Shape{src.dim(0), src.dim(1), original_h, original_w},
                "postprocess_masks_binary: output {} for {} masks of {}x{}", out.shape().str(),
                src.dim(0) * src.dim(1), original_w, original_h);
  uint8_t* dst = out.data<uint8_t>();
  const size_t plane = static_cast<size_t>(original_h) * original_w;
  upscale_rows(src, img_size, input_h, input_w, original_h, original_w,
               [&](int m, int y, const float* r0, const float* r1, float w0, float w1) {
                 engine::ops::blend_rows_threshold(r0, r1, w0, w1, original_w, threshold,
                                         dst + m * plane + static_cast<size_t>(y) * original_w);
               });
}

}  // namespace sam
