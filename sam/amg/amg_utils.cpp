// Mirrors segment_anything/utils/amg.py (and the torchvision / pycocotools /
// OpenCV calls it makes); see amg_utils.h.
#include "sam/amg/amg_utils.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <numeric>
#include <utility>

#include "engine/error.h"

namespace sam::amg {

PointGrid build_point_grid(int n_per_side) {
  engine::check(n_per_side > 0, "build_point_grid: {} points per side", n_per_side);
  // np.linspace(offset, 1 - offset, n) in float64: start + i * step, the last
  // element set to stop exactly; n == 1 gives [start].
  const int n = n_per_side;
  const double offset = 1.0 / (2 * n);
  const double start = offset, stop = 1 - offset;
  std::vector<double> side(static_cast<size_t>(n));
  if (n == 1) {
    side[0] = start;
  } else {
    const double step = (stop - start) / (n - 1);
    for (int i = 0; i < n; ++i) side[static_cast<size_t>(i)] = static_cast<double>(i) * step + start;
    side.back() = stop;
  }
  // stack([tile(x), tile(y)]).reshape(-1, 2): row j (y) holds all x.
  PointGrid g;
  g.reserve(static_cast<size_t>(n) * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) g.push_back({side[static_cast<size_t>(i)], side[static_cast<size_t>(j)]});
  return g;
}

std::vector<PointGrid> build_all_layer_point_grids(int n_per_side, int n_layers, int scale_per_layer) {
  engine::check(n_layers >= 0 && scale_per_layer >= 1, "build_all_layer_point_grids: bad arguments");
  std::vector<PointGrid> out;
  for (int i = 0; i <= n_layers; ++i) {
    // int(n_per_side / (scale_per_layer ** i)): float division, truncated.
    const double denom = std::pow(static_cast<double>(scale_per_layer), i);
    const int n_points = static_cast<int>(static_cast<double>(n_per_side) / denom);
    engine::check(n_points > 0, "crop layer {} would have {} points per side (points_per_side {} / {}^{})", i,
                  n_points, n_per_side, scale_per_layer, i);
    out.push_back(build_point_grid(n_points));
  }
  return out;
}

CropBoxes generate_crop_boxes(int im_h, int im_w, int n_layers, double overlap_ratio) {
  CropBoxes r;
  const int short_side = std::min(im_h, im_w);
  r.boxes.push_back({0, 0, im_w, im_h});
  r.layer_idxs.push_back(0);
  auto crop_len = [](int orig_len, int n_crops, int overlap) {
    // int(math.ceil((overlap * (n_crops - 1) + orig_len) / n_crops))
    return static_cast<int>(std::ceil(static_cast<double>(overlap * (n_crops - 1) + orig_len) / n_crops));
  };
  for (int i_layer = 0; i_layer < n_layers; ++i_layer) {
    const int n_crops_per_side = 1 << (i_layer + 1);
    // int(overlap_ratio * short_side * (2 / n_crops_per_side)), left to right in float64.
    const int overlap = static_cast<int>(overlap_ratio * short_side * (2.0 / n_crops_per_side));
    const int crop_w = crop_len(im_w, n_crops_per_side, overlap);
    const int crop_h = crop_len(im_h, n_crops_per_side, overlap);
    for (int xi = 0; xi < n_crops_per_side; ++xi)
      for (int yi = 0; yi < n_crops_per_side; ++yi) {
        const int x0 = (crop_w - overlap) * xi, y0 = (crop_h - overlap) * yi;
        r.boxes.push_back({x0, y0, std::min(x0 + crop_w, im_w), std::min(y0 + crop_h, im_h)});
        r.layer_idxs.push_back(i_layer + 1);
      }
  }
  return r;
}

float stability_score(int64_t intersections, int64_t unions) {
  return static_cast<float>(intersections) / static_cast<float>(unions);
}

float calculate_stability_score(const float* logits, int64_t n, float mask_threshold, float threshold_offset) {
  const float hi = mask_threshold + threshold_offset, lo = mask_threshold - threshold_offset;
  int64_t inter = 0, uni = 0;
  for (int64_t i = 0; i < n; ++i) {
    inter += logits[i] > hi;
    uni += logits[i] > lo;
  }
  return stability_score(inter, uni);
}

Box mask_to_box(const uint8_t* mask, int h, int w) {
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = mask + static_cast<size_t>(y) * w;
    int first = -1, last = -1;
    for (int x = 0; x < w; ++x)
      if (row[x]) {
        if (first < 0) first = x;
        last = x;
      }
    if (first < 0) continue;
    y0 = std::min(y0, y);
    y1 = y;
    x0 = std::min(x0, first);
    x1 = std::max(x1, last);
  }
  if (x1 < 0) return {0, 0, 0, 0};
  return {x0, y0, x1, y1};
}

