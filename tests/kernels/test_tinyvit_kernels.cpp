// The TinyViT (MobileSAM) kernels of every ISA table against their plain-loop
// references: depthwise and dense channels-last convolutions (kernels/conv.h)
// and window attention with a per-head bias (kernels/bias_attention.h). Random
// inputs, awkward sizes (primes, channel counts that are not a multiple of any
// vector width), strides 1 and 2, row ranges, and NaN-poisoned outputs (every
// output element must be written; nothing past the computed rows).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/bias_attention.h"
#include "kernels/conv.h"
#include "kernels/table.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<kernels::Isa> isas() {
  std::vector<kernels::Isa> v;
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512})
    if (static_cast<int>(isa) <= static_cast<int>(kernels::best_isa())) v.push_back(isa);
  return v;
}

std::vector<float> random_vec(size_t n, std::mt19937& rng, float sd = 1.f) {
  std::normal_distribution<float> nd(0.f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

// max |got - want| / (1 + |want|), NaN counted as infinite.
double worst(const std::vector<float>& got, const std::vector<float>& want) {
  double w = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::fabs(double(got[i]) - want[i]) / (1.0 + std::fabs(want[i]));
    w = std::isnan(got[i]) || std::isnan(d) ? INFINITY : std::max(w, d);
  }
  return w;
}

}  // namespace

TEST_CASE("depthwise_conv2d equals the reference", "[tinyvit_kernels]") {
  std::mt19937 rng(11);
  struct Case { int h, w, c, k, stride; bool bias, gelu; };
  const Case cases[] = {{13, 11, 37, 3, 1, true, false}, {13, 11, 37, 3, 2, true, true}, {7, 7, 160, 3, 1, true, true},
                        {16, 16, 128, 3, 2, true, true}, {5, 3, 1, 3, 1, false, false}, {9, 17, 23, 3, 2, false, true},
                        {6, 6, 19, 5, 1, true, false},  {1, 1, 17, 3, 1, true, true}};
  for (kernels::Isa isa : isas()) {
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const Case& c : cases) {
      INFO(kernels::isa_name(isa) << " h " << c.h << " w " << c.w << " c " << c.c << " k " << c.k << " s " << c.stride);
      const int pad = c.k / 2, oh = (c.h + 2 * pad - c.k) / c.stride + 1, ow = (c.w + 2 * pad - c.k) / c.stride + 1;
      const std::vector<float> in = random_vec(size_t(c.h) * c.w * c.c, rng), wt = random_vec(size_t(c.k) * c.k * c.c, rng, 0.3f),
                               bias = random_vec(size_t(c.c), rng);
      kernels::DepthwiseConv2dArgs a;
      a.in = in.data(); a.h = c.h; a.w = c.w; a.c = c.c;
      a.weight = wt.data(); a.bias = c.bias ? bias.data() : nullptr;
      a.k = c.k; a.stride = c.stride; a.pad = pad; a.gelu = c.gelu;
      a.out_h = oh; a.out_w = ow;
      std::vector<float> want(size_t(oh) * ow * c.c), got(want.size(), kNaN);
      a.row_begin = 0; a.row_end = oh;
      a.out = want.data();
      kernels::ref::depthwise_conv2d(a);
      // In two row ranges, as threads split the rows.
      a.out = got.data();
      a.row_end = oh / 2;
      t.depthwise_conv2d(a);
      a.row_begin = oh / 2; a.row_end = oh;
      t.depthwise_conv2d(a);
      CHECK(worst(got, want) < 2e-6);
    }
  }
}

TEST_CASE("depthwise_conv2d on row windows (in_row0 / out_row0) equals the whole-image reference",
          "[tinyvit_kernels]") {
  // As the MBConv strips call it: each band of output rows from a copy of only the input rows
  // it reads, into its own NaN-poisoned buffer with a NaN guard row after it.
  std::mt19937 rng(14);
  struct Case { int h, w, c, k, stride, band; };
  const Case cases[] = {{13, 11, 37, 3, 1, 4}, {13, 11, 37, 3, 2, 3}, {17, 7, 64, 3, 1, 8}, {9, 5, 19, 5, 1, 2},
                        {8, 8, 16, 3, 1, 1},   {11, 6, 33, 3, 2, 5}};
  for (kernels::Isa isa : isas()) {
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const Case& c : cases) {
      INFO(kernels::isa_name(isa) << " h " << c.h << " w " << c.w << " c " << c.c << " k " << c.k << " s " << c.stride
                                  << " band " << c.band);
      const int pad = c.k / 2, oh = (c.h + 2 * pad - c.k) / c.stride + 1, ow = (c.w + 2 * pad - c.k) / c.stride + 1;
      const std::vector<float> in = random_vec(size_t(c.h) * c.w * c.c, rng), wt = random_vec(size_t(c.k) * c.k * c.c, rng, 0.3f),
                               bias = random_vec(size_t(c.c), rng);
      kernels::DepthwiseConv2dArgs a;
      a.h = c.h; a.w = c.w; a.c = c.c;
      a.weight = wt.data(); a.bias = bias.data();
      a.k = c.k; a.stride = c.stride; a.pad = pad; a.gelu = true;
      a.out_h = oh; a.out_w = ow;
      std::vector<float> want(size_t(oh) * ow * c.c);
      a.in = in.data();
      a.row_begin = 0; a.row_end = oh;
      a.out = want.data();
      kernels::ref::depthwise_conv2d(a);
      const size_t row_in = size_t(c.w) * c.c, row_out = size_t(ow) * c.c;
      for (int r0 = 0; r0 < oh; r0 += c.band) {
        const int r1 = std::min(oh, r0 + c.band);
        const int lo = std::max(0, r0 * c.stride - pad), hi = std::min(c.h, (r1 - 1) * c.stride - pad + c.k);
        const std::vector<float> window(in.begin() + long(lo * row_in), in.begin() + long(hi * row_in));
        std::vector<float> got(size_t(r1 - r0 + 1) * row_out, kNaN);
        a.in = window.data(); a.in_row0 = lo;
        a.out = got.data(); a.out_row0 = r0;
        a.row_begin = r0; a.row_end = r1;
        t.depthwise_conv2d(a);
        const std::vector<float> band(got.begin(), got.end() - long(row_out));
        const std::vector<float> band_want(want.begin() + long(r0 * row_out), want.begin() + long(r1 * row_out));
        INFO("rows " << r0 << ".." << r1);
        CHECK(worst(band, band_want) < 2e-6);
        for (size_t i = band.size(); i < got.size(); ++i) CHECK(std::isnan(got[i]));  // nothing past the band
      }
    }
  }
}

