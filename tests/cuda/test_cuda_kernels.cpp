// The element-wise, row, layout, upscaling and matrix-product CUDA kernels
// (kernels/cuda/*.h) against the CPU references (kernels/ref) on random
// inputs: awkward sizes (primes, below a warp, not whole vectors), padded row
// strides whose padding is NaN on input and must stay NaN on output. Without
// a CUDA device each test passes with a "skipped" warning.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/convert.h"
#include "kernels/cuda/eltwise.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/mask_upscale.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/window.h"
#include "kernels/eltwise.h"
#include "kernels/gemm.h"
#include "kernels/mask_upscale.h"
#include "kernels/norm.h"
#include "kernels/window.h"

using cuda_test::Dev;
using cuda_test::kNaN;

namespace {

const int64_t kSizes[] = {1, 7, 31, 32, 33, 64, 97, 256, 1021, 4099};

void sync(const engine::cuda::Stream& s) { s.synchronize(); }

}  // namespace

TEST_CASE("CUDA GELU equals erf-based GELU", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  engine::cuda::Stream s;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 2.f);
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{1021}, int64_t{300001}}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = nd(rng);
    if (n > 6) {
      x[0] = 0.f;
      x[1] = -0.f;
      x[2] = 12.f;
      x[3] = -12.f;
      x[4] = 1.f;
      x[5] = -0.99999994f;
    }
    std::vector<float> want = x;
    kernels::ref::gelu(want.data(), n);
    Dev<float> d(x);
    kernels::cuda::gelu(d.get(), n, s.get());
    sync(s);
    const std::vector<float> got = d.back();
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("n " << n << " x " << x[i]);
      // CUDA's erff is within 2 ulp: GELU to a few ulp of max(1, |x|).
      REQUIRE(std::fabs(got[i] - want[i]) <= 4e-7f * std::max(1.f, std::fabs(x[i])));
    }
  }
}

TEST_CASE("CUDA softmax equals the reference softmax", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  engine::cuda::Stream s;
  std::mt19937 rng(2);
  for (int64_t cols : kSizes) {
    const int64_t rows = 37, ld = cols + 3;  // padding stays NaN
    std::vector<float> x = cuda_test::random_matrix(rows, cols, ld, rng, 4.f);
    for (int64_t c = 0; c < cols; ++c) x[static_cast<size_t>(3 * ld + c)] += 80.f;  // a large offset
    if (cols > 2) {
      x[static_cast<size_t>(ld + 1)] = -INFINITY;  // masked entry
      x[static_cast<size_t>(2 * ld)] = 1e4f;       // one dominant logit
    }
    std::vector<float> want = x;
    kernels::ref::softmax_rows(want.data(), rows, cols, ld);
    Dev<float> d(x);
    kernels::cuda::softmax_rows(d.get(), rows, cols, ld, s.get());
    sync(s);
    const std::vector<float> got = d.back();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const size_t i = static_cast<size_t>(r * ld + c);
        INFO("cols " << cols << " row " << r << " col " << c);
        REQUIRE(std::fabs(got[i] - want[i]) <= 4e-6f * want[i] + 1e-12f);
      }
      for (int64_t c = cols; c < ld; ++c) REQUIRE(std::isnan(got[static_cast<size_t>(r * ld + c)]));
    }
  }
}

