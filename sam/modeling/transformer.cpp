// Mirrors segment_anything/modeling/transformer.py (and MLPBlock of
// modeling/common.py) in token layout; see transformer.h.
#include "sam/modeling/transformer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/thread_pool.h"
#include "engine/ops/blas.h"

namespace sam {
namespace {

using engine::DType;
using engine::Shape;
using engine::Tensor;

// nn.LayerNorm default eps (the transformer's norms are plain nn.LayerNorm(D)).
constexpr float kLayerNormEps = 1e-5f;

// A contiguous view of `shape` at the start of the flat scratch buffer `buf`.
// (Hot-path checks format their message only on failure.)
Tensor view(const Tensor& buf, const Shape& shape) {
  if (shape.numel() > buf.numel())
    engine::fail("transformer scratch: {} does not fit in {} floats", shape.str(), buf.numel());
  return Tensor::from_blob(buf.raw_data(), DType::F32, shape);
}

// out = a + b (same shape, contiguous); out may alias a or b.
void add(Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t n = out.numel();
  if (a.numel() != n || b.numel() != n)
    engine::fail("add: {} + {} -> {}", a.shape().str(), b.shape().str(), out.shape().str());
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* po = out.data<float>();
  for (int64_t i = 0; i < n; ++i) po[i] = pa[i] + pb[i];
}

// out[n] = a[n] + pe for every prompt set n: a, out [N, P, D], pe [P, D]
// (torch broadcasting of image_pe over the repeat_interleaved batch).
void add_broadcast(Tensor& out, const Tensor& a, const Tensor& pe) {
  const int64_t per = pe.numel();
  if (a.numel() != out.numel() || per == 0 || out.numel() % per != 0)
    engine::fail("add_broadcast: {} + {} -> {}", a.shape().str(), pe.shape().str(), out.shape().str());
  const float* pa = a.data<float>();
  const float* pp = pe.data<float>();
  float* po = out.data<float>();
  const int64_t cols = pe.dim(-1), pe_rows = per / cols;
  detail::parallel_rows(out.numel() / cols, cols, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* x = pa + r * cols;
      const float* e = pp + (r % pe_rows) * cols;
      float* y = po + r * cols;
      for (int64_t c = 0; c < cols; ++c) y[c] = x[c] + e[c];
    }
  });
}

// As one 2-D [rows, C] view.
Tensor rows_view(const Tensor& x) {
  if (!x.is_contiguous() || x.rank() < 1)
    engine::fail("row-parallel op: contiguous tensor expected, got {}", x.shape().str());
  const int64_t c = x.dim(-1);
  return Tensor::from_blob(x.raw_data(), DType::F32, {c ? x.numel() / c : 0, c});
}

void relu_(Tensor& x) {
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = p[i] > 0.f ? p[i] : 0.f;
}

void layer_norm_(Tensor& x, const NormWeights& w) { detail::layer_norm_(x, w, kLayerNormEps); }

size_t aligned_bytes(const Shape& s) {
  const size_t b = static_cast<size_t>(s.numel()) * sizeof(float);
  return (b + engine::kTensorAlignment - 1) / engine::kTensorAlignment * engine::kTensorAlignment;
}

}  // namespace

namespace detail {

Tensor select(const Tensor& x, int dim, int64_t index) {
  const int r = x.rank();
  if (dim < 0) dim += r;
  if (dim < 0 || dim >= r || index < 0 || index >= x.dim(dim))
    engine::fail("select: index {} of dim {} in {}", index, dim, x.shape().str());
  std::array<int64_t, engine::kMaxDims> shape{}, strides{};
  for (int i = 0, o = 0; i < r; ++i)
    if (i != dim) shape[o] = x.dim(i), strides[o++] = x.stride(i);
  const std::span<const int64_t> sh(shape.data(), static_cast<size_t>(r - 1)),
      st(strides.data(), static_cast<size_t>(r - 1));
  return Tensor::from_blob(x.data<float>() + index * x.stride(dim), DType::F32, Shape(sh), Shape(st));
}

void layer_norm_(Tensor& x, const NormWeights& w, float eps) {
  const Tensor r = rows_view(x);
  parallel_rows(r.dim(0), r.dim(1), [&](int64_t b, int64_t e) {
    Tensor blk = r.slice(0, b, e);
    engine::ops::layer_norm(blk, *w.weight, *w.bias, eps, blk);
  });
}

void gelu_(Tensor& x) {
  const Tensor r = rows_view(x);
  parallel_rows(r.dim(0), r.dim(1), [&](int64_t b, int64_t e) {
    Tensor blk = r.slice(0, b, e);
    engine::ops::gelu_(blk);
  });
}

void softmax_(Tensor& x) {
  const Tensor r = rows_view(x);
  parallel_rows(r.dim(0), r.dim(1), [&](int64_t b, int64_t e) {
    Tensor blk = r.slice(0, b, e);
    engine::ops::softmax_(blk);
  });
}

}  // namespace detail