bool is_box_near_crop_edge(const Box& box, const Box& crop_box, const Box& orig_box, float atol) {
  const Box b = uncrop_box(box, crop_box);
  bool any = false;
  for (int i = 0; i < 4; ++i) {
    // torch.isclose(a, b, atol, rtol=0) in f32: |a - b| <= atol.
    const float v = static_cast<float>(b[static_cast<size_t>(i)]);
    const bool near_crop = std::fabs(v - static_cast<float>(crop_box[static_cast<size_t>(i)])) <= atol;
    const bool near_image = std::fabs(v - static_cast<float>(orig_box[static_cast<size_t>(i)])) <= atol;
    any = any || (near_crop && !near_image);
  }
  return any;
}

Box uncrop_box(const Box& box, const Box& crop_box) {
  return {box[0] + crop_box[0], box[1] + crop_box[1], box[2] + crop_box[0], box[3] + crop_box[1]};
}

std::array<double, 2> uncrop_point(const std::array<double, 2>& p, const Box& crop_box) {
  return {p[0] + crop_box[0], p[1] + crop_box[1]};
}

std::vector<uint8_t> uncrop_mask(const uint8_t* mask, const Box& crop_box, int orig_h, int orig_w) {
  const int cw = crop_box[2] - crop_box[0], ch = crop_box[3] - crop_box[1];
  std::vector<uint8_t> out(static_cast<size_t>(orig_h) * orig_w, 0);
  for (int y = 0; y < ch; ++y)
    std::copy(mask + static_cast<size_t>(y) * cw, mask + static_cast<size_t>(y + 1) * cw,
              out.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(y + crop_box[1]) * orig_w + crop_box[0]));
  return out;
}

int64_t box_area(const Box& b) { return static_cast<int64_t>(b[2] - b[0]) * (b[3] - b[1]); }

std::vector<int64_t> nms(const std::vector<BoxF>& boxes, const std::vector<float>& scores, double iou_threshold) {
  engine::check(boxes.size() == scores.size(), "nms: {} boxes, {} scores", boxes.size(), scores.size());
  const size_t n = boxes.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)];
  });
  std::vector<float> areas(n);
  for (size_t i = 0; i < n; ++i) areas[i] = (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]);
  std::vector<uint8_t> suppressed(n, 0);
  std::vector<int64_t> keep;
  for (size_t oi = 0; oi < n; ++oi) {
    const size_t i = static_cast<size_t>(order[oi]);
    if (suppressed[i]) continue;
    keep.push_back(static_cast<int64_t>(i));
    const BoxF& bi = boxes[i];
    const float iarea = areas[i];
    for (size_t oj = oi + 1; oj < n; ++oj) {
      const size_t j = static_cast<size_t>(order[oj]);
      if (suppressed[j]) continue;
      const BoxF& bj = boxes[j];
      const float xx1 = std::max(bi[0], bj[0]), yy1 = std::max(bi[1], bj[1]);
      const float xx2 = std::min(bi[2], bj[2]), yy2 = std::min(bi[3], bj[3]);
      const float w = std::max(0.f, xx2 - xx1), h = std::max(0.f, yy2 - yy1);
      const float inter = w * h;
      const float ovr = inter / (iarea + areas[j] - inter);
      if (static_cast<double>(ovr) > iou_threshold) suppressed[j] = 1;
    }
  }
  return keep;
}

std::vector<int64_t> batched_nms(const std::vector<BoxF>& boxes, const std::vector<float>& scores,
                                 double iou_threshold) {
  std::vector<int64_t> keep = nms(boxes, scores, iou_threshold);
  if (boxes.size() * 4 <= 4000) return keep;  // _batched_nms_coordinate_trick: nms() as is
  // _batched_nms_vanilla: keep_indices = where(keep_mask) (ascending), then
  // keep_indices[scores[keep_indices].sort(descending=True)[1]], an unstable
  // sort that torch's CPU kernel does with std::sort on (value, index) pairs.
  std::sort(keep.begin(), keep.end());
  std::vector<std::pair<float, int64_t>> kv;
  kv.reserve(keep.size());
  for (int64_t k : keep) kv.push_back({scores[static_cast<size_t>(k)], k});
  std::sort(kv.begin(), kv.end(), [](const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
    return (std::isnan(a.first) && !std::isnan(b.first)) || a.first > b.first;
  });
  for (size_t i = 0; i < kv.size(); ++i) keep[i] = kv[i].second;
  return keep;
}

