// ISA-generic channels-last convolutions (kernels/conv.h) over a vector
// wrapper (VecAvx512 / VecAvx2 / VecScalar), instantiated in each ISA's
// translation unit. Channel tails narrower than a vector go through a zeroed
// stack copy, so every element takes the same arithmetic path.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstring>

#include "kernels/conv.h"
#include "math_impl.h"

namespace kernels::simd {

template <class S>
struct Conv {
  using V = typename S::V;
  static constexpr int L = S::kLanes;

  static V load_part(const float* p, int n) { return simd::load_part<S>(p, n); }
  static void store_part(float* p, V v, int n) { simd::store_part<S>(p, v, n); }

  // One output pixel's channels [ch, ch + width) (width <= L).
  static V depthwise_pixel(const DepthwiseConv2dArgs& a, int oy, int ox, int ch, int width) {
    const bool full = width == L;
    V acc = a.bias ? (full ? S::load(a.bias + ch) : load_part(a.bias + ch, width)) : S::zero();
    for (int ky = 0; ky < a.k; ++ky) {
      const int y = oy * a.stride - a.pad + ky;
      if (y < 0 || y >= a.h) continue;
      for (int kx = 0; kx < a.k; ++kx) {
        const int x = ox * a.stride - a.pad + kx;
        if (x < 0 || x >= a.w) continue;
        const float* px = a.in + (static_cast<long>(y - a.in_row0) * a.w + x) * a.c + ch;
        const float* wt = a.weight + static_cast<long>(ky * a.k + kx) * a.c + ch;
        acc = full ? S::fmadd(S::load(px), S::load(wt), acc) : S::fmadd(load_part(px, width), load_part(wt, width), acc);
      }
    }
    return a.gelu ? gelu<S>(acc) : acc;
  }

  // 3x3 kernels: one output row, one vector of channels [ch, ch + L) across the row, with
  // the nine taps and the bias held in registers (each input vector is then re-read
  // from L1 by its neighbours, not from L2 per pixel and channel block).
  static void depthwise3_row(const DepthwiseConv2dArgs& a, int oy, int ch) {
    V w[9];
    for (int t = 0; t < 9; ++t) w[t] = S::load(a.weight + static_cast<long>(t) * a.c + ch);
    const V bias = a.bias ? S::load(a.bias + ch) : S::zero();
    const float* rows[3];
    int nrows = 0, taps[3];
    for (int ky = 0; ky < 3; ++ky) {
      const int y = oy * a.stride - a.pad + ky;
      if (y < 0 || y >= a.h) continue;
      rows[nrows] = a.in + static_cast<long>(y - a.in_row0) * a.w * a.c + ch;
      taps[nrows++] = ky * 3;
    }
    const long c = a.c;
    float* o = a.out + static_cast<long>(oy - a.out_row0) * a.out_w * c + ch;
    for (int ox = 0; ox < a.out_w; ++ox, o += c) {
      const int x0 = ox * a.stride - a.pad;
      V acc = bias;
      if (x0 >= 0 && x0 + 2 < a.w) {  // interior: all three columns
        for (int r = 0; r < nrows; ++r) {
          const float* p = rows[r] + x0 * c;
          acc = S::fmadd(S::load(p), w[taps[r]], acc);
          acc = S::fmadd(S::load(p + c), w[taps[r] + 1], acc);
          acc = S::fmadd(S::load(p + 2 * c), w[taps[r] + 2], acc);
        }
      } else {
        for (int r = 0; r < nrows; ++r)
          for (int kx = 0; kx < 3; ++kx) {
            const int x = x0 + kx;
            if (x >= 0 && x < a.w) acc = S::fmadd(S::load(rows[r] + x * c), w[taps[r] + kx], acc);
          }
      }
      S::store(o, a.gelu ? gelu<S>(acc) : acc);
    }
  }

