// See amg_upscale.h. Buffers (per mask, in Scratch):
//   low_t [L, L]                 the low-res plane transposed (column j = row j)
//   h1_t  [input_w, low_rows]    stage 1, horizontal pass: h1_t[c][i] = row i interpolated at column c
//   s1_t  [input_w, input_h]     stage 1 result (cropped to the resized image), transposed
//   band  [input_w, input_h]     s1_t's band codes: how many thresholds each value is above,
//                                or kUnsafe within a margin of a threshold (or not finite)
#include "sam/amg/amg_upscale.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "engine/error.h"

namespace sam::amg {

MaskUpscaler::Taps MaskUpscaler::taps(int in_size, int out_size, int count) {
  // aten/src/ATen/native/UpSample.h for align_corners=False, in f32:
  // area_pixel_compute_source_index + guard_index_and_lambda, and the
  // output_size == input_size shortcut of compute_source_index_and_lambda.
  Taps t;
  t.i0.resize(static_cast<size_t>(count));
  t.i1.resize(static_cast<size_t>(count));
  t.w0.resize(static_cast<size_t>(count));
  t.w1.resize(static_cast<size_t>(count));
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int o = 0; o < count; ++o) {
    const size_t k = static_cast<size_t>(o);
    if (in_size == out_size) {
      t.i0[k] = t.i1[k] = o;
      t.w0[k] = 1.f;
      t.w1[k] = 0.f;
      continue;
    }
    float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (src < 0.f) src = 0.f;
    const int i0 = std::min(static_cast<int>(std::floor(src)), in_size - 1);
    const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.f), 1.f);
    t.i0[k] = i0;
    t.i1[k] = i0 + (i0 < in_size - 1 ? 1 : 0);
    t.w0[k] = 1.f - l1;
    t.w1[k] = l1;
  }
  return t;
}

MaskUpscaler::MaskUpscaler(const Geometry& g, float mask_threshold, float stability_hi, float stability_lo)
    : g_(g), thr_(mask_threshold), hi_(stability_hi), lo_(stability_lo) {
  crop_w_ = g.crop_box[2] - g.crop_box[0];
  crop_h_ = g.crop_box[3] - g.crop_box[1];
  engine::check(g.low_res > 0 && g.img_size > 0 && g.input_h > 0 && g.input_w > 0 && g.input_h <= g.img_size &&
                    g.input_w <= g.img_size && crop_w_ > 0 && crop_h_ > 0 && g.crop_box[0] >= 0 &&
                    g.crop_box[1] >= 0 && g.crop_box[2] <= g.orig_w && g.crop_box[3] <= g.orig_h,
                "MaskUpscaler: bad geometry");
  // Stage 1: L -> S, of which only rows / columns < input_h / input_w survive the crop.
  s1y_ = taps(g.low_res, g.img_size, g.input_h);
  s1x_ = taps(g.low_res, g.img_size, g.input_w);
  // Stage 2: [input_h, input_w] -> [crop_h, crop_w].
  s2y_ = taps(g.input_h, crop_h_, crop_h_);
  s2x_ = taps(g.input_w, crop_w_, crop_w_);
  low_rows_ = *std::max_element(s1y_.i1.begin(), s1y_.i1.end()) + 1;

  // Safe bands. Each output pixel is two bilinear steps (convex combinations,
  // weights >= 0 summing to 1 within 2^-24) away from four stage-1 values; each
  // step's rounding moves a value by a relative ~4e-7 at most. Thresholds
  // include 0 (mask_threshold), so every band holds values of one sign only:
  // four values in one band, each by m_i = 1e-3 * max(1, |t_i|) away from the
  // thresholds, give a pixel in that band.
  t_[0] = thr_;
  t_[1] = hi_;
  t_[2] = lo_;
  std::sort(t_, t_ + 3);
  for (int i = 0; i < 3; ++i) m_[i] = 1e-3f * std::max(1.f, std::fabs(t_[i]));
  for (int k = 0; k < 4; ++k) {  // band k: t_[k-1] < v < t_[k]; v > t iff t <= t_[k-1]
    band_hi_[k] = k > 0 && hi_ <= t_[k - 1];
    band_lo_[k] = k > 0 && lo_ <= t_[k - 1];
    band_mask_[k] = k > 0 && thr_ <= t_[k - 1];
  }
  const int ih = g.input_h;
  y_from_.resize(static_cast<size_t>(ih));
  y_to_.resize(static_cast<size_t>(ih));
  for (int r = 0, y = 0; r < ih; ++r) {  // the taps are non-decreasing in y
    while (y < crop_h_ && s2y_.i0[static_cast<size_t>(y)] < r) ++y;
    y_from_[static_cast<size_t>(r)] = y;
  }
  for (int r = 0, y = 0; r < ih; ++r) {
    while (y < crop_h_ && s2y_.i1[static_cast<size_t>(y)] <= r) ++y;
    y_to_[static_cast<size_t>(r)] = y;
  }
}

