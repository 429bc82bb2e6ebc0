// The two-way cross-attention contracts (kernels/two_way_attention.h) as plain
// loops in double: the oracle the SIMD kernels are tested against.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/two_way_attention.h"

namespace kernels::ref {
namespace {

double score_input(const float* q, int64_t ldq, const float* qpe, int64_t ldqpe, int64_t p, int c) {
  return static_cast<double>(q[p * ldq + c]) + (qpe ? static_cast<double>(qpe[p * ldqpe + c]) : 0.0);
}

}  // namespace

void tokens_to_image(const TokensToImageArgs& a) {
  const int64_t np = a.p1 - a.p0;
  std::vector<double> s(static_cast<size_t>(np));
  for (int j = 0; j < a.j; ++j) {
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < np; ++i) {
      double acc = 0;
      for (int c = 0; c < a.dq; ++c)
        acc += score_input(a.q, a.ldq, a.qpe, a.ldqpe, a.p0 + i, c) * a.at[static_cast<int64_t>(c) * a.jp + j];
      s[static_cast<size_t>(i)] = acc;
      mx = std::max(mx, acc);
    }
    double sum = 0;
    for (int64_t i = 0; i < np; ++i) sum += std::exp(s[static_cast<size_t>(i)] - mx);
    for (int c = 0; c < a.d; ++c) {
      double acc = 0;
      for (int64_t i = 0; i < np; ++i) acc += std::exp(s[static_cast<size_t>(i)] - mx) * a.x[(a.p0 + i) * a.ldx + c];
      a.y[j * a.ldy + c] = static_cast<float>(acc / sum);
    }
    a.m[j] = static_cast<float>(mx);
    a.l[j] = static_cast<float>(sum);
  }
}

void image_to_tokens(const ImageToTokensArgs& a) {
  const int J = a.heads * a.t;
  std::vector<double> s(static_cast<size_t>(J)), row(static_cast<size_t>(a.d));
  for (int64_t p = a.p0; p < a.p1; ++p) {
    for (int j = 0; j < J; ++j) {
      double acc = a.cb[j];
      for (int c = 0; c < a.dq; ++c)
        acc += score_input(a.q, a.ldq, a.qpe, a.ldqpe, p, c) * a.bt[static_cast<int64_t>(c) * a.jp + j];
      s[static_cast<size_t>(j)] = acc;
    }
    for (int h = 0; h < a.heads; ++h) {
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int t = 0; t < a.t; ++t) mx = std::max(mx, s[static_cast<size_t>(h * a.t + t)]);
      for (int t = 0; t < a.t; ++t) sum += std::exp(s[static_cast<size_t>(h * a.t + t)] - mx);
      for (int t = 0; t < a.t; ++t) s[static_cast<size_t>(h * a.t + t)] = std::exp(s[static_cast<size_t>(h * a.t + t)] - mx) / sum;
    }
    if (a.probs)
      for (int j = 0; j < J; ++j) a.probs[p * a.ldprobs + j] = static_cast<float>(s[static_cast<size_t>(j)]);
    float* x = a.x + p * a.ldx;
    for (int c = 0; c < a.d; ++c) {
      double acc = 0;
      for (int j = 0; j < J; ++j) acc += s[static_cast<size_t>(j)] * a.u[static_cast<int64_t>(j) * a.d + c];
      row[static_cast<size_t>(c)] = static_cast<double>(x[c]) + acc + a.ob[c];
    }
    if (a.ln_weight) {
      double mean = 0, var = 0;
      for (double v : row) mean += v;
      mean /= a.d;
      for (double v : row) var += (v - mean) * (v - mean);
      var /= a.d;
      const double rstd = 1.0 / std::sqrt(var + a.ln_eps);
      if (a.ln_stats) a.ln_stats[2 * p] = static_cast<float>(mean), a.ln_stats[2 * p + 1] = static_cast<float>(rstd);
      for (int c = 0; c < a.d; ++c)
        row[static_cast<size_t>(c)] = (row[static_cast<size_t>(c)] - mean) * rstd * a.ln_weight[c] + a.ln_bias[c];
    }
    for (int c = 0; c < a.d; ++c) x[c] = static_cast<float>(row[static_cast<size_t>(c)]);
  }
}

}  // namespace kernels::ref
