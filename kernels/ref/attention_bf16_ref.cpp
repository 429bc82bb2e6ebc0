// The bf16 fused attention's maths (kernels/attention_bf16.h) term by term in
// double precision: the oracle for the attention_bf16 kernels. q, k, v and the
// unnormalised probabilities are rounded to bf16 exactly as the kernels round
// them; everything else is exact up to double rounding.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/attention_bf16.h"
#include "kernels/convert.h"

namespace kernels::ref {

namespace {

float bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// The spacing of bf16 values above bf16(p), p >= 0 finite (for the flips bound).
double bf16_ulp(float p) {
  const uint16_t h = f32_to_bf16(p);
  return double(bf16_to_f32(static_cast<uint16_t>(h + 1))) - bf16_to_f32(h);
}

}  // namespace

void attention_relpos_bf16(const AttentionRelPosArgs& a, double* bound, double* flips, double window) {
  const AttentionLayout lay(a);
  assert(a.h >= 1 && a.w >= 1 && a.hd >= 1 && 0 <= a.r0 && a.r0 <= a.r1 && a.r1 <= lay.queries());
  assert(lay.vh <= a.h && lay.vw <= a.w);
  const int t_len = a.h * a.w, hd = a.hd;
  const double log2e = 1.4426950408889634, u32 = std::ldexp(1.0, -24);
  // bf16 copies of k and v (padding tokens: k_pad / v_pad), [T, hd].
  std::vector<float> kb(static_cast<size_t>(t_len) * hd), vb(kb.size()), qb(static_cast<size_t>(hd));
  for (int u = 0; u < t_len; ++u) {
    const float* k = lay.valid(u) ? a.k + lay.row(u) * a.ldk : a.k_pad;
    const float* v = lay.valid(u) ? a.v + lay.row(u) * a.ldv : a.v_pad;
    for (int d = 0; d < hd; ++d) {
      kb[static_cast<size_t>(u) * hd + d] = bf16(k[d]);
      vb[static_cast<size_t>(u) * hd + d] = bf16(v[d]);
    }
  }
  std::vector<double> x(static_cast<size_t>(t_len)), amag(x.size()), p(x.size());
  std::vector<float> out(static_cast<size_t>(hd));
  for (int i = a.r0; i < a.r1; ++i) {
    const int t = lay.query_token(i), th = t / a.w, tw = t % a.w;
    const float* q = a.q + lay.row(t) * a.ldq;
    for (int d = 0; d < hd; ++d) qb[static_cast<size_t>(d)] = bf16(q[d]);
    for (int u = 0; u < t_len; ++u) {
      const int uh = u / a.w, uw = u % a.w;
      const float* k = kb.data() + static_cast<size_t>(u) * hd;
      const float* rh = a.rel_pos_h + static_cast<int64_t>(th - uh + a.h - 1) * hd;
      const float* rw = a.rel_pos_w + static_cast<int64_t>(tw - uw + a.w - 1) * hd;
      double qk = 0, bh = 0, bw = 0, m = 0;
      for (int d = 0; d < hd; ++d) {
        qk += double(qb[static_cast<size_t>(d)]) * k[d];  // bf16 q, k
        bh += double(q[d]) * rh[d];                       // the bias from the f32 q
        bw += double(q[d]) * rw[d];
        m += a.scale * std::fabs(double(qb[static_cast<size_t>(d)]) * k[d]) + std::fabs(double(q[d]) * rh[d]) +
             std::fabs(double(q[d]) * rw[d]);
      }
      x[static_cast<size_t>(u)] = log2e * (double(a.scale) * qk + bh + bw);  // log2 units
      amag[static_cast<size_t>(u)] = m;
    }
    const double mx = std::ceil(*std::max_element(x.begin(), x.end()));  // an integer M
    double sum = 0;
    for (int u = 0; u < t_len; ++u) {
      p[static_cast<size_t>(u)] = bf16(static_cast<float>(std::exp2(x[static_cast<size_t>(u)] - mx)));
      sum += p[static_cast<size_t>(u)];
    }
    for (int c = 0; c < hd; ++c) {
      double o = 0, om = 0;
      for (int u = 0; u < t_len; ++u) {
        const double vv = vb[static_cast<size_t>(u) * hd + c];
        o += p[static_cast<size_t>(u)] * vv;
        om += p[static_cast<size_t>(u)] * std::fabs(vv);
      }
      out[static_cast<size_t>(c)] = static_cast<float>(o / sum);
      a.out[lay.out_row(i) * a.ldo + c] = out[static_cast<size_t>(c)];
      if (bound) bound[static_cast<size_t>(i - a.r0) * hd + c] = (std::sqrt(double(t_len)) + 2) * om / sum;
    }
    if (!flips) continue;
    // Changing p_u by d moves out by d (v_u - out) / (sum + d): with all ambiguous keys
    // (total change D), at most sum_u ulp_u (|v_u| + |out|) / (sum - D).
    double* f = flips + static_cast<size_t>(i - a.r0) * hd;
    std::fill(f, f + hd, 0.0);
    double total = 0;
    for (int u = 0; u < t_len; ++u) {
      const double y = std::exp2(x[static_cast<size_t>(u)] - mx);
      const double e = window * u32 * ((hd + 3) * amag[static_cast<size_t>(u)] + 8);
      if (bf16(static_cast<float>(y * (1 - e))) == bf16(static_cast<float>(y * (1 + e)))) continue;
      const double ulp = bf16_ulp(static_cast<float>(y * (1 + e)));
      total += ulp;
      for (int c = 0; c < hd; ++c)
        f[c] += ulp * (std::fabs(double(vb[static_cast<size_t>(u) * hd + c])) + std::fabs(double(out[static_cast<size_t>(c)])));
    }
    for (int c = 0; c < hd; ++c) f[c] /= sum - total;
  }
}

}  // namespace kernels::ref