void MaskUpscaler::stage1(const float* low, Scratch& s) const {
  const int L = g_.low_res, iw = g_.input_w, ih = g_.input_h, lr = low_rows_;
  s.low_t.resize(static_cast<size_t>(L) * L);
  s.h1_t.resize(static_cast<size_t>(iw) * lr);
  s.s1_t.resize(static_cast<size_t>(iw) * ih);

  // low_t[j][i] = low[i][j] (only the rows stage 1 reads), in 32x32 tiles.
  float* __restrict lt = s.low_t.data();
  for (int i0 = 0; i0 < lr; i0 += 32)
    for (int j0 = 0; j0 < L; j0 += 32)
      for (int i = i0; i < std::min(i0 + 32, lr); ++i)
        for (int j = j0; j < std::min(j0 + 32, L); ++j) lt[static_cast<size_t>(j) * L + i] = low[static_cast<size_t>(i) * L + j];

  // Stage 1, horizontal: h1_t[c][i] = wx0 * low[i][x0] + wx1 * low[i][x1].
  for (int c = 0; c < iw; ++c) {
    const float w0 = s1x_.w0[static_cast<size_t>(c)], w1 = s1x_.w1[static_cast<size_t>(c)];
    const float* __restrict a = lt + static_cast<size_t>(s1x_.i0[static_cast<size_t>(c)]) * L;
    const float* __restrict b = lt + static_cast<size_t>(s1x_.i1[static_cast<size_t>(c)]) * L;
    float* __restrict o = s.h1_t.data() + static_cast<size_t>(c) * lr;
    for (int i = 0; i < lr; ++i) o[i] = w0 * a[i] + w1 * b[i];
  }
  // Stage 1, vertical: s1_t[c][r] = wy0 * h1[y0][c] + wy1 * h1[y1][c].
  const int* __restrict y0 = s1y_.i0.data();
  const int* __restrict y1 = s1y_.i1.data();
  const float* __restrict v0 = s1y_.w0.data();
  const float* __restrict v1 = s1y_.w1.data();
  for (int c = 0; c < iw; ++c) {
    const float* __restrict h = s.h1_t.data() + static_cast<size_t>(c) * lr;
    float* __restrict o = s.s1_t.data() + static_cast<size_t>(c) * ih;
    for (int r = 0; r < ih; ++r) o[r] = v0[r] * h[y0[r]] + v1[r] * h[y1[r]];
  }
}

MaskUpscaler::Result MaskUpscaler::run(const float* low, Scratch& s) const { return run_impl(low, s, true); }
MaskUpscaler::Result MaskUpscaler::run_dense(const float* low, Scratch& s) const { return run_impl(low, s, false); }