engine::ops::Linear load_linear(const Weights& w, const std::string& prefix) {
  return engine::ops::Linear(w.get(prefix, "weight"), w.get(prefix, "bias"));
}

NormWeights::NormWeights(const Weights& w, const std::string& prefix)
    : weight(&w.get(prefix, "weight")), bias(&w.get(prefix, "bias")) {}

// ---------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------

Attention::Attention(const Weights& w, const std::string& prefix, int embedding_dim, int num_heads, int downsample_rate)
    : q_proj_(load_linear(w, prefix + ".q_proj")),
      k_proj_(load_linear(w, prefix + ".k_proj")),
      v_proj_(load_linear(w, prefix + ".v_proj")),
      out_proj_(load_linear(w, prefix + ".out_proj")),
      num_heads_(num_heads),
      internal_dim_(embedding_dim / downsample_rate) {
  engine::check(internal_dim_ % num_heads == 0, "{}: num_heads must divide embedding_dim", prefix);
  engine::check(q_proj_.out_features() == internal_dim_ && out_proj_.out_features() == embedding_dim,
                "{}: projections {} / {} for internal dim {}", prefix, q_proj_.weight().shape().str(),
                out_proj_.weight().shape().str(), internal_dim_);
  // [Di, D] -> [D, Di]: the factored cross attentions multiply by W, not W^T.
  auto transposed = [](const Tensor& w) {
    Tensor t = Tensor::empty(DType::F32, {w.dim(1), w.dim(0)});
    const float* src = w.data<float>();
    float* dst = t.data<float>();
    for (int64_t r = 0; r < w.dim(0); ++r)
      for (int64_t c = 0; c < w.dim(1); ++c) dst[c * w.dim(0) + r] = src[r * w.dim(1) + c];
    return t;
  };
  if (downsample_rate != 1) {  // the cross attentions
    wq_t_ = engine::ops::Linear(transposed(q_proj_.weight()), std::nullopt);
    wk_t_ = engine::ops::Linear(transposed(k_proj_.weight()), std::nullopt);
  }
}

Attention::Projected Attention::project_kv(const Tensor& k, const Tensor& v) const {
  Projected p{Tensor::empty(DType::F32, {k.dim(0), internal_dim_}),
              Tensor::empty(DType::F32, {v.dim(0), internal_dim_})};
  k_proj_.forward(k, p.k);
  v_proj_.forward(v, p.v);
  return p;
}