TEST_CASE("conv2d equals the reference", "[tinyvit_kernels]") {
  std::mt19937 rng(12);
  struct Case { int h, w, cin, cout, k, stride; bool bias, gelu; };
  const Case cases[] = {{17, 13, 3, 32, 3, 2, true, true},  {9, 11, 32, 64, 3, 2, true, false}, {7, 5, 5, 37, 3, 1, true, true},
                        {6, 7, 3, 13, 3, 2, false, false}, {5, 5, 7, 96, 1, 1, true, false},  {11, 3, 2, 3, 5, 2, true, true},
                        {1, 1, 3, 16, 3, 2, true, false}};
  for (kernels::Isa isa : isas()) {
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const Case& c : cases) {
      INFO(kernels::isa_name(isa) << " h " << c.h << " w " << c.w << " cin " << c.cin << " cout " << c.cout << " k " << c.k
                                  << " s " << c.stride);
      const int pad = c.k / 2, oh = (c.h + 2 * pad - c.k) / c.stride + 1, ow = (c.w + 2 * pad - c.k) / c.stride + 1;
      const std::vector<float> in = random_vec(size_t(c.h) * c.w * c.cin, rng),
                               wt = random_vec(size_t(c.k) * c.k * c.cin * c.cout, rng, 0.2f), bias = random_vec(size_t(c.cout), rng);
      kernels::Conv2dArgs a;
      a.in = in.data(); a.h = c.h; a.w = c.w; a.cin = c.cin;
      a.weight = wt.data(); a.bias = c.bias ? bias.data() : nullptr;
      a.cout = c.cout; a.k = c.k; a.stride = c.stride; a.pad = pad; a.gelu = c.gelu;
      a.out_h = oh; a.out_w = ow;
      std::vector<float> want(size_t(oh) * ow * c.cout), got(want.size() + 7, kNaN);
      a.row_begin = 0; a.row_end = oh;
      a.out = want.data();
      kernels::ref::conv2d(a);
      a.out = got.data();
      a.row_end = (oh + 1) / 2;
      t.conv2d(a);
      a.row_begin = (oh + 1) / 2; a.row_end = oh;
      t.conv2d(a);
      CHECK(worst(std::vector<float>(got.begin(), got.begin() + long(want.size())), want) < 2e-6);
      for (size_t i = want.size(); i < got.size(); ++i) CHECK(std::isnan(got[i]));  // nothing written past the end
    }
  }
}

TEST_CASE("bias_attention equals the reference", "[tinyvit_kernels]") {
  std::mt19937 rng(13);
  struct Case { int windows, n, heads, hd; };
  // MobileSAM's windows (7x7 and 14x14 tokens, head_dim 32) and awkward ones.
  const Case cases[] = {{3, 49, 4, 32}, {2, 196, 5, 32}, {2, 13, 3, 7}, {1, 1, 2, 5}, {4, 17, 1, 19}, {1, 31, 2, 33}};
  for (kernels::Isa isa : isas()) {
    const kernels::KernelTable t = kernels::table_for(isa);
    for (const Case& c : cases) {
      INFO(kernels::isa_name(isa) << " windows " << c.windows << " n " << c.n << " heads " << c.heads << " hd " << c.hd);
      const std::vector<float> qkv = random_vec(size_t(c.windows) * c.n * 3 * c.heads * c.hd, rng),
                               bias = random_vec(size_t(c.heads) * c.n * c.n, rng, 0.5f);
      kernels::BiasAttentionArgs a;
      a.qkv = qkv.data(); a.bias = bias.data();
      a.windows = c.windows; a.n = c.n; a.heads = c.heads; a.head_dim = c.hd;
      a.scale = 1.f / std::sqrt(float(c.hd));
      std::vector<float> want(size_t(c.windows) * c.n * c.heads * c.hd), got(want.size(), kNaN);
      a.out = want.data(); a.job_begin = 0; a.job_end = c.windows * c.heads;
      kernels::ref::bias_attention(a);
      a.out = got.data();
      const int jobs = c.windows * c.heads;
      for (int j = 0; j < jobs; j += 2) {  // two jobs per call
        a.job_begin = j; a.job_end = std::min(jobs, j + 2);
        t.bias_attention(a);
      }
      CHECK(worst(got, want) < 2e-6);
    }
  }
}