namespace {
constexpr uint8_t kUnsafe = 0xff;
constexpr int kMinSpan = 16;  // output rows

uint64_t load8(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
}  // namespace

// Skipping pays where logits are mostly far from the thresholds (smooth,
// large logits, as trained models give); for noisy low-magnitude logits (e.g.
// random weights) evaluating everything is faster. Speed only.
bool MaskUpscaler::worth_skipping(const float* low) const {
  const int64_t n = static_cast<int64_t>(low_rows_) * g_.low_res;
  int64_t near = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float x = low[i];
    near += static_cast<int64_t>((std::fabs(x - t_[0]) < 0.5f) | (std::fabs(x - t_[1]) < 0.5f) |
                                 (std::fabs(x - t_[2]) < 0.5f));
  }
  return near * 10 < n * 3;
}

// s.band[i]: the band code of stage-1 value i (thresholds below it), or
// kUnsafe where it lies within a margin of a threshold (or is not finite).
void MaskUpscaler::classify_bands(Scratch& s) const {
  s.band.resize(static_cast<size_t>(g_.input_w) * g_.input_h);
  const float t0 = t_[0], t1 = t_[1], t2 = t_[2], m0 = m_[0], m1 = m_[1], m2 = m_[2];
  const float* __restrict v = s.s1_t.data();
  uint8_t* __restrict b = s.band.data();
  const size_t n = s.band.size();
  for (size_t i = 0; i < n; ++i) {
    const float x = v[i];
    // Branch-free (vectorised): code | 0xff is kUnsafe.
    const int code = static_cast<int>(x > t0) + static_cast<int>(x > t1) + static_cast<int>(x > t2);
    const int unsafe = static_cast<int>(!(std::fabs(x) <= FLT_MAX)) | static_cast<int>(std::fabs(x - t0) <= m0) |
                       static_cast<int>(std::fabs(x - t1) <= m1) | static_cast<int>(std::fabs(x - t2) <= m2);
    b[i] = static_cast<uint8_t>(code | (unsafe * kUnsafe));
  }
}

// The safe runs of the output column between stage-1 columns xa and xb:
// s.spans gets [ys, ye) output rows all in one band; returns the rows covered.
int MaskUpscaler::find_safe_spans(size_t xa, size_t xb, Scratch& s) const {
  const int ih = g_.input_h;
  const uint8_t* __restrict ca = s.band.data() + xa * ih;
  const uint8_t* __restrict cbd = s.band.data() + xb * ih;
  int r = 0, pos = 0, covered = 0;
  while (r < ih) {
    const uint8_t k = ca[r];
    if (k == kUnsafe || cbd[r] != k) {
      ++r;
      continue;
    }
    // The run [r, e) of stage-1 rows where both columns are in band k.
    int e = r + 1;
    const uint64_t kk = 0x0101010101010101ull * k;
    while (e + 8 <= ih && load8(ca + e) == kk && load8(cbd + e) == kk) e += 8;
    while (e < ih && ca[e] == k && cbd[e] == k) ++e;
    const int ys = std::max(pos, y_from_[static_cast<size_t>(r)]), ye = y_to_[static_cast<size_t>(e - 1)];
    if (ye - ys >= kMinSpan) {  // (shorter ones are cheaper to evaluate)
      s.spans.push_back({ys, ye, k});
      covered += ye - ys;
      pos = ye;
    }
    r = e;
  }
  return covered;
}