TEST_CASE("CUDA LayerNorm equals the reference LayerNorm, also in place", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  engine::cuda::Stream s;
  std::mt19937 rng(3);
  for (int64_t cols : kSizes) {
    for (bool affine : {true, false}) {
      const int64_t rows = 45, ldx = cols + 5, ldy = cols + 2;
      std::vector<float> x = cuda_test::random_matrix(rows, cols, ldx, rng, 2.f);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) x[static_cast<size_t>(r * ldx + c)] += 3.f;  // offset mean
      std::vector<float> w = cuda_test::random_matrix(1, cols, cols, rng, 0.1f), b = w;
      for (auto& v : w) v += 1.f;
      std::vector<float> want(static_cast<size_t>(rows * ldy), kNaN);
      kernels::LayerNormArgs a;
      a.x = x.data();
      a.ldx = ldx;
      a.y = want.data();
      a.ldy = ldy;
      a.weight = affine ? w.data() : nullptr;
      a.bias = affine ? b.data() : nullptr;
      a.rows = rows;
      a.cols = cols;
      a.eps = 1e-6f;
      kernels::ref::layer_norm(a);

      Dev<float> dx(x), dy(std::vector<float>(want.size(), kNaN)), dw(w), db(b);
      kernels::LayerNormArgs g = a;
      g.x = dx.get();
      g.y = dy.get();
      g.weight = affine ? dw.get() : nullptr;
      g.bias = affine ? db.get() : nullptr;
      kernels::cuda::layer_norm(g, s.get());
      // In place: y = x with x's stride.
      kernels::LayerNormArgs ip = g;
      ip.y = dx.get();
      ip.ldy = ldx;
      kernels::cuda::layer_norm(ip, s.get());
      sync(s);
      const std::vector<float> got = dy.back(), inplace = dx.back();
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const float wv = want[static_cast<size_t>(r * ldy + c)];
          INFO("cols " << cols << " affine " << affine << " row " << r << " col " << c);
          REQUIRE(std::fabs(got[static_cast<size_t>(r * ldy + c)] - wv) <= 2e-5f * (1.f + std::fabs(wv)));
          REQUIRE(inplace[static_cast<size_t>(r * ldx + c)] == got[static_cast<size_t>(r * ldy + c)]);
        }
        for (int64_t c = cols; c < ldy; ++c) REQUIRE(std::isnan(got[static_cast<size_t>(r * ldy + c)]));
        for (int64_t c = cols; c < ldx; ++c) REQUIRE(std::isnan(inplace[static_cast<size_t>(r * ldx + c)]));
      }
    }
  }
}

TEST_CASE("CUDA f32 -> f16 / bf16 conversions are bit-exact with the host's", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  engine::cuda::Stream s;
  std::mt19937 rng(4);
  std::vector<float> x;
  // Every class of value: zeros, subnormals of both formats, the rounding
  // boundaries, overflow, inf, NaN (both signs), and random bit patterns.
  for (float v : {0.f, -0.f, 1e-45f, 1e-40f, 5.96e-8f, 2.98e-8f, 6.1e-5f, 65504.f, 65519.f, 65520.f, 1e30f,
                  INFINITY, -INFINITY, kNaN, -kNaN, 1.f + 0x1p-11f, 1.f + 0x1p-8f, 1.f + 3 * 0x1p-8f})
    x.push_back(v);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 100000; ++i) {
    const uint32_t u = bits(rng);
    float f;
    std::memcpy(&f, &u, 4);
    x.push_back(f);
  }
  Dev<float> dx(x);
  Dev<uint16_t> h(std::vector<uint16_t>(x.size())), bf(std::vector<uint16_t>(x.size()));
  kernels::cuda::convert_f32_to_f16(dx.get(), h.get(), static_cast<int64_t>(x.size()), s.get());
  kernels::cuda::convert_f32_to_bf16(dx.get(), bf.get(), static_cast<int64_t>(x.size()), s.get());
  sync(s);
  std::vector<uint16_t> want_h(x.size()), want_bf(x.size());
  kernels::ref::convert_f32_to_f16(x.data(), want_h.data(), x.size());
  kernels::ref::convert_f32_to_bf16(x.data(), want_bf.data(), x.size());
  const std::vector<uint16_t> got_h = h.back(), got_bf = bf.back();
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("value " << x[i] << " at " << i);
    REQUIRE(got_h[i] == want_h[i]);
    REQUIRE(got_bf[i] == want_bf[i]);
  }
}

