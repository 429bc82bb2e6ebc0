// One-lane "vector" so the generic kernels also give the scalar fallback table.
#pragma once

#include <algorithm>
#include <cmath>

namespace kernels::simd {

struct VecScalar {
  static constexpr int kLanes = 1;
  using V = float;
  using I = int;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V set1(float x) { return x; }
  static V zero() { return 0.f; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V fmadd(V a, V b, V c) { return a * b + c; }
  static V max(V a, V b) { return std::max(a, b); }
  static V min(V a, V b) { return std::min(a, b); }
  static V abs(V a) { return std::fabs(a); }
  static V round(V a) { return std::nearbyint(a); }
  static V floor(V a) { return std::floor(a); }
  static I cvtt_i32(V a) { return static_cast<int>(a); }
  static V lookup8(const float* table, I idx) { return table[idx]; }
  static V pow2i(V n) { return std::ldexp(1.f, static_cast<int>(n)); }
  static V ldexp(V p, V n) { return std::ldexp(p, static_cast<int>(std::max(n, -200.f))); }
  static V select_lt(V a, V b, V x, V y) { return a < b ? x : y; }
  static V copysign(V m, V s) { return std::copysign(m, s); }
  static float reduce_add(V v) { return v; }
  static float reduce_max(V v) { return v; }
};

}  // namespace kernels::simd
