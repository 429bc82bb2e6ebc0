// SAM's two-way transformer: segment_anything/modeling/transformer.py
// (TwoWayTransformer, TwoWayAttentionBlock, Attention) and MLPBlock from
// modeling/common.py, mirrored one to one in token layout:
//   queries (sparse tokens)  [N, T, D]     N prompt sets, T tokens each
//   keys    (image tokens)   [N, P, D]     P = G*G, row = y*G + x (flatten(2).permute(0, 2, 1))
//   key_pe  (dense PE)       [P, D]        shared by all prompt sets
// Every projection is a GEMM over all rows of the batch; attention is two GEMMs
// per (prompt set, head). Scratch comes from a caller-provided Arena, allocated
// once per forward and reused by every layer; no heap allocation per layer.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "engine/arena.h"
#include "engine/tensor.h"
#include "engine/thread_pool.h"
#include "engine/ops.h"
#include "engine/ops/linear.h"
#include "sam/tracer.h"
#include "sam/io/weights.h"

namespace sam {

// nn.Linear weights (views into Weights).
// nn.Linear `prefix`.weight / `prefix`.bias of the model, packed once.
engine::ops::Linear load_linear(const Weights& w, const std::string& prefix);

// nn.LayerNorm / LayerNorm2d weights.
struct NormWeights {
  const engine::Tensor* weight = nullptr;
  const engine::Tensor* bias = nullptr;
  NormWeights() = default;
  NormWeights(const Weights& w, const std::string& prefix);
};

// Helpers shared by the decoder files (transformer.cpp, mask_decoder.cpp).
// The forward passes allocate nothing from the heap, hence the forms below.
namespace detail {
// fn(begin, end) over blocks of [0, rows) on engine::thread_pool(), at least
// ~16k elements (rows x cols) per block. The job handed to the pool captures
// one pointer, so std::function keeps it inline (no allocation).
template <class F>
void parallel_rows(int64_t rows, int64_t cols, const F& fn) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1));
  engine::ThreadPool& pool = engine::thread_pool();
  const int64_t chunks = std::min<int64_t>(std::max<int64_t>(rows / grain, 1), pool.num_threads());
  if (chunks <= 1) {
    if (rows > 0) fn(int64_t{0}, rows);
    return;
  }
  struct Job {
    const F* fn;
    int64_t rows, chunks;
  } job{&fn, rows, chunks};
  pool.run([j = &job](int index, int) {
    if (index >= j->chunks) return;
    const int64_t lo = j->rows * index / j->chunks, hi = j->rows * (index + 1) / j->chunks;
    if (lo < hi) (*j->fn)(lo, hi);
  });
}
// Row-parallel forms of the single-threaded engine ops for the decoder's large
// activations; each block is one op call on contiguous rows, so the results
// are bit-identical to a single call.
void layer_norm_(engine::Tensor& x, const NormWeights& w, float eps);  // x: contiguous [..., C]
void gelu_(engine::Tensor& x);                                         // x: contiguous
void softmax_(engine::Tensor& x);                                      // x: contiguous [R, C], over C
// Tensor::select without its heap-allocated temporaries.
engine::Tensor select(const engine::Tensor& x, int dim, int64_t index);
// Trace paths are only built when tracing.
inline void trace_sub(Tracer* t, const std::string& base, const char* suffix, const engine::Tensor& x) {
  if (t) t->record(base + suffix, x);
}
// base + suffix (+ index when >= 0), or "" when not tracing.
inline std::string subpath(Tracer* t, const std::string& base, const char* suffix, int index = -1) {
  if (!t) return std::string();
  return index < 0 ? base + suffix : base + suffix + std::to_string(index);
}
}  // namespace detail

// modeling/transformer.py: Attention. q/k/v projections to internal_dim =
// embedding_dim / downsample_rate, heads split, softmax(q k^T / sqrt(head_dim)) v,
// heads recombined, out_proj back to embedding_dim.
class Attention {
 public:
  Attention() = default;
  Attention(const Weights& w, const std::string& prefix, int embedding_dim, int num_heads, int downsample_rate);
  int internal_dim() const { return internal_dim_; }