void Attention::forward(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out, const Scratch& s, Tracer* t,
                        const std::string& path, const Projected* kv) const {
  const int64_t n = q.dim(0), nq = q.dim(1), nk = kv ? kv->k.dim(0) : k.dim(1);
  const int64_t di = internal_dim_, hd = di / num_heads_;
  const bool fits = kv ? (kv->k.shape() == Shape{nk, di} && kv->v.shape() == Shape{nk, di})
                       : (k.rank() == 3 && v.rank() == 3 && k.dim(0) == n && v.dim(0) == n && v.dim(1) == nk);
  if (!fits || q.rank() != 3 || out.rank() != 3 || out.dim(0) != n || out.dim(1) != nq)
    engine::fail("{}: q {}, k {}, v {} -> out {} do not fit", path, q.shape().str(), (kv ? kv->k : k).shape().str(),
                 (kv ? kv->v : v).shape().str(), out.shape().str());
  // Input projections: one GEMM each over all N*Nq (N*Nk) rows. Precomputed
  // k/v projections are shared by all prompt sets (batch stride 0).
  Tensor qp = view(s.q, {n, nq, di});
  q_proj_.forward(q, qp);
  Tensor kp, vp;
  int64_t kv_batch_stride = nk * di;
  if (kv) {
    kp = Tensor::from_blob(kv->k.raw_data(), DType::F32, Shape{n, nk, di}, Shape{0, di, 1});
    vp = Tensor::from_blob(kv->v.raw_data(), DType::F32, Shape{n, nk, di}, Shape{0, di, 1});
    kv_batch_stride = 0;
  } else {
    kp = view(s.k, {n, nk, di});
    vp = view(s.v, {n, nk, di});
    k_proj_.forward(k, kp);
    v_proj_.forward(v, vp);
  }
  detail::trace_sub(t, path, ".q_proj", qp);
  detail::trace_sub(t, path, ".k_proj", kp);
  detail::trace_sub(t, path, ".v_proj", vp);

  // _separate_heads is a column slice of the [Nq, Di] rows (row stride Di), so
  // per (prompt set, head): attn = softmax(q_h k_h^T / sqrt(hd)); o_h = attn v_h,
  // written straight into the head's columns (_recombine_heads for free). The
  // shapes were checked above, so the two GEMMs go to the kernel directly.
  Tensor o = view(s.o, {n, nq, di});
  Tensor scores = view(s.scores, {nq, nk});
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  float* sc = scores.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    const float* qb = qp.data<float>() + b * nq * di;
    const float* kb = kp.data<float>() + b * kv_batch_stride;
    const float* vb = vp.data<float>() + b * kv_batch_stride;
    float* ob = o.data<float>() + b * nq * di;
    for (int64_t h = 0; h < num_heads_; ++h) {
      // scores[Nq, Nk] = scale * q_h @ k_h^T
      engine::ops::gemm_blas(true, static_cast<int>(nq), static_cast<int>(nk), static_cast<int>(hd), scale,
                             qb + h * hd, static_cast<int>(di), kb + h * hd, static_cast<int>(di), sc,
                             static_cast<int>(nk));
      detail::softmax_(scores);
      // o_h[Nq, hd] = scores @ v_h
      engine::ops::gemm_blas(false, static_cast<int>(nq), static_cast<int>(hd), static_cast<int>(nk), 1.f, sc,
                             static_cast<int>(nk), vb + h * hd, static_cast<int>(di), ob + h * hd,
                             static_cast<int>(di));
    }
  }
  out_proj_.forward(o, out);
  detail::trace_sub(t, path, ".out_proj", out);
  trace(t, path, out);
}

// ---------------------------------------------------------------------------
// TwoWayTransformer
// ---------------------------------------------------------------------------

// Scratch of one forward pass (flat buffers; shapes are views into them).
struct TwoWayTransformer::Workspace {
  Tensor big_in;               // [N, P, D]  keys + key_pe; also image-to-token attention output
  Tensor big_a, big_b;         // N*P*Di     projected image tokens (K/V or Q/O)
  Tensor small_in, small_out;  // [N, T, D]  queries + query_pe; attention / MLP output
  Tensor sq, sk, sv, so;       // N*T*D      projected tokens
  Tensor hidden;               // [N, T, mlp_dim]
  Tensor scores;               // max(T*P, T*T)
  Attention::FactoredScratch factored;  // the cross attentions' folded form (cross_attention.cpp)
};

