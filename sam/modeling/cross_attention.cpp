// The cross attentions of segment_anything/modeling/transformer.py
// (TwoWayAttentionBlock.cross_attn_token_to_image / cross_attn_image_to_token,
// TwoWayTransformer.final_attn_token_to_image) with the image-side projections
// folded into the token side. Per head h (Wq_h, Wk_h: rows h*hd.. of the
// projection weights, [hd, D]; Wo_h: columns h*hd.. of out_proj, [D, hd]):
//
// token-to-image, q from T tokens, k = keys + pe and v = keys over P image tokens:
//   scores_h[t, p] = (Qp_h[t] Wk_h) . k[p] + Qp_h[t] . bk_h      (the last term is the same
//                                                                 for every p: softmax drops it)
//   o_h[t] = sum_p softmax_p(scores_h)[t, p] (v[p] Wv_h^T + bv_h) = (sum_p softmax . v[p]) Wv_h^T + bv_h
// so the kernel needs A_h = Qp_h Wk_h ([T, D] per head) and returns the
// softmax-weighted means of the image tokens; one [J, D] x [D, Di] product
// (J = heads * T) finishes v_proj, then out_proj as usual.
//
// image-to-token, q = keys + pe over P image tokens, k and v from T tokens:
//   scores_h[p, t] = q[p] . (Kp_h[t] Wq_h) + bq_h . Kp_h[t]
//   out[p] = sum_h sum_t softmax_t(scores_h)[p, t] (Vp_h[t] Wo_h^T) + bo
// so the kernel needs B_h = Kp_h Wq_h, the per-column bias, and U_h = Vp_h Wo_h^T.
//
// Per prompt set the image side costs 2 x P x D x J multiply-adds (J = 56 for
// one point: 8 heads x 7 tokens) instead of 2 x P x D x Di (Di = 128) for the
// projections, plus the per-head products; the scores never leave the cache.
#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "engine/ops/two_way_attention.h"
#include "sam/modeling/transformer.h"