TEST_CASE("CUDA window partition / unpartition equal the reference", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  engine::cuda::Stream s;
  std::mt19937 rng(5);
  struct Case {
    int grid, c, ws;
  };
  // SAM's 64 / 14 (padding to 70), an exact fit, a window larger than the grid, odd channels.
  for (const Case& k : {Case{64, 32, 14}, Case{12, 8, 6}, Case{5, 3, 7}, Case{17, 13, 4}, Case{1, 1, 1}}) {
    const int nw = (k.grid + k.ws - 1) / k.ws;
    const int64_t ldx = k.c + 3, ldw = k.c + 1, tokens = int64_t{k.grid} * k.grid,
                  wrows = int64_t{nw} * nw * k.ws * k.ws;
    const std::vector<float> x = cuda_test::random_matrix(tokens, k.c, ldx, rng);
    std::vector<float> want(static_cast<size_t>(wrows * ldw), kNaN);
    kernels::ref::window_partition(x.data(), ldx, k.grid, k.c, k.ws, want.data(), ldw);
    Dev<float> dx(x), dw(std::vector<float>(want.size(), kNaN));
    kernels::cuda::window_partition(dx.get(), ldx, k.grid, k.c, k.ws, dw.get(), ldw, s.get());
    sync(s);
    const std::vector<float> got = dw.back();
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("grid " << k.grid << " c " << k.c << " ws " << k.ws << " at " << i);
      if (std::isnan(want[i])) REQUIRE(std::isnan(got[i]));
      else REQUIRE(got[i] == want[i]);
    }
    // Unpartition: add random windows back into x (padding rows of the windows are dropped).
    const std::vector<float> win = cuda_test::random_matrix(wrows, k.c, ldw, rng);
    std::vector<float> want_x = x;
    kernels::ref::window_unpartition_add(win.data(), ldw, k.grid, k.c, k.ws, want_x.data(), ldx);
    Dev<float> dwin(win);
    kernels::cuda::window_unpartition_add(dwin.get(), ldw, k.grid, k.c, k.ws, dx.get(), ldx, s.get());
    sync(s);
    const std::vector<float> got_x = dx.back();
    for (size_t i = 0; i < got_x.size(); ++i) {
      INFO("unpartition grid " << k.grid << " c " << k.c << " ws " << k.ws << " at " << i);
      if (std::isnan(want_x[i])) REQUIRE(std::isnan(got_x[i]));
      else REQUIRE(got_x[i] == want_x[i]);
    }
  }
}

TEST_CASE("CUDA fused mask upscaling equals the reference", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  engine::cuda::Stream s;
  std::mt19937 rng(6);
  struct Dims {
    int g, d, c1, c2, m;
  };
  // SAM (G 64, 256 -> 64 -> 32, 4 masks), grids that are not a multiple of the
  // 8-pixel block, channel counts below a warp and odd ones.
  for (const Dims& dm : {Dims{64, 256, 64, 32, 4}, Dims{5, 256, 64, 32, 3}, Dims{3, 32, 8, 4, 4},
                         Dims{7, 40, 12, 5, 1}, Dims{1, 16, 4, 4, 2}, Dims{13, 24, 20, 9, 3}, Dims{9, 64, 33, 40, 5}}) {
    std::normal_distribution<float> nd(0.f, 1.f);
    auto fill = [&](size_t n, float sd) {
      std::vector<float> v(n);
      for (float& x : v) x = sd * nd(rng);
      return v;
    };
    const int64_t ldx = dm.d + 3, ldh = dm.c2 + 1, side = 4 * dm.g, plane = side * side + 7;
    const std::vector<float> x = cuda_test::random_matrix(int64_t{dm.g} * dm.g, dm.d, ldx, rng);
    const std::vector<float> w1 = fill(size_t(4 * dm.c1) * dm.d, 1.f / std::sqrt(float(dm.d)));  // [4*C1, D]
    const std::vector<float> b1 = fill(size_t(dm.c1), 0.1f);
    const std::vector<float> lw = fill(size_t(dm.c1), 1.f), lb = fill(size_t(dm.c1), 0.5f);
    const std::vector<float> w2 = fill(size_t(4 * dm.c2) * dm.c1, 1.f / std::sqrt(float(dm.c1)));  // [4*C2, C1]
    const std::vector<float> b2 = fill(size_t(dm.c2), 0.1f);
    const std::vector<float> hyper = cuda_test::random_matrix(dm.m, dm.c2, ldh, rng);

    // The reference's layouts: w1 [4*C1, D], b1 repeated per sub-pixel.
    std::vector<float> b1x4(size_t(4 * dm.c1));
    for (int n = 0; n < 4 * dm.c1; ++n) b1x4[size_t(n)] = b1[size_t(n % dm.c1)];
    kernels::MaskUpscaleArgs r;
    r.g = dm.g;
    r.d = dm.d;
    r.c1 = dm.c1;
    r.c2 = dm.c2;
    r.x = x.data();
    r.ldx = ldx;
    r.w1 = w1.data();
    r.b1 = b1x4.data();
    r.ln_weight = lw.data();
    r.ln_bias = lb.data();
    r.ln_eps = 1e-6f;
    r.w2 = w2.data();
    r.b2 = b2.data();
    r.hyper = hyper.data();
    r.ldh = ldh;
    r.m = dm.m;
    std::vector<float> want(size_t(dm.m) * plane, kNaN);
    r.out = want.data();
    r.out_plane = plane;
    r.row0 = 0;
    r.row1 = dm.g;
    kernels::ref::mask_upscale(r);

    // The device's layouts: the weights transposed (columns = output channels).
    std::vector<float> w1t(w1.size()), w2t(w2.size());
    for (int n = 0; n < 4 * dm.c1; ++n)
      for (int k = 0; k < dm.d; ++k) w1t[size_t(k) * 4 * dm.c1 + n] = w1[size_t(n) * dm.d + k];
    for (int n = 0; n < 4 * dm.c2; ++n)
      for (int k = 0; k < dm.c1; ++k) w2t[size_t(k) * 4 * dm.c2 + n] = w2[size_t(n) * dm.c1 + k];
    Dev<float> dx(x), dw1(w1t), db1(b1), dlw(lw), dlb(lb), dw2(w2t), db2(b2), dh(hyper),
        dout(std::vector<float>(want.size(), kNaN));
    kernels::cuda::MaskUpscaleArgs a;
    a.g = dm.g;
    a.d = dm.d;
    a.c1 = dm.c1;
    a.c2 = dm.c2;
    a.x = dx.get();
    a.ldx = ldx;
    a.w1t = dw1.get();
    a.b1 = db1.get();
    a.ln_weight = dlw.get();
    a.ln_bias = dlb.get();
    a.ln_eps = 1e-6f;
    a.w2t = dw2.get();
    a.b2 = db2.get();
    a.hyper = dh.get();
    a.ldh = ldh;
    a.m = dm.m;
    a.out = dout.get();
    a.out_plane = plane;
    kernels::cuda::mask_upscale(a, s.get());
    sync(s);
    const std::vector<float> got = dout.back();
    for (int m = 0; m < dm.m; ++m)
      for (int64_t k = 0; k < plane; ++k) {
        const float w = want[size_t(m * plane + k)], v = got[size_t(m * plane + k)];
        INFO("g " << dm.g << " d " << dm.d << " c1 " << dm.c1 << " c2 " << dm.c2 << " m " << dm.m << " mask " << m
                  << " at " << k);
        if (k >= side * side) {
          REQUIRE(std::isnan(v));  // plane padding untouched
          continue;
        }
        // As the CPU kernels' test: float sums over D, C1, C2 terms of O(1) values.
        REQUIRE(std::fabs(v - w) <= 1e-5 * (1.0 + std::fabs(w) + dm.c2 / 8.0));
      }
  }
}