template <class Alloc>
TwoWayTransformer::Workspace TwoWayTransformer::plan(int64_t n, int64_t t, int64_t p, Alloc&& alloc) const {
  Workspace w;
  w.big_in = alloc(Shape{n, p, dim_});
  w.big_a = alloc(Shape{n * p * cross_dim_});
  w.big_b = alloc(Shape{n * p * cross_dim_});
  w.small_in = alloc(Shape{n, t, dim_});
  w.small_out = alloc(Shape{n, t, dim_});
  w.sq = alloc(Shape{n * t * dim_});
  w.sk = alloc(Shape{n * t * dim_});
  w.sv = alloc(Shape{n * t * dim_});
  w.so = alloc(Shape{n * t * dim_});
  w.hidden = alloc(Shape{n, t, mlp_dim_});
  w.scores = alloc(Shape{std::max(t * p, t * t)});
  const auto f = Attention::factored_floats(n, t, dim_, cross_dim_, num_heads_, engine::thread_pool().num_threads());
  Attention::FactoredScratch& fs = w.factored;
  fs.tok_a = alloc(Shape{f[0]});
  fs.tok_b = alloc(Shape{f[0]});
  fs.blk = alloc(Shape{f[1]});
  fs.fac = alloc(Shape{f[2]});
  fs.fac2 = alloc(Shape{f[2]});
  fs.fac_t = alloc(Shape{f[3]});
  fs.cb = alloc(Shape{f[4]});
  fs.part = alloc(Shape{f[5]});
  fs.kern = alloc(Shape{f[6]});
  return w;
}

size_t TwoWayTransformer::workspace_bytes(int64_t n, int64_t t, int64_t p) const {
  size_t bytes = 0;
  plan(n, t, p, [&](const Shape& s) {
    bytes += aligned_bytes(s);
    return Tensor();
  });
  return bytes;
}

TwoWayTransformer::TwoWayTransformer(std::shared_ptr<const Weights> w, const std::string& prefix)
    : weights_(std::move(w)), prefix_(prefix) {
  engine::check(weights_ != nullptr, "TwoWayTransformer: no weights");
  const SamConfig& c = weights_->config();
  dim_ = c.prompt_embed_dim;
  mlp_dim_ = c.decoder_mlp_dim;
  num_heads_ = c.decoder_num_heads;
  const Weights& wt = *weights_;
  for (int i = 0; i < c.decoder_depth; ++i) {
    const std::string p = prefix + ".layers." + std::to_string(i);
    Block b;
    // TwoWayAttentionBlock.__init__: self-attention without downsampling, the
    // two cross attentions with attention_downsample_rate; MLPBlock with ReLU
    // (TwoWayTransformer's default activation, which build_sam keeps).
    b.self_attn = Attention(wt, p + ".self_attn", dim_, c.decoder_num_heads, 1);
    b.cross_attn_token_to_image =
        Attention(wt, p + ".cross_attn_token_to_image", dim_, c.decoder_num_heads, c.attention_downsample_rate);
    b.cross_attn_image_to_token =
        Attention(wt, p + ".cross_attn_image_to_token", dim_, c.decoder_num_heads, c.attention_downsample_rate);
    b.norm1 = NormWeights(wt, p + ".norm1");
    b.norm2 = NormWeights(wt, p + ".norm2");
    b.norm3 = NormWeights(wt, p + ".norm3");
    b.norm4 = NormWeights(wt, p + ".norm4");
    b.lin1 = load_linear(wt, p + ".mlp.lin1");
    b.lin2 = load_linear(wt, p + ".mlp.lin2");
    b.skip_first_layer_pe = i == 0;
    layers_.push_back(b);
  }
  final_attn_token_to_image_ =
      Attention(wt, prefix + ".final_attn_token_to_image", dim_, c.decoder_num_heads, c.attention_downsample_rate);
  norm_final_attn_ = NormWeights(wt, prefix + ".norm_final_attn");
  cross_dim_ = final_attn_token_to_image_.internal_dim();
}

TwoWayTransformer::FirstLayerCache TwoWayTransformer::precompute_first_layer(const Tensor& src0,
                                                                             const Tensor& key_pe) const {
  engine::check(!layers_.empty() && src0.shape() == key_pe.shape() && src0.rank() == 2 && src0.dim(1) == dim_ &&
                    src0.is_contiguous() && key_pe.is_contiguous(),
                "TwoWayTransformer: first-layer keys {} / PE {}", src0.shape().str(), key_pe.shape().str());
  // Same arithmetic as block_forward: k = keys + key_pe; k_proj(k); v_proj(keys);
  // the image-to-token queries are the same k = keys + key_pe.
  Tensor k = Tensor::empty(DType::F32, src0.shape());
  add(k, src0, key_pe);
  const Block& b = layers_.front();
  return {b.cross_attn_token_to_image.project_kv(k, src0), b.cross_attn_image_to_token.project_q(k)};
}