namespace sam {
namespace {

using engine::DType;
using engine::Shape;
using engine::Tensor;

Tensor view(const Tensor& buf, const Shape& shape) {
  if (shape.numel() > buf.numel())
    engine::fail("cross attention scratch: {} does not fit in {} floats", shape.str(), buf.numel());
  return Tensor::from_blob(buf.raw_data(), DType::F32, shape);
}

// blk [N*J, Di] (row n*J + h*T + t) = head h's columns of tok [N*T, Di] row
// n*T + t, zeros elsewhere: the block-diagonal operand of the per-head products.
void block_diagonal(const Tensor& tok, int64_t n, int64_t t, int heads, int64_t di, Tensor& blk) {
  const int64_t hd = di / heads;
  const float* src = tok.data<float>();
  float* dst = blk.data<float>();
  std::fill(dst, dst + n * heads * t * di, 0.f);
  for (int64_t b = 0; b < n; ++b)
    for (int h = 0; h < heads; ++h)
      for (int64_t k = 0; k < t; ++k) {
        const float* s = src + (b * t + k) * di + h * hd;
        float* d = dst + ((b * heads + h) * t + k) * di + h * hd;
        std::copy(s, s + hd, d);
      }
}

// out [D, Jp] = scale * fac[J, D]^T, the columns past J zero.
void transpose_scaled(const float* fac, int64_t j, int64_t d, int64_t jp, float scale, float* out) {
  for (int64_t c = 0; c < d; ++c) {
    float* o = out + c * jp;
    for (int64_t r = 0; r < j; ++r) o[r] = scale * fac[r * d + c];
    std::fill(o + j, o + jp, 0.f);
  }
}


}  // namespace

std::array<int64_t, 8> Attention::factored_floats(int64_t n, int64_t t, int64_t d, int64_t di, int heads,
                                                  int workers) {
  const int64_t j = heads * t, jp = engine::ops::two_way_columns(static_cast<int>(j));
  const int64_t kern =
      static_cast<int64_t>(engine::ops::two_way_scratch_floats(static_cast<int>(std::max(d, di)), static_cast<int>(jp)));
  auto round = [](int64_t f) { return (f + 15) / 16 * 16; };
  return {n * t * di,                            // tok_a, tok_b
          n * j * di,                            // blk
          n * j * d,                             // fac, fac2
          d * jp,                                // fac_t
          jp,                                    // cb
          workers * round(j * d + 2 * j),        // part
          workers * round(kern),                 // kern
          0};
}

Tensor Attention::project_q(const Tensor& q) const {
  Tensor out = Tensor::empty(DType::F32, {q.dim(0), internal_dim_});
  q_proj_.forward(q, out);
  return out;
}

void Attention::token_to_image(const Tensor& q_tokens, const Tensor& keys, const Tensor& key_pe, Tensor& out,
                               const FactoredScratch& s, const Projected* cached_kv) const {
  const int64_t n = q_tokens.dim(0), t = q_tokens.dim(1), d = q_tokens.dim(2), p = keys.dim(1);
  const int64_t di = internal_dim_, hd = di / num_heads_, j = num_heads_ * t;
  if (!(keys.rank() == 3 && keys.dim(0) == n && keys.dim(2) == d && keys.is_contiguous() &&
        key_pe.numel() == p * d && key_pe.is_contiguous() && out.shape() == q_tokens.shape() &&
        q_tokens.is_contiguous() &&
        (!cached_kv || ((cached_kv->k.shape() == Shape{p, di} || cached_kv->k.shape() == Shape{n, p, di}) &&
                        cached_kv->v.shape() == cached_kv->k.shape() && cached_kv->k.is_contiguous() &&
                        cached_kv->v.is_contiguous()))))
    engine::fail("token_to_image: q {}, keys {}, pe {} -> out {} do not fit", q_tokens.shape().str(),
                 keys.shape().str(), key_pe.shape().str(), out.shape().str());
  const int jp = engine::ops::two_way_columns(static_cast<int>(j));
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));

  // Qp = q_proj(q) [N*T, Di]. Scores read the image tokens through A =
  // blockdiag(Qp) Wk (fac [N*J, D]) and the values are the image tokens; or,
  // cached, each head reads its columns of k_proj / v_proj (below).
  Tensor qp = view(s.tok_a, {n * t, di});
  q_proj_.forward(q_tokens, qp);
  const int workers = engine::thread_pool().num_threads();
  const int64_t part_stride = s.part.numel() / workers, kern_stride = s.kern.numel() / workers;
  Tensor o = view(s.tok_b, {n * t, di});
  if (cached_kv) {
    // Head by head: head h's scores read only its hd columns of the cached
    // k_proj and its means only its hd columns of v_proj, 1/heads of the
    // [P, Di] x [Di, J] products with the block-diagonal factors (whose other
    // terms are exact zeros: the sums, their order and the result are the same).
    const int64_t jph = engine::ops::two_way_columns(static_cast<int>(t));
    float* ft = s.fac_t.data<float>();  // [hd, jph] this head's factors, scaled
    float* yh = s.fac2.data<float>();   // [T, hd] this head's means
    const float* qpd = qp.data<float>();
    // [P, Di] shared by the prompt sets, or [N, P, Di] one per set.
    const int64_t set_stride = cached_kv->k.rank() == 3 ? p * di : 0;
    for (int64_t b = 0; b < n; ++b)
      for (int h = 0; h < num_heads_; ++h) {
        for (int64_t c = 0; c < hd; ++c) {
          for (int64_t k = 0; k < t; ++k) ft[c * jph + k] = scale * qpd[(b * t + k) * di + h * hd + c];
          std::fill(ft + c * jph + t, ft + (c + 1) * jph, 0.f);
        }
        engine::ops::TokensToImageArgs a;
        a.at = ft;
        a.j = static_cast<int>(t);
        a.jp = static_cast<int>(jph);
        a.q = cached_kv->k.data<float>() + b * set_stride + h * hd;
        a.ldq = di;
        a.dq = static_cast<int>(hd);
        a.x = cached_kv->v.data<float>() + b * set_stride + h * hd;
        a.ldx = di;
        a.d = static_cast<int>(hd);
        engine::ops::tokens_to_image(a, p, s.part.data<float>(), part_stride, s.kern.data<float>(), kern_stride, yh);
        for (int64_t k = 0; k < t; ++k)
          std::copy(yh + k * hd, yh + (k + 1) * hd, o.data<float>() + (b * t + k) * di + h * hd);
      }
    Tensor o3 = o.reshape({n, t, di});
    out_proj_.forward(o3, out);
    return;
  }
  Tensor fac = view(s.fac, {n * j, d});
  Tensor blk = view(s.blk, {n * j, di});
  block_diagonal(qp, n, t, num_heads_, di, blk);
  wk_t_.forward(blk, fac);

  // Per prompt set: the softmax-weighted means of the image tokens -> y_all [N*J, D].
  Tensor y_all = view(s.fac2, {n * j, d});
  for (int64_t b = 0; b < n; ++b) {
    transpose_scaled(fac.data<float>() + b * j * d, j, d, jp, scale, s.fac_t.data<float>());
    const float* xb = keys.data<float>() + b * p * d;
    engine::ops::TokensToImageArgs a;
    a.at = s.fac_t.data<float>();
    a.j = static_cast<int>(j);
    a.jp = jp;
    a.q = xb;
    a.ldq = d;
    a.qpe = key_pe.data<float>();
    a.ldqpe = d;
    a.dq = static_cast<int>(d);
    a.x = xb;
    a.ldx = d;
    a.d = static_cast<int>(d);
    engine::ops::tokens_to_image(a, p, s.part.data<float>(), part_stride, s.kern.data<float>(), kern_stride,
                                 y_all.data<float>() + b * j * d);
  }

  // v_proj of the means: z [N*J, Di]; head h's columns of its rows are o_h.
  Tensor z = blk;
  v_proj_.forward(y_all, z);
  const float* zp = z.data<float>();
  float* op = o.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int h = 0; h < num_heads_; ++h)
      for (int64_t k = 0; k < t; ++k) {
        const float* src = zp + ((b * num_heads_ + h) * t + k) * di + h * hd;
        std::copy(src, src + hd, op + (b * t + k) * di + h * hd);
      }
  Tensor o3 = o.reshape({n, t, di});
  out_proj_.forward(o3, out);
}

