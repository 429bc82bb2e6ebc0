// The official maths of attention with decomposed relative positions, term by
// term in double precision (the oracle for the fused kernels): scores for one
// query row, + rel_h + rel_w, softmax, @ v.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/attention.h"

namespace kernels::ref {

void attention_relpos(const AttentionRelPosArgs& a, double* bound) {
  const AttentionLayout lay(a);
  assert(a.h >= 1 && a.w >= 1 && a.hd >= 1 && 0 <= a.r0 && a.r0 <= a.r1 && a.r1 <= lay.queries());
  assert(lay.vh <= a.h && lay.vw <= a.w);
  const int t_len = a.h * a.w, hd = a.hd;
  std::vector<double> s(static_cast<size_t>(t_len));
  // Padding tokens (outside valid_h x valid_w) have key k_pad and value v_pad.
  const auto key = [&](int u) { return lay.valid(u) ? a.k + lay.row(u) * a.ldk : a.k_pad; };
  const auto value = [&](int u) { return lay.valid(u) ? a.v + lay.row(u) * a.ldv : a.v_pad; };
  for (int i = a.r0; i < a.r1; ++i) {
    const int t = lay.query_token(i), th = t / a.w, tw = t % a.w;
    const float* q = a.q + lay.row(t) * a.ldq;
    double amax = 0;
    for (int u = 0; u < t_len; ++u) {
      const int uh = u / a.w, uw = u % a.w;
      const float* k = key(u);
      // get_rel_pos: Rh[th, uh] = rel_pos_h[th - uh + h - 1] (no interpolation: q_size == k_size)
      const float* rh = a.rel_pos_h + static_cast<int64_t>(th - uh + a.h - 1) * hd;
      const float* rw = a.rel_pos_w + static_cast<int64_t>(tw - uw + a.w - 1) * hd;
      double qk = 0, bh = 0, bw = 0, m = 0;
      for (int d = 0; d < hd; ++d) {
        qk += double(q[d]) * k[d];
        bh += double(q[d]) * rh[d];
        bw += double(q[d]) * rw[d];
        m += a.scale * std::fabs(double(q[d]) * k[d]) + std::fabs(double(q[d]) * rh[d]) +
             std::fabs(double(q[d]) * rw[d]);
      }
      s[static_cast<size_t>(u)] = double(a.scale) * qk + bh + bw;
      amax = std::max(amax, m);
    }
    const double smax = *std::max_element(s.begin(), s.end());
    double sum = 0;
    for (double& x : s) {
      x = std::exp(x - smax);
      sum += x;
    }
    for (int c = 0; c < hd; ++c) {
      double o = 0, om = 0;
      for (int u = 0; u < t_len; ++u) {
        const double vv = value(u)[c];
        o += s[static_cast<size_t>(u)] * vv;
        om += s[static_cast<size_t>(u)] * std::fabs(vv);
      }
      a.out[lay.out_row(i) * a.ldo + c] = static_cast<float>(o / sum);
      if (bound) bound[static_cast<size_t>(i - a.r0) * hd + c] = (std::sqrt(hd + 3.0) * amax + std::sqrt(double(t_len))) * om / sum;
    }
  }
}

}  // namespace kernels::ref