  // Scratch for one call: flat f32 buffers of at least q: N*Nq*Di, k and v:
  // N*Nk*Di, o: N*Nq*Di, scores: Nq*Nk floats.
  struct Scratch {
    engine::Tensor q, k, v, o, scores;
  };
  // q [N, Nq, D], k and v [N, Nk, D] (contiguous) -> out [N, Nq, D]. `out` may
  // alias q, k or v: they are fully consumed by the projections before out_proj
  // writes. Traced as `path`.{q_proj,k_proj,v_proj,out_proj} and `path`.
  // With `kv` (k_proj(k) and v_proj(v) computed beforehand, [Nk, Di], the same
  // for every prompt set) k and v are not read and the projections are skipped.
  struct Projected {
    engine::Tensor k, v;
  };
  void forward(const engine::Tensor& q, const engine::Tensor& k, const engine::Tensor& v, engine::Tensor& out,
               const Scratch& s, Tracer* t, const std::string& path, const Projected* kv = nullptr) const;
  // k_proj(k), v_proj(v) for k, v [Nk, D] -> new tensors [Nk, Di].
  Projected project_kv(const engine::Tensor& k, const engine::Tensor& v) const;
  // q_proj(q) for q [Nq, D] -> a new tensor [Nq, Di].
  engine::Tensor project_q(const engine::Tensor& q) const;

  // The cross attentions with the image-side projections folded into the
  // token side (kernels/two_way_attention.h; cross_attention.cpp). Same maths
  // as forward(), other summation order; no [P, Di] projection of the image
  // tokens is formed, each image token is read once per attention.
  struct FactoredScratch {
    engine::Tensor tok_a, tok_b;  // [N*T, Di]   token projections
    engine::Tensor blk;           // [N*J, Di]   block-diagonal token projections (J = heads * T)
    engine::Tensor fac, fac2;     // [N*J, D]    folded factors / values through out_proj
    engine::Tensor fac_t;         // [D, Jp]     factors of one prompt set, transposed and scaled
    engine::Tensor cb;            // [Jp]        score bias of one prompt set
    engine::Tensor part;          // per worker: [J, D] partial sums + m, l [J]
    engine::Tensor kern;          // per worker: kernel scratch
  };
  // Floats of each FactoredScratch buffer for n prompt sets of t tokens
  // (embedding dim D, `workers` threads), in the order of the struct.
  static std::array<int64_t, 8> factored_floats(int64_t n, int64_t t, int64_t d, int64_t di, int heads, int workers);

  // True for the cross attentions (downsample_rate != 1), which keep the
  // transposed weights the folded form needs.
  bool can_fold() const { return wq_t_.defined(); }
  // Token-to-image: out [N, T, D] = attention(q = q_tokens [N, T, D],
  // k = keys [N, P, D] + key_pe [P, D], v = keys).
  // cached_kv: k_proj(keys + key_pe) and v_proj(keys), [P, Di] when keys are the
  // same for every prompt set or [N, P, Di] one per set; then keys and key_pe
  // are not read, and the attention runs head by head on the cached columns.
  void token_to_image(const engine::Tensor& q_tokens, const engine::Tensor& keys, const engine::Tensor& key_pe,
                      engine::Tensor& out, const FactoredScratch& s, const Projected* cached_kv = nullptr) const;
  // Image-to-token, with the block's residual add and LayerNorm:
  // keys = norm(keys + attention(q = keys + key_pe, k = k_tokens, v = v_tokens)).
  // cached_q: q_proj(keys + key_pe), [P, Di] when keys are the same for every
  // prompt set (the first layer without mask input) or [N, P, Di] one per set;
  // then key_pe is not read.
  // taps: where to also put what the image tokens received, or null (one layer's
  // view; TwoWayTransformer::forward spreads one over its layers).
  struct Taps {
    float* probs = nullptr;  // [N, P, ldprobs]: the softmax weights, column h*T + t (J = heads*T of them)
    int64_t ldprobs = 0;
    float* stats = nullptr;  // [N, P, 2]: norm's mean and 1/sqrt(var + eps) per image token
    float* u = nullptr;      // [N*J, D]: head h's values through out_proj (no bias), row (n*heads + h)*T + t
  };
  void image_to_token(engine::Tensor& keys, const engine::Tensor& key_pe, const engine::Tensor& k_tokens,
                      const engine::Tensor& v_tokens, const NormWeights& norm, float eps, const FactoredScratch& s,
                      const engine::Tensor* cached_q = nullptr, const Taps* taps = nullptr) const;

 private:
  engine::ops::Linear q_proj_, k_proj_, v_proj_, out_proj_;
  // x [rows, Di] @ W [Di, D] (no bias) for W = q_proj / k_proj weight: the
  // transposes [D, Di] as linears of their own (packed), cross attentions only.
  engine::ops::Linear wq_t_, wk_t_;
  int num_heads_ = 0;
  int internal_dim_ = 0;
};