MaskUpscaler::Result MaskUpscaler::run_impl(const float* low, Scratch& s, bool skip) const {
  stage1(low, s);
  const int ih = g_.input_h;
  if (skip) skip = worth_skipping(low);
  s.h2.resize(static_cast<size_t>(ih));
  s.col.resize(static_cast<size_t>(crop_h_));
  if (skip) classify_bands(s);
  Result res;
  const Box& cb = g_.crop_box;
  const uint32_t oh = static_cast<uint32_t>(g_.orig_h);
  RleBuilder rle;
  rle.push(false, oh * static_cast<uint32_t>(cb[0]));  // image columns left of the crop
  int bx0 = crop_w_, by0 = crop_h_, bx1 = -1, by1 = -1;
  int64_t n_hi = 0, n_lo = 0;
  const int* __restrict y0 = s2y_.i0.data();
  const int* __restrict y1 = s2y_.i1.data();
  const float* __restrict v0 = s2y_.w0.data();
  const float* __restrict v1 = s2y_.w1.data();
  const float thr = thr_, hi = hi_, lo = lo_;
  for (int x = 0; x < crop_w_; ++x) {
    const size_t xa = static_cast<size_t>(s2x_.i0[static_cast<size_t>(x)]);
    const size_t xb = static_cast<size_t>(s2x_.i1[static_cast<size_t>(x)]);
    const float w0 = s2x_.w0[static_cast<size_t>(x)], w1 = s2x_.w1[static_cast<size_t>(x)];
    const float* __restrict a = s.s1_t.data() + xa * ih;
    const float* __restrict b = s.s1_t.data() + xb * ih;
    rle.push(false, static_cast<uint32_t>(cb[1]));  // uncropped: padding above
    int first = -1, last = -1;
    // The safe runs of this column: [ys, ye) output rows in band k.
    s.spans.clear();
    int covered = 0;
    if (skip) covered = find_safe_spans(xa, xb, s);
    // The rows between the spans are evaluated: stage 2 horizontal (h2[r] = wx0 *
    // s1[r][x0] + wx1 * s1[r][x1]), for every stage-1 row at once when many are
    // needed, else only at the two rows each output row reads; then vertical.
    float* __restrict h2 = s.h2.data();
    float* __restrict col = s.col.data();
    const bool all_rows = 2 * (crop_h_ - covered) > ih;
    if (all_rows)
      for (int r = 0; r < ih; ++r) h2[r] = w0 * a[r] + w1 * b[r];
    auto evaluate = [&](int ya, int yb) {
      if (ya >= yb) return;
      res.evaluated += yb - ya;
      if (all_rows) {
        for (int y = ya; y < yb; ++y) col[y] = v0[y] * h2[y0[y]] + v1[y] * h2[y1[y]];
      } else {
        for (int y = ya; y < yb; ++y) {
          const int r0 = y0[y], r1 = y1[y];
          const float h0 = w0 * a[r0] + w1 * b[r0];
          const float h1 = w0 * a[r1] + w1 * b[r1];
          col[y] = v0[y] * h0 + v1[y] * h1;
        }
      }
      int64_t c_hi = 0, c_lo = 0;
      for (int y = ya; y < yb; ++y) {
        c_hi += col[y] > hi;
        c_lo += col[y] > lo;
      }
      n_hi += c_hi;
      n_lo += c_lo;
      for (int y = ya; y < yb;) {  // threshold, runs, box rows
        const bool v = col[y] > thr;
        int e = y + 1;
        while (e < yb && (col[e] > thr) == v) ++e;
        rle.push(v, static_cast<uint32_t>(e - y));
        if (v) {
          if (first < 0) first = y;
          last = e - 1;
        }
        y = e;
      }
    };
    int pos = 0;
    for (const Span& sp : s.spans) {
      evaluate(pos, sp.ys);
      const int n = sp.ye - sp.ys;
      n_hi += band_hi_[sp.k] ? n : 0;
      n_lo += band_lo_[sp.k] ? n : 0;
      rle.push(band_mask_[sp.k], static_cast<uint32_t>(n));
      if (band_mask_[sp.k]) {
        if (first < 0) first = sp.ys;
        last = sp.ye - 1;
      }
      pos = sp.ye;
    }
    evaluate(pos, crop_h_);
    rle.push(false, oh - static_cast<uint32_t>(cb[3]));  // padding below
    if (first >= 0) {
      bx0 = std::min(bx0, x);
      bx1 = x;
      by0 = std::min(by0, first);
      by1 = std::max(by1, last);
    }
  }
  rle.push(false, oh * static_cast<uint32_t>(g_.orig_w - cb[2]));  // right of the crop
  res.above_hi = n_hi;
  res.above_lo = n_lo;
  res.box = bx1 < 0 ? Box{0, 0, 0, 0} : Box{bx0, by0, bx1, by1};
  res.rle = {g_.orig_h, g_.orig_w, rle.finish()};
  return res;
}

}  // namespace sam::amg