void TwoWayTransformer::block_forward(const Block& b, const std::string& path, const Tensor& query_pe,
                                      const Tensor& key_pe, Tensor& queries, Tensor& keys, const Workspace& ws,
                                      Tracer* t, const FirstLayerCache* cache, const Attention::Taps* taps) const {
  const int64_t n = queries.dim(0), nt = queries.dim(1), np = keys.dim(1);
  Tensor small_in = view(ws.small_in, {n, nt, dim_});
  Tensor small_out = view(ws.small_out, {n, nt, dim_});
  Tensor big_in = view(ws.big_in, {n, np, dim_});
  const Attention::Scratch tokens_only{ws.sq, ws.sk, ws.sv, ws.so, ws.scores};
  const Attention::Scratch token_to_image{ws.sq, ws.big_a, ws.big_b, ws.so, ws.scores};
  const Attention::Scratch image_to_token{ws.big_a, ws.sk, ws.sv, ws.big_b, ws.scores};

  // Self attention block. The first layer skips the PE and the residual:
  // queries = self_attn(q=queries, k=queries, v=queries).
  if (b.skip_first_layer_pe) {
    b.self_attn.forward(queries, queries, queries, small_out, tokens_only, t, detail::subpath(t, path, ".self_attn"));
    queries.copy_from(small_out);
  } else {
    add(small_in, queries, query_pe);  // q = queries + query_pe
    b.self_attn.forward(small_in, small_in, queries, small_out, tokens_only, t, detail::subpath(t, path, ".self_attn"));
    add(queries, queries, small_out);
  }
  layer_norm_(queries, b.norm1);
  detail::trace_sub(t, path, ".norm1", queries);

  // Cross attention block, tokens attending to the image embedding. Without a
  // Tracer that wants the modules' tensors, the folded form (no [P, Di]
  // projections); the first layer's projections may come from the cache.
  const bool folded = (t == nullptr || !t->needs_tensors()) && b.cross_attn_image_to_token.can_fold();
  add(small_in, queries, query_pe);  // q = queries + query_pe
  if (folded) {
    b.cross_attn_token_to_image.token_to_image(small_in, keys, key_pe, small_out, ws.factored,
                                               cache ? &cache->kv : nullptr);
    trace(t, detail::subpath(t, path, ".cross_attn_token_to_image"), small_out);
  } else {
    add_broadcast(big_in, keys, key_pe);  // k = keys + key_pe
    b.cross_attn_token_to_image.forward(small_in, big_in, keys, small_out, token_to_image, t,
                                        detail::subpath(t, path, ".cross_attn_token_to_image"),
                                        cache ? &cache->kv : nullptr);
  }
  add(queries, queries, small_out);
  layer_norm_(queries, b.norm2);
  detail::trace_sub(t, path, ".norm2", queries);

  // MLP block: lin2(act(lin1(queries))), act = ReLU.
  Tensor hidden = view(ws.hidden, {n, nt, mlp_dim_});
  b.lin1.forward(queries, hidden);
  detail::trace_sub(t, path, ".mlp.lin1", hidden);
  relu_(hidden);
  detail::trace_sub(t, path, ".mlp.act", hidden);
  b.lin2.forward(hidden, small_out);
  detail::trace_sub(t, path, ".mlp.lin2", small_out);
  detail::trace_sub(t, path, ".mlp", small_out);
  add(queries, queries, small_out);
  layer_norm_(queries, b.norm3);
  detail::trace_sub(t, path, ".norm3", queries);

  // Cross attention block, image embedding attending to the tokens:
  // cross_attn_image_to_token(q=keys + key_pe, k=queries + query_pe, v=queries).
  // keys have not changed since the token-to-image block, so big_in still holds
  // keys + key_pe. The attention output overwrites it (consumed by q_proj first).
  add(small_in, queries, query_pe);
  if (folded) {
    b.cross_attn_image_to_token.image_to_token(keys, key_pe, small_in, queries, b.norm4, kLayerNormEps, ws.factored,
                                               cache ? &cache->q : nullptr, taps);
  } else {
    if (taps) engine::fail("{}: image-side taps need the folded cross attentions", path);
    b.cross_attn_image_to_token.forward(big_in, small_in, queries, big_in, image_to_token, t,
                                        detail::subpath(t, path, ".cross_attn_image_to_token"));
    add(keys, keys, big_in);
    layer_norm_(keys, b.norm4);
  }
  detail::trace_sub(t, path, ".norm4", keys);
  detail::trace_sub(t, path, ".0", queries);
  detail::trace_sub(t, path, ".1", keys);
}