// modeling/transformer.py: TwoWayTransformer (with its TwoWayAttentionBlocks).
class TwoWayTransformer {
 public:
  // `prefix` is the module path, "mask_decoder.transformer" in SAM.
  TwoWayTransformer(std::shared_ptr<const Weights> w, const std::string& prefix = "mask_decoder.transformer");

  // Prompt-independent part of the first layer: when every prompt set starts
  // from the same keys src0 [P, D] (no mask input: image + no_mask_embed), the
  // first cross_attn_token_to_image projections k_proj(src0 + key_pe) and
  // v_proj(src0) are the same for all of them and for every call on the image,
  // and so is the image-to-token q_proj(src0 + key_pe).
  // (MaskDecoder also builds one per prompt set, [N, P, Di], for mask inputs.)
  struct FirstLayerCache {
    Attention::Projected kv;  // cross_attn_token_to_image: k_proj(src0 + key_pe), v_proj(src0)
    engine::Tensor q;         // cross_attn_image_to_token: q_proj(src0 + key_pe)
  };
  FirstLayerCache precompute_first_layer(const engine::Tensor& src0, const engine::Tensor& key_pe) const;

  int depth() const { return static_cast<int>(layers_.size()); }
  int num_heads() const { return num_heads_; }
  // Arena bytes forward() takes for n prompt sets of t tokens over p image tokens.
  size_t workspace_bytes(int64_t n, int64_t t, int64_t p) const;

  // TwoWayTransformer.forward(image_embedding, image_pe, point_embedding):
  //   point_embedding [N, T, D]   the tokens (also the query PE of every layer)
  //   key_pe          [P, D]      image_pe in token layout (broadcast over N)
  //   queries         [N, T, D]   output: the processed tokens (official return value 0)
  //   keys            [N, P, D]   in: image_embedding (src) in token layout; out: the
  //                               processed image tokens (official return value 1)
  // Scratch is taken from `arena` (at least workspace_bytes(N, T, P) free) and
  // left allocated; the caller resets the arena between passes. Tracer paths are
  // official: prefix.layers.K.<module>, prefix.layers.K.{0,1}, prefix.final_attn_token_to_image.*,
  // prefix.norm_final_attn and prefix.{0,1}. Traced tensors are arena views that
  // later layers overwrite: a Tracer must copy what it keeps.
  // `first_layer`: precompute_first_layer() of the keys every prompt set starts
  // from (the caller guarantees that they do); saves two [P, D] GEMMs per set.
  // `taps`: each layer's image-to-token attention as the image tokens received it,
  //   keys_{l+1} = norm4_l(keys_l + probs_l u_l + out_proj.bias),
  // probs_l [N, P, J] and u_l [N*J, D] (J = heads * T) with the norm's statistics
  // (MaskDecoder rebuilds ConvT1 of the final keys from them). Layer l writes
  // probs + l*J (row stride ldprobs, set stride P*ldprobs), stats + l*N*P*2 and
  // u + l*N*J*D. Refused unless the cross attentions run folded.
  void forward(const engine::Tensor& point_embedding, const engine::Tensor& key_pe, engine::Tensor& queries,
               engine::Tensor& keys, engine::Arena& arena, Tracer* t = nullptr,
               const FirstLayerCache* first_layer = nullptr, const Attention::Taps* taps = nullptr) const;

 private:
  struct Block {  // TwoWayAttentionBlock
    Attention self_attn, cross_attn_token_to_image, cross_attn_image_to_token;
    NormWeights norm1, norm2, norm3, norm4;
    engine::ops::Linear lin1, lin2;  // MLPBlock(D, mlp_dim, ReLU)
    bool skip_first_layer_pe = false;
  };
  struct Workspace;
  template <class Alloc>
  Workspace plan(int64_t n, int64_t t, int64_t p, Alloc&& alloc) const;
  void block_forward(const Block& b, const std::string& path, const engine::Tensor& query_pe,
                     const engine::Tensor& key_pe, engine::Tensor& queries, engine::Tensor& keys, const Workspace& ws,
                     Tracer* t, const FirstLayerCache* cache, const Attention::Taps* taps) const;

  std::shared_ptr<const Weights> weights_;
  std::string prefix_;
  int dim_ = 0;
  int mlp_dim_ = 0;
  int num_heads_ = 0;
  int cross_dim_ = 0;  // internal dim of the cross attentions
  std::vector<Block> layers_;
  Attention final_attn_token_to_image_;
  NormWeights norm_final_attn_;
};

}  // namespace sam