  // Two output rows oy, oy + 1 of a stride-1, pad-1 3x3 kernel whose input rows oy - 1 ..
  // oy + 2 all exist: each input vector loaded once serves both rows (12 loads for two
  // outputs instead of 18) and the two sums are independent chains. Each sum adds its
  // taps in the order depthwise3_row does (rows, then columns): the results are identical.
  static void depthwise3_rows2(const DepthwiseConv2dArgs& a, int oy, int ch) {
    V w[9];
    for (int t = 0; t < 9; ++t) w[t] = S::load(a.weight + static_cast<long>(t) * a.c + ch);
    const V bias = a.bias ? S::load(a.bias + ch) : S::zero();
    const long c = a.c;
    const float* in[4];
    for (int r = 0; r < 4; ++r) in[r] = a.in + static_cast<long>(oy - 1 + r - a.in_row0) * a.w * c + ch;
    float* o0 = a.out + static_cast<long>(oy - a.out_row0) * a.out_w * c + ch;
    float* o1 = o0 + static_cast<long>(a.out_w) * c;
    const auto edge = [&](int ox) {  // a pixel whose 3x3 window leaves the image on the left or right
      V acc0 = bias, acc1 = bias;
      for (int r = 0; r < 4; ++r)
        for (int kx = 0; kx < 3; ++kx) {
          const int x = ox - 1 + kx;
          if (x < 0 || x >= a.w) continue;
          const V p = S::load(in[r] + x * c);
          if (r < 3) acc0 = S::fmadd(p, w[r * 3 + kx], acc0);
          if (r > 0) acc1 = S::fmadd(p, w[(r - 1) * 3 + kx], acc1);
        }
      S::store(o0 + ox * c, a.gelu ? gelu<S>(acc0) : acc0);
      S::store(o1 + ox * c, a.gelu ? gelu<S>(acc1) : acc1);
    };
    edge(0);
    for (int ox = 1; ox + 1 < a.out_w; ++ox) {
      const long x0 = static_cast<long>(ox - 1) * c;
      V acc0 = bias, acc1 = bias;
      for (int kx = 0; kx < 3; ++kx) acc0 = S::fmadd(S::load(in[0] + x0 + kx * c), w[kx], acc0);
      for (int kx = 0; kx < 3; ++kx) {
        const V p = S::load(in[1] + x0 + kx * c);
        acc0 = S::fmadd(p, w[3 + kx], acc0);
        acc1 = S::fmadd(p, w[kx], acc1);
      }
      for (int kx = 0; kx < 3; ++kx) {
        const V p = S::load(in[2] + x0 + kx * c);
        acc0 = S::fmadd(p, w[6 + kx], acc0);
        acc1 = S::fmadd(p, w[3 + kx], acc1);
      }
      for (int kx = 0; kx < 3; ++kx) acc1 = S::fmadd(S::load(in[3] + x0 + kx * c), w[6 + kx], acc1);
      S::store(o0 + ox * c, a.gelu ? gelu<S>(acc0) : acc0);
      S::store(o1 + ox * c, a.gelu ? gelu<S>(acc1) : acc1);
    }
    if (a.out_w > 1) edge(a.out_w - 1);
  }

  static void depthwise_conv2d(const DepthwiseConv2dArgs& a) {
    assert(a.row_begin >= a.out_row0 && std::max(0, a.row_begin * a.stride - a.pad) >= a.in_row0);
    const int full = a.k == 3 && a.pad <= 2 ? a.c / L * L : 0;  // channels done by depthwise3_row
    const bool pairs = a.k == 3 && a.stride == 1 && a.pad == 1 && a.out_w == a.w;
    for (int oy = a.row_begin; oy < a.row_end; ++oy) {
      if (pairs && full == a.c && oy + 1 < a.row_end && oy >= 1 && oy + 2 < a.h) {  // rows oy and oy + 1
        for (int ch = 0; ch < full; ch += L) depthwise3_rows2(a, oy, ch);
        ++oy;
        continue;
      }
      for (int ch = 0; ch < full; ch += L) depthwise3_row(a, oy, ch);
      if (full == a.c) continue;
      for (int ox = 0; ox < a.out_w; ++ox) {
        float* o = a.out + (static_cast<long>(oy - a.out_row0) * a.out_w + ox) * a.c;
        int ch = full;
        for (; ch + L <= a.c; ch += L) S::store(o + ch, depthwise_pixel(a, oy, ox, ch, L));
        if (ch < a.c) store_part(o + ch, depthwise_pixel(a, oy, ox, ch, a.c - ch), a.c - ch);
      }
    }
  }