TEST_CASE("CUDA linear (cuBLAS) equals the double reference in f32, f16 and bf16", "[cuda]") {
  SAM_CUDA_TEST_OR_SKIP();
  engine::cuda::Stream s;
  engine::cuda::BlasHandle blas;
  std::mt19937 rng(7);
  struct Dims {
    int m, n, k;
  };
  for (const Dims& dm : {Dims{1024, 768, 768}, Dims{37, 13, 5}, Dims{1, 1, 1}, Dims{0, 8, 8}, Dims{129, 257, 63}}) {
    for (kernels::cuda::MatType t : {kernels::cuda::MatType::F32, kernels::cuda::MatType::F16,
                                     kernels::cuda::MatType::BF16}) {
      for (bool epilogue : {false, true}) {
        const int64_t ldx = dm.k + 2, ldw = dm.k + 1, ldy = dm.n + 3;
        std::vector<float> x = cuda_test::random_matrix(dm.m, dm.k, ldx, rng);
        std::vector<float> w = cuda_test::random_matrix(dm.n, dm.k, ldw, rng, 1.f / std::sqrt(float(dm.k)));
        const std::vector<float> bias = cuda_test::random_matrix(1, dm.n, dm.n, rng);
        // The padding is NaN in x / w; the reference must read rounded values for f16 / bf16.
        std::vector<float> xr = x, wr = w;
        auto round_to = [&](std::vector<float>& v) {
          for (float& f : v) {
            if (std::isnan(f)) continue;
            f = t == kernels::cuda::MatType::F16 ? kernels::ref::f16_to_f32(kernels::ref::f32_to_f16(f))
                                                 : kernels::ref::bf16_to_f32(kernels::ref::f32_to_bf16(f));
          }
        };
        if (t != kernels::cuda::MatType::F32) {
          round_to(xr);
          round_to(wr);
        }
        std::vector<float> want(static_cast<size_t>(std::max(dm.m, 1) * ldy), kNaN);
        if (dm.m > 0) {
          kernels::GemmArgs g;
          g.trans_b = true;
          g.m = dm.m;
          g.n = dm.n;
          g.k = dm.k;
          g.a = xr.data();
          g.lda = static_cast<int>(ldx);
          g.b = wr.data();
          g.ldb = static_cast<int>(ldw);
          g.c = want.data();
          g.ldc = static_cast<int>(ldy);
          kernels::ref::sgemm(g);
          if (epilogue)
            for (int r = 0; r < dm.m; ++r) {
              float* row = want.data() + r * ldy;
              for (int c = 0; c < dm.n; ++c) row[c] += bias[size_t(c)];
              kernels::ref::gelu(row, dm.n);
            }
        }
        // Device operands: f32 as is; f16 / bf16 converted on the device (NaN padding stays NaN, unread).
        Dev<float> dx(x), dw(w), db(bias), dy(std::vector<float>(want.size(), kNaN));
        Dev<uint16_t> hx(std::vector<uint16_t>(x.size())), hw(std::vector<uint16_t>(w.size()));
        kernels::cuda::LinearArgs a;
        a.type = t;
        if (t == kernels::cuda::MatType::F32) {
          a.x = dx.get();
          a.w = dw.get();
        } else {
          auto conv = t == kernels::cuda::MatType::F16 ? kernels::cuda::convert_f32_to_f16 : kernels::cuda::convert_f32_to_bf16;
          conv(dx.get(), hx.get(), static_cast<int64_t>(x.size()), s.get());
          conv(dw.get(), hw.get(), static_cast<int64_t>(w.size()), s.get());
          a.x = hx.get();
          a.w = hw.get();
        }
        a.ldx = ldx;
        a.ldw = ldw;
        a.bias = epilogue ? db.get() : nullptr;
        a.gelu = epilogue;
        a.y = dy.get();
        a.ldy = ldy;
        a.m = dm.m;
        a.n = dm.n;
        a.k = dm.k;
        kernels::cuda::linear(blas.get(), a, s.get());
        sync(s);
        const std::vector<float> got = dy.back();
        for (int r = 0; r < dm.m; ++r) {
          for (int c = 0; c < dm.n; ++c) {
            const size_t i = size_t(r * ldy + c);
            INFO("M " << dm.m << " N " << dm.n << " K " << dm.k << " type " << int(t) << " epilogue " << epilogue
                      << " at " << r << "," << c);
            // Products of exactly representable inputs summed in float: ~sqrt(K) ulp of sum |x w| (<= ~sqrt(K)).
            REQUIRE(std::fabs(got[i] - want[i]) <= 2e-6 * std::sqrt(double(dm.k)) * 4 + 1e-6);
          }
          for (int64_t c = dm.n; c < ldy; ++c) REQUIRE(std::isnan(got[size_t(r * ldy + c)]));
        }
      }
    }
  }
}