void rle_to_mask(const Rle& rle, uint8_t* out) {
  const int64_t n = static_cast<int64_t>(rle.h) * rle.w;
  int64_t idx = 0;
  int x = 0, y = 0;  // column-major position of idx
  bool value = false;
  for (uint32_t c : rle.counts) {
    engine::check(idx + c <= n, "rle_to_mask: counts exceed {}x{}", rle.h, rle.w);
    idx += c;
    for (int64_t left = c; left > 0;) {
      const int take = static_cast<int>(std::min<int64_t>(left, rle.h - y));
      uint8_t* p = out + static_cast<size_t>(y) * rle.w + x;
      for (int k = 0; k < take; ++k) p[static_cast<size_t>(k) * rle.w] = value;
      left -= take;
      y += take;
      if (y == rle.h) {
        y = 0;
        ++x;
      }
    }
    value = !value;
  }
  engine::check(idx == n, "rle_to_mask: counts sum to {}, expected {}x{}", idx, rle.h, rle.w);
}

std::vector<uint8_t> rle_to_mask(const Rle& rle) {
  std::vector<uint8_t> m(static_cast<size_t>(rle.h) * rle.w);
  rle_to_mask(rle, m.data());
  return m;
}

int64_t area_from_rle(const Rle& rle) {
  int64_t a = 0;
  for (size_t i = 1; i < rle.counts.size(); i += 2) a += rle.counts[i];
  return a;
}

Box rle_to_box(const Rle& rle) {
  int x0 = rle.w, y0 = rle.h, x1 = -1, y1 = -1;
  // (x, y): column-major position of the next pixel, advanced without a
  // division per run (a division only when a run crosses into another column).
  int64_t x = 0, y = 0;
  const int64_t h = rle.h;
  auto advance = [&](int64_t c) {
    y += c;
    if (y >= h) {
      x += y / h;
      y %= h;
    }
  };
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    const int64_t c = rle.counts[i];
    if ((i & 1) && c > 0) {
      const int fx = static_cast<int>(x), fy = static_cast<int>(y);  // first pixel of the 1-run
      advance(c - 1);
      const int lx = static_cast<int>(x), ly = static_cast<int>(y);  // its last pixel
      advance(1);
      x0 = std::min(x0, fx);
      x1 = std::max(x1, lx);
      if (fx != lx) {  // runs to the bottom of column fx and from the top of column lx
        y0 = 0;
        y1 = rle.h - 1;
      } else {
        y0 = std::min(y0, fy);
        y1 = std::max(y1, ly);
      }
    } else {
      advance(c);
    }
  }
  if (x1 < 0) return {0, 0, 0, 0};
  return {x0, y0, x1, y1};
}

std::string coco_encode_counts(const std::vector<uint32_t>& counts) {
  // Counts after the second are stored as differences to the count two before
  // (sic: i > 2, as maskApi.c), 5 bits per character with a continuation bit;
  // arithmetic shifts: negative deltas end at -1. Sized first, then written.
  auto value = [&](size_t i) { return static_cast<int64_t>(counts[i]) - (i > 2 ? counts[i - 2] : 0); };
  auto chars = [](int64_t x) {  // 5 bits per character, the sign bit included
    const uint64_t magnitude = static_cast<uint64_t>(x < 0 ? ~x : x);
    return static_cast<size_t>((std::bit_width(magnitude) + 1 + 4) / 5);
  };
  size_t length = 0;
  for (size_t i = 0; i < counts.size(); ++i) length += chars(value(i));
  std::string s(length, '0');
  char* out = s.data();
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = value(i);
    bool more = true;
    while (more) {
      int c = static_cast<int>(x & 0x1f);
      x >>= 5;
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      *out++ = static_cast<char>(c + 48);
    }
  }
  return s;
}

std::vector<uint32_t> coco_decode_counts(const std::string& s) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      engine::check(p < s.size(), "COCO RLE string ends inside a count");
      const int c = static_cast<int>(static_cast<unsigned char>(s[p])) - 48;
      engine::check(c >= 0 && c < 64 && k < 12, "COCO RLE string: bad character at {}", p);
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t{1} << (5 * k));  // sign-extend
    }
    if (counts.size() > 2) x += counts[counts.size() - 2];
    engine::check(x >= 0 && x <= 0xffffffffLL, "COCO RLE string: count out of range");
    counts.push_back(static_cast<uint32_t>(x));
  }
  return counts;
}

namespace {

// 8-connected components of the pixels equal to `target`, by runs: each row's
// runs are united with the runs of the row above that touch them (including
// diagonally). Returns per-pixel-run component ids via the callback interface below.
struct Runs {
  std::vector<int> y, x0, x1;  // inclusive
  std::vector<int> parent;
  int find(int a) {
    while (parent[static_cast<size_t>(a)] != a) {
      parent[static_cast<size_t>(a)] = parent[static_cast<size_t>(parent[static_cast<size_t>(a)])];
      a = parent[static_cast<size_t>(a)];
    }
    return a;
  }
  void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (a < b) std::swap(a, b);
    parent[static_cast<size_t>(a)] = b;  // root = the earlier run
  }
};