  // Up to kPx output pixels of one row x up to kNv vectors of output channels,
  // accumulated in registers over every (tap, input channel).
  static constexpr int kPx = 4, kNv = 4;

  template <int NV>
  static void conv_block(const Conv2dArgs& a, int oy, int ox0, int npx, int co) {
    V acc[kPx][NV];
    for (int p = 0; p < kPx; ++p)
      for (int v = 0; v < NV; ++v) acc[p][v] = a.bias ? S::load(a.bias + co + v * L) : S::zero();
    for (int ky = 0; ky < a.k; ++ky) {
      const int y = oy * a.stride - a.pad + ky;
      if (y < 0 || y >= a.h) continue;
      for (int kx = 0; kx < a.k; ++kx) {
        const float* px[kPx];
        for (int p = 0; p < kPx; ++p) {
          const int x = (ox0 + p) * a.stride - a.pad + kx;
          px[p] = p < npx && x >= 0 && x < a.w ? a.in + (static_cast<long>(y) * a.w + x) * a.cin : nullptr;
        }
        const float* wt = a.weight + static_cast<long>((ky * a.k + kx) * a.cin) * a.cout + co;
        for (int ci = 0; ci < a.cin; ++ci, wt += a.cout) {
          V w[NV];
          for (int v = 0; v < NV; ++v) w[v] = S::load(wt + v * L);
          for (int p = 0; p < kPx; ++p) {
            if (!px[p]) continue;
            const V x = S::set1(px[p][ci]);
            for (int v = 0; v < NV; ++v) acc[p][v] = S::fmadd(x, w[v], acc[p][v]);
          }
        }
      }
    }
    for (int p = 0; p < npx; ++p) {
      float* o = a.out + (static_cast<long>(oy) * a.out_w + ox0 + p) * a.cout + co;
      for (int v = 0; v < NV; ++v) S::store(o + v * L, a.gelu ? gelu<S>(acc[p][v]) : acc[p][v]);
    }
  }

  // Output channels past the last full vector: one lane-width pass per pixel with
  // zero-padded weights and bias copies.
  static void conv_tail(const Conv2dArgs& a, int oy, int ox, int co) {
    const int width = a.cout - co;
    V acc = a.bias ? load_part(a.bias + co, width) : S::zero();
    for (int ky = 0; ky < a.k; ++ky) {
      const int y = oy * a.stride - a.pad + ky;
      if (y < 0 || y >= a.h) continue;
      for (int kx = 0; kx < a.k; ++kx) {
        const int x = ox * a.stride - a.pad + kx;
        if (x < 0 || x >= a.w) continue;
        const float* px = a.in + (static_cast<long>(y) * a.w + x) * a.cin;
        const float* wt = a.weight + static_cast<long>((ky * a.k + kx) * a.cin) * a.cout + co;
        for (int ci = 0; ci < a.cin; ++ci) acc = S::fmadd(S::set1(px[ci]), load_part(wt + static_cast<long>(ci) * a.cout, width), acc);
      }
    }
    store_part(a.out + (static_cast<long>(oy) * a.out_w + ox) * a.cout + co, a.gelu ? gelu<S>(acc) : acc, width);
  }

  static void conv2d(const Conv2dArgs& a) {
    const int full = a.cout / L;
    for (int oy = a.row_begin; oy < a.row_end; ++oy)
      for (int ox = 0; ox < a.out_w; ox += kPx) {
        const int npx = a.out_w - ox < kPx ? a.out_w - ox : kPx;
        int v = 0;
        for (; v + kNv <= full; v += kNv) conv_block<kNv>(a, oy, ox, npx, v * L);
        switch (full - v) {
          case 3: conv_block<3>(a, oy, ox, npx, v * L); break;
          case 2: conv_block<2>(a, oy, ox, npx, v * L); break;
          case 1: conv_block<1>(a, oy, ox, npx, v * L); break;
          default: break;
        }
        if (full * L < a.cout)
          for (int p = 0; p < npx; ++p) conv_tail(a, oy, ox + p, full * L);
      }
  }
};

}  // namespace kernels::simd