TEST_CASE("CUDA kernels refuse bad sizes before touching the device", "[cuda]") {
  // Argument checks run on the host first: this test needs no GPU.
  float* none = nullptr;
  REQUIRE_THROWS_WITH(kernels::cuda::gelu(none, -1, nullptr), Catch::Contains("cuda gelu: n -1"));
  REQUIRE_THROWS_WITH(kernels::cuda::softmax_rows(none, 2, 5, 4, nullptr), Catch::Contains("cuda softmax_rows: rows 2 cols 5 ld 4"));
  kernels::LayerNormArgs ln;
  ln.rows = 3;
  ln.cols = 8;
  ln.ldx = ln.ldy = 7;
  REQUIRE_THROWS_WITH(kernels::cuda::layer_norm(ln, nullptr), Catch::Contains("cuda layer_norm: rows 3 cols 8 ldx 7"));
  REQUIRE_THROWS_WITH(kernels::cuda::window_partition(none, 4, 8, 4, 0, none, 4, nullptr),
                      Catch::Contains("cuda window_partition: grid 8 channels 4 window 0"));
  kernels::cuda::MaskUpscaleArgs mu;
  mu.g = 4;
  REQUIRE_THROWS_WITH(kernels::cuda::mask_upscale(mu, nullptr), Catch::Contains("cuda mask_upscale: G 4 D 0"));
  kernels::cuda::LinearArgs li;
  li.m = 2;
  li.n = 3;
  li.k = 4;
  li.ldx = li.ldw = 4;
  li.ldy = 2;  // narrower than N
  REQUIRE_THROWS_WITH(kernels::cuda::linear(nullptr, li, nullptr), Catch::Contains("cuda linear: row strides"));
  // Zero-sized work is a no-op, not an error.
  REQUIRE_NOTHROW(kernels::cuda::gelu(none, 0, nullptr));
  REQUIRE_NOTHROW(kernels::cuda::softmax_rows(none, 0, 5, 5, nullptr));
}