void Attention::image_to_token(Tensor& keys, const Tensor& key_pe, const Tensor& k_tokens, const Tensor& v_tokens,
                               const NormWeights& norm, float eps, const FactoredScratch& s,
                               const Tensor* cached_q, const Taps* taps) const {
  const int64_t n = k_tokens.dim(0), t = k_tokens.dim(1), d = k_tokens.dim(2), p = keys.dim(1);
  const int64_t di = internal_dim_, hd = di / num_heads_, j = num_heads_ * t;
  if (!(keys.rank() == 3 && keys.dim(0) == n && keys.dim(2) == d && keys.is_contiguous() &&
        key_pe.numel() == p * d && key_pe.is_contiguous() && v_tokens.shape() == k_tokens.shape() &&
        k_tokens.is_contiguous() && v_tokens.is_contiguous() &&
        (!cached_q || ((cached_q->shape() == Shape{p, di} || cached_q->shape() == Shape{n, p, di}) &&
                       cached_q->is_contiguous()))))
    engine::fail("image_to_token: keys {}, pe {}, k {}, v {} do not fit", keys.shape().str(), key_pe.shape().str(),
                 k_tokens.shape().str(), v_tokens.shape().str());
  const int jp = engine::ops::two_way_columns(static_cast<int>(j));
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));

  // Kp, Vp [N*T, Di]; B = blockdiag(Kp) Wq -> fac; U = blockdiag(Vp) Wo^T -> fac2.
  Tensor kp = view(s.tok_a, {n * t, di});
  Tensor vp = view(s.tok_b, {n * t, di});
  k_proj_.forward(k_tokens, kp);
  v_proj_.forward(v_tokens, vp);
  Tensor blk = view(s.blk, {n * j, di});
  const int64_t dq = cached_q ? di : d;
  Tensor fac = view(s.fac, {n * j, dq});
  if (!cached_q) {
    block_diagonal(kp, n, t, num_heads_, di, blk);
    wq_t_.forward(blk, fac);
  } else {
    block_diagonal(kp, n, t, num_heads_, di, fac);  // scores = cached_q . Kp_h: the factors are Kp itself
  }
  Tensor u = view(s.fac2, {n * j, d});
  block_diagonal(vp, n, t, num_heads_, di, blk);
  out_proj_.forward_no_bias(blk, u);
  if (taps) std::copy(u.data<float>(), u.data<float>() + n * j * d, taps->u);

  const float* bq = q_proj_.bias()->data<float>();
  const int64_t kern_stride = s.kern.numel() / engine::thread_pool().num_threads();
  for (int64_t b = 0; b < n; ++b) {
    transpose_scaled(fac.data<float>() + b * j * dq, j, dq, jp, scale, s.fac_t.data<float>());
    float* cb = s.cb.data<float>();
    std::fill(cb, cb + jp, 0.f);
    if (!cached_q)  // bq_h . Kp_h[t] (the cached projection holds its bias already)
      for (int h = 0; h < num_heads_; ++h)
        for (int64_t k = 0; k < t; ++k) {
          const float* kr = kp.data<float>() + (b * t + k) * di + h * hd;
          float acc = 0.f;
          for (int64_t i = 0; i < hd; ++i) acc += bq[h * hd + i] * kr[i];
          cb[h * t + k] = scale * acc;
        }
    float* xb = keys.data<float>() + b * p * d;
    engine::ops::ImageToTokensArgs a;
    a.bt = s.fac_t.data<float>();
    a.cb = cb;
    a.heads = num_heads_;
    a.t = static_cast<int>(t);
    a.jp = jp;
    a.q = cached_q ? cached_q->data<float>() + (cached_q->rank() == 3 ? b * p * di : 0) : xb;
    a.ldq = dq;
    a.qpe = cached_q ? nullptr : key_pe.data<float>();
    a.ldqpe = d;
    a.dq = static_cast<int>(dq);
    a.u = u.data<float>() + b * j * d;
    a.ob = out_proj_.bias()->data<float>();
    a.x = xb;
    a.ldx = d;
    a.d = static_cast<int>(d);
    a.ln_weight = norm.weight->data<float>();
    a.ln_bias = norm.bias->data<float>();
    a.ln_eps = eps;
    if (taps) {
      a.probs = taps->probs + b * p * taps->ldprobs;
      a.ldprobs = taps->ldprobs;
      a.ln_stats = taps->stats + b * p * 2;
    }
    engine::ops::image_to_tokens(a, p, s.kern.data<float>(), kern_stride);
  }
}

}  // namespace sam