Runs label_runs(const std::vector<uint8_t>& mask, int h, int w, uint8_t target) {
  Runs r;
  size_t prev_begin = 0, prev_end = 0;
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = mask.data() + static_cast<size_t>(y) * w;
    const size_t cur_begin = r.y.size();
    for (int x = 0; x < w;) {
      if ((row[x] != 0) != (target != 0)) {
        ++x;
        continue;
      }
      int e = x;
      while (e + 1 < w && (row[e + 1] != 0) == (target != 0)) ++e;
      r.y.push_back(y);
      r.x0.push_back(x);
      r.x1.push_back(e);
      r.parent.push_back(static_cast<int>(r.parent.size()));
      x = e + 1;
    }
    const size_t cur_end = r.y.size();
    // Two-pointer sweep: runs [a, b] above and [c, d] here touch when a <= d + 1 and c <= b + 1.
    size_t p = prev_begin;
    for (size_t c = cur_begin; c < cur_end; ++c) {
      while (p < prev_end && r.x1[p] + 1 < r.x0[c]) ++p;
      for (size_t q = p; q < prev_end && r.x0[q] <= r.x1[c] + 1; ++q) r.unite(static_cast<int>(c), static_cast<int>(q));
    }
    prev_begin = cur_begin;
    prev_end = cur_end;
  }
  return r;
}

}  // namespace

bool remove_small_regions(std::vector<uint8_t>& mask, int h, int w, double area_thresh, bool holes) {
  engine::check(mask.size() == static_cast<size_t>(h) * w, "remove_small_regions: mask size");
  // working_mask = (correct_holes ^ mask): in holes mode the background.
  const uint8_t target = holes ? 0 : 1;
  Runs r = label_runs(mask, h, w, target);
  const size_t nr = r.y.size();
  // Components in OpenCV's label order: by the first 2x2 block (raster order
  // over blocks) they touch; sizes = pixel counts.
  const int64_t nbx = (w + 1) / 2;
  std::vector<int64_t> size(nr, 0), first_block(nr, INT64_MAX);
  for (size_t i = 0; i < nr; ++i) {
    const size_t root = static_cast<size_t>(r.find(static_cast<int>(i)));
    size[root] += r.x1[i] - r.x0[i] + 1;
    first_block[root] = std::min(first_block[root], static_cast<int64_t>(r.y[i] / 2) * nbx + r.x0[i] / 2);
  }
  std::vector<uint8_t> small(nr, 0);
  bool any_small = false;
  for (size_t i = 0; i < nr; ++i)
    if (r.find(static_cast<int>(i)) == static_cast<int>(i) && static_cast<double>(size[i]) < area_thresh) {
      small[i] = 1;
      any_small = true;
    }
  if (!any_small) return false;
  if (holes) {
    // fill_labels = [0] + small: the mask plus the small background regions.
    for (size_t i = 0; i < nr; ++i)
      if (small[static_cast<size_t>(r.find(static_cast<int>(i)))])
        std::fill(mask.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r.y[i]) * w + r.x0[i]),
                  mask.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r.y[i]) * w + r.x1[i] + 1), 1);
    return true;
  }
  // Islands: keep the regions that are not small; if none, the largest (first in label order).
  std::vector<uint8_t> keep(nr, 0);
  bool any_keep = false;
  for (size_t i = 0; i < nr; ++i)
    if (r.find(static_cast<int>(i)) == static_cast<int>(i) && !small[i]) {
      keep[i] = 1;
      any_keep = true;
    }
  if (!any_keep) {
    size_t best = nr;
    for (size_t i = 0; i < nr; ++i) {
      if (r.find(static_cast<int>(i)) != static_cast<int>(i)) continue;
      if (best == nr || size[i] > size[best] || (size[i] == size[best] && first_block[i] < first_block[best]))
        best = i;
    }
    keep[best] = 1;
  }
  std::fill(mask.begin(), mask.end(), 0);
  for (size_t i = 0; i < nr; ++i)
    if (keep[static_cast<size_t>(r.find(static_cast<int>(i)))])
      std::fill(mask.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r.y[i]) * w + r.x0[i]),
                mask.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r.y[i]) * w + r.x1[i] + 1), 1);
  return true;
}

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Shortest round-trip digits (what Python's repr uses), from the scientific form.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exp10 = std::stoi(sci.substr(e + 1));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int n = static_cast<int>(digits.size());
  const int decpt = exp10 + 1;  // digits d1 d2 ... with the point after decpt of them
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return sign + "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    if (decpt >= n) return sign + digits + std::string(static_cast<size_t>(decpt - n), '0') + ".0";
    return sign + digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
  }
  std::string out = sign + digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  const int ae = std::abs(exp10);
  out += exp10 < 0 ? "e-" : "e+";
  if (ae < 10) out += "0";
  out += std::to_string(ae);
  return out;
}

}  // namespace sam::amg