void TwoWayTransformer::forward(const Tensor& point_embedding, const Tensor& key_pe, Tensor& queries, Tensor& keys,
                                engine::Arena& arena, Tracer* t, const FirstLayerCache* first_layer,
                                const Attention::Taps* taps) const {
  if (!(point_embedding.rank() == 3 && point_embedding.dim(2) == dim_ && point_embedding.is_contiguous()))
    engine::fail("TwoWayTransformer: point_embedding must be contiguous [N, T, {}], got {}", dim_,
                 point_embedding.shape().str());
  const int64_t n = point_embedding.dim(0), nt = point_embedding.dim(1);
  if (!(keys.rank() == 3 && keys.dim(0) == n && keys.dim(2) == dim_ && keys.is_contiguous()))
    engine::fail("TwoWayTransformer: keys must be contiguous [{}, P, {}], got {}", n, dim_, keys.shape().str());
  const int64_t np = keys.dim(1);
  if (!(key_pe.numel() == np * dim_ && key_pe.is_contiguous()))
    engine::fail("TwoWayTransformer: key_pe {} for {} tokens", key_pe.shape().str(), np);
  if (!(queries.shape() == point_embedding.shape() && queries.is_contiguous()))
    engine::fail("TwoWayTransformer: queries {} for point_embedding {}", queries.shape().str(),
                 point_embedding.shape().str());
  const Workspace ws = plan(n, nt, np, [&](const Shape& s) { return arena.tensor(DType::F32, s); });

  // queries = point_embedding; keys = image_embedding (already token layout).
  queries.copy_from(point_embedding);
  const int64_t j = static_cast<int64_t>(num_heads_) * nt;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Attention::Taps layer_taps;
    if (taps) {
      const int64_t l = static_cast<int64_t>(i);
      layer_taps = {taps->probs + l * j, taps->ldprobs, taps->stats + l * n * np * 2, taps->u + l * n * j * dim_};
    }
    block_forward(layers_[i], detail::subpath(t, prefix_, ".layers.", static_cast<int>(i)), point_embedding, key_pe,
                  queries, keys, ws, t, i == 0 ? first_layer : nullptr, taps ? &layer_taps : nullptr);
  }

  // Final attention layer from the points to the image:
  // queries = norm_final_attn(queries + final_attn(q=queries + pe, k=keys + key_pe, v=keys)).
  Tensor small_in = view(ws.small_in, {n, nt, dim_});
  Tensor small_out = view(ws.small_out, {n, nt, dim_});
  Tensor big_in = view(ws.big_in, {n, np, dim_});
  add(small_in, queries, point_embedding);
  if ((t == nullptr || !t->needs_tensors()) && final_attn_token_to_image_.can_fold()) {
    final_attn_token_to_image_.token_to_image(small_in, keys, key_pe, small_out, ws.factored);
    trace(t, detail::subpath(t, prefix_, ".final_attn_token_to_image"), small_out);
  } else {
    add_broadcast(big_in, keys, key_pe);
    final_attn_token_to_image_.forward(small_in, big_in, keys, small_out,
                                       {ws.sq, ws.big_a, ws.big_b, ws.so, ws.scores}, t,
                                       detail::subpath(t, prefix_, ".final_attn_token_to_image"));
  }
  add(queries, queries, small_out);
  layer_norm_(queries, norm_final_attn_);
  detail::trace_sub(t, prefix_, ".norm_final_attn", queries);
  detail::trace_sub(t, prefix_, ".0", queries);
  detail::trace_sub(t, prefix_, ".1", keys);
}

}  // namespace sam
