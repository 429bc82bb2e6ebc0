// Mirrors segment_anything/modeling/image_encoder.py (ImageEncoderViT) with
// MLPBlock and LayerNorm2d from modeling/common.py. Function by function:
//
//   PatchEmbed.forward        -> patch_embed(): gather 16x16 patches, one GEMM
//   Block.forward             -> ImageEncoderViT::block_forward()
//   window_partition          -> window_partition() (zero padding to a multiple of ws)
//   Attention.forward         -> qkv linear + engine::ops::attention_relpos() + proj linear
//   get_rel_pos / add_decomposed_rel_pos -> inside engine::ops::attention_relpos() (the fused
//                                         kernel, or the unfused path with SAM_ATTENTION=unfused)
//   window_unpartition        -> window_unpartition_add() (crop, fused with the residual)
//   MLPBlock.forward          -> lin1, engine::ops::gelu_rows(), lin2
//   ImageEncoderViT.neck      -> EncoderNeck::forward() (encoder_neck.h, shared with TinyViT)
//
// Layout: everything between patch embedding and the neck is channels-last,
// [G, G, C] tokens (row-major [N = G*G, C]), exactly the official BHWC tensors
// with B = 1, so a linear layer is one GEMM over all tokens and every traced
// tensor is a plain view. Window attention works on [nW, ws, ws, C] (the output
// of window_partition), again row-major [nW*ws*ws, C].
#include "sam/modeling/image_encoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "engine/error.h"
#include "engine/runtime.h"
#include "engine/ops.h"
#include "engine/thread_pool.h"
#include "engine/ops/attention_relpos.h"
#include "engine/ops/rows.h"

namespace sam {
namespace {

using engine::DType;
using engine::Shape;
using engine::Tensor;

// nn.LayerNorm(eps=1e-6) in build_sam.py.
constexpr float kBlockNormEps = 1e-6f;

constexpr size_t kAlign = engine::kTensorAlignment;
size_t aligned_bytes(size_t floats) { return (floats * sizeof(float) + kAlign - 1) / kAlign * kAlign; }

// A borrowed f32 view of arena memory.
Tensor view(float* p, const Shape& shape) { return Tensor::from_blob(p, DType::F32, shape); }

// [1, G, G, C] view of channels-last activations viewed as the official NCHW
// module output [1, C, G, G] (LayerNorm2d / Conv2d outputs of the neck).
Tensor nchw_view(float* p, int64_t g, int64_t c) { return view(p, {1, g, g, c}).permute({0, 3, 1, 2}); }

// A weight of the model. Its shape is the schema's (expected_weights below,
// declared once), checked when the file was opened (ModelFile::open); what is
// left to check here is the layout the kernels read.
const Tensor& weight(const Weights& w, const std::string& name) {
  const Tensor& t = w.get(name);
  engine::check(t.dtype() == DType::F32 && t.is_contiguous(), "image encoder: {} must be contiguous f32", name);
  return t;
}

// A block's linear weight: bf16 as stored when the runtime packs bf16 panels (no
// f32 copy is ever made), else f32 (f16 / bf16 files widened once).
const Tensor& linear_weight(const Weights& w, const std::string& name) {
  const Tensor& t = w.stored(name);
  if (engine::runtime_options().precision == engine::Precision::Bf16 && t.dtype() == DType::BF16 &&
      t.is_contiguous())
    return t;
  return weight(w, name);
}

// nn.Linear / a conv as GEMM: the weight packed once (engine::ops::Linear), in
// the runtime's precision (RuntimeOptions::precision: bf16 panels for AMX /
// AVX512-BF16); a packed weight's mapped original (`name`, when the weight is
// a view of it) is then dropped from RSS (so is one oneDNN copied; the OpenBLAS
// baseline keeps reading it).
engine::ops::Linear make_linear(const sam::Weights& weights, const std::string& name, const Tensor& w,
                                const Tensor* bias) {
  engine::ops::Linear l(w, bias ? std::optional<Tensor>(*bias) : std::nullopt, engine::runtime_options().precision);
  if (l.owns_weight_copy()) {
    l.drop_source_weight();
    weights.release(name);
  }
  return l;
}

// --- PatchEmbed ------------------------------------------------------------------

// PatchEmbed.forward: Conv2d(3, C, kernel = stride = p) + permute to BHWC.
// A stride-p, kernel-p conv is a GEMM over non-overlapping patches: cols[t] holds
// patch t = (gy, gx) in the conv weight's (cin, ky, kx) order, so
// out[N, C] = cols[N, 3*p*p] @ W[C, 3*p*p]^T + b is already [1, G, G, C].
void gather_patches(const Tensor& img, int grid, int p, float* cols) {
  const float* src = img.data<float>();
  const int64_t sc = img.stride(1), sy = img.stride(2), sx = img.stride(3);
  const int64_t k = 3LL * p * p;
  engine::thread_pool().parallel_for(0, int64_t{grid} * grid, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t gy = t / grid, gx = t % grid;
      float* dst = cols + t * k;
      for (int c = 0; c < 3; ++c)
        for (int ky = 0; ky < p; ++ky) {
          const float* row = src + c * sc + (gy * p + ky) * sy + gx * p * sx;
          for (int kx = 0; kx < p; ++kx) *dst++ = row[kx * sx];
        }
    }
  });
}

// --- window_partition / window_unpartition ----------------------------------------

// window_partition: x [G, G, C] -> windows [nW, ws, ws, C], nW = (Gp/ws)^2 with
// Gp = G rounded up to a multiple of ws; the padding (F.pad after norm1) is zeros.
void window_partition(const float* x, int grid, int dim, int ws, float* windows) {
  const int nw_side = (grid + ws - 1) / ws;
  const int64_t rows = int64_t{nw_side} * nw_side * ws;  // one (window, row-in-window) each
  engine::thread_pool().parallel_for(0, rows, 8, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t win = r / ws, wy = win / nw_side, wx = win % nw_side, iy = r % ws;
      const int64_t y = wy * ws + iy;
      float* dst = windows + r * ws * dim;
      const int64_t valid = y < grid ? std::clamp<int64_t>(grid - wx * ws, 0, ws) : 0;
      if (valid > 0) std::memcpy(dst, x + (y * grid + wx * ws) * dim, static_cast<size_t>(valid * dim) * sizeof(float));
      std::fill(dst + valid * dim, dst + int64_t{ws} * dim, 0.f);
    }
  });
}

// window_unpartition (crop of the padding) fused with Block's residual:
// x[y, x] += windows[window of (y, x), position in window].
void window_unpartition_add(const float* windows, int grid, int dim, int ws, float* x) {
  const int nw_side = (grid + ws - 1) / ws;
  engine::thread_pool().parallel_for(0, grid, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t y = lo; y < hi; ++y)
      for (int64_t wx = 0; wx < nw_side; ++wx) {
        const int64_t win = (y / ws) * nw_side + wx;
        const int64_t n = std::min<int64_t>(ws, grid - wx * ws);
        const float* src = windows + ((win * ws) + y % ws) * ws * dim;
        engine::ops::add_serial(x + (y * grid + wx * ws) * dim, src, n * dim);
      }
  });
}

}  // namespace

// --- construction -------------------------------------------------------------------

ImageEncoderViT::ImageEncoderViT(std::shared_ptr<const Weights> weights) : weights_(std::move(weights)) {
  engine::check(weights_ != nullptr, "image encoder: no weights");
  config_ = weights_->config();
  const SamConfig& c = config_;
  const Weights& w = *weights_;
  grid_ = c.embedding_grid();
  dim_ = c.encoder_embed_dim;
  heads_ = c.encoder_num_heads;
  hidden_ = dim_ * c.mlp_ratio;  // MLPBlock(mlp_dim = int(dim * mlp_ratio))
  out_dim_ = c.prompt_embed_dim;
  const int64_t g = grid_, C = dim_, p = c.patch_size, D = out_dim_;
  engine::check(grid_ > 0 && c.img_size == grid_ * c.patch_size && heads_ > 0 && dim_ % heads_ == 0,
                "image encoder: unsupported config {}", c.name);
  const int64_t hd = C / heads_;

  const Tensor patch_w = weight(w, "image_encoder.patch_embed.proj.weight").reshape({C, 3 * p * p});
  const Tensor& patch_b = weight(w, "image_encoder.patch_embed.proj.bias");
  pos_embed_ = weight(w, "image_encoder.pos_embed");

  for (int i = 0; i < c.encoder_depth; ++i) {
    const std::string pre = fmt::format("image_encoder.blocks.{}.", i);
    BlockWeights b;
    b.window = c.is_global_block(i) ? 0 : c.window_size;
    engine::check(c.is_global_block(i) || c.window_size > 0, "image encoder: block {} has window size {}", i,
                  c.window_size);
    b.norm1_w = weight(w, pre + "norm1.weight");
    b.norm1_b = weight(w, pre + "norm1.bias");
    b.qkv = make_linear(w, pre + "attn.qkv.weight", linear_weight(w, pre + "attn.qkv.weight"),
                        &weight(w, pre + "attn.qkv.bias"));
    b.proj = make_linear(w, pre + "attn.proj.weight", linear_weight(w, pre + "attn.proj.weight"),
                         &weight(w, pre + "attn.proj.bias"));
    // get_rel_pos: max_rel_dist = 2 * max(q_size, k_size) - 1 with q_size = k_size =
    // the window (or the grid for global blocks), the schema's shape: the official
    // interpolation of rel_pos for other lengths is never needed.
    b.rel_pos_h = weight(w, pre + "attn.rel_pos_h");
    b.rel_pos_w = weight(w, pre + "attn.rel_pos_w");
    b.norm2_w = weight(w, pre + "norm2.weight");
    b.norm2_b = weight(w, pre + "norm2.bias");
    b.lin1 = make_linear(w, pre + "mlp.lin1.weight", linear_weight(w, pre + "mlp.lin1.weight"),
                         &weight(w, pre + "mlp.lin1.bias"));
    b.lin2 = make_linear(w, pre + "mlp.lin2.weight", linear_weight(w, pre + "mlp.lin2.weight"),
                         &weight(w, pre + "mlp.lin2.bias"));
    blocks_.push_back(std::move(b));
  }

  patch_ = make_linear(w, "image_encoder.patch_embed.proj.weight", patch_w, &patch_b);
  neck_ = EncoderNeck(w, C, D);

  // Token counts the attention runs on: N for global blocks, nW*ws*ws (padded) for windowed ones.
  const size_t n = static_cast<size_t>(g * g);
  attn_tokens_ = n;
  for (const BlockWeights& b : blocks_) {
    const int side = b.window > 0 ? b.window : grid_;
    if (b.window > 0) {
      const size_t nw_side = static_cast<size_t>((grid_ + b.window - 1) / b.window);
      window_tokens_ = std::max(window_tokens_, nw_side * nw_side * static_cast<size_t>(b.window * b.window));
    }
    scratch_floats_ = std::max(scratch_floats_, engine::ops::attention_relpos_scratch_floats(side, side, static_cast<int>(hd)));
  }
  attn_tokens_ = std::max(attn_tokens_, window_tokens_);

}

void ImageEncoderViT::expected_weights(const SamConfig& c, std::vector<WeightSpec>& out) {
  WeightListBuilder b;
  const int64_t C = c.encoder_embed_dim, G = c.embedding_grid(), P = c.patch_size, D = c.prompt_embed_dim;
  b.add("image_encoder.pos_embed", {1, G, G, C});
  b.add("image_encoder.patch_embed.proj.weight", {C, 3, P, P});
  b.add("image_encoder.patch_embed.proj.bias", {C});
  const int64_t head_dim = C / c.encoder_num_heads;
  for (int i = 0; i < c.encoder_depth; ++i) {
    const std::string p = fmt::format("image_encoder.blocks.{}", i);
    const int64_t rel = c.is_global_block(i) ? 2 * G - 1 : 2 * c.window_size - 1;  // Attention.rel_pos_h/w
    b.norm(p + ".norm1", C);
    // state_dict order: a module's own parameters before its children's.
    b.add(p + ".attn.rel_pos_h", {rel, head_dim});
    b.add(p + ".attn.rel_pos_w", {rel, head_dim});
    b.linear(p + ".attn.qkv", C, 3 * C);
    b.linear(p + ".attn.proj", C, C);
    b.norm(p + ".norm2", C);
    b.linear(p + ".mlp.lin1", C, C * c.mlp_ratio);
    b.linear(p + ".mlp.lin2", C * c.mlp_ratio, C);
  }
  EncoderNeck::expected_weights(b, C, D);
  out.insert(out.end(), b.out.begin(), b.out.end());
}

EncoderWorkspace ImageEncoderViT::make_workspace() const {
  EncoderWorkspace ws;
  ws.set_threads(engine::thread_pool().num_threads());
  ws.arena().reserve(plan_bytes(plan(windows_in_place(nullptr), false), ws.threads()));
  return ws;
}

bool ImageEncoderViT::windows_in_place(const Tracer* tracer) const {
  // block_forward's fast path for windowed blocks: fused epilogues (no tracer
  // wanting the modules' tensors) and the fused attention kernel.
  if ((tracer != nullptr && tracer->needs_tensors()) || !engine::ops::use_fused_attention()) return false;
  return std::all_of(blocks_.begin(), blocks_.end(), [](const BlockWeights& b) { return b.proj.fused_epilogues(); });
}

// The arena layout of one forward pass (see Buffers in the header). Sizes in floats:
//   x        N*C                     residual stream
//   xn       T*C                     norm outputs; the attention's projected output
//   win      (in ctx)                window_partition output (Nw = nW*ws*ws >= N), dead once qkv exists
//   big      max(T*3C, N*3p^2, N*9D, rows*hidden)  qkv | patch cols | neck im2col | MLP hidden chunk
//   ctx      max(T*C, 2*N*D)         per-head attention results | neck activations
//   scratch  threads * max over attention kinds (global, windowed) of the per-worker need:
//            fused: table().attention_relpos_scratch_floats(side, side, head_dim)
//            (packed K^T and V, ~2*T*hd, plus per-block tiles), unfused: rb*T + rb*(4*side - 2)
// where T is the token count attention runs on: N, or Nw when windows are partitioned.
ImageEncoderViT::Plan ImageEncoderViT::plan(bool in_place, bool whole_mlp) const {
  const size_t n = static_cast<size_t>(grid_) * grid_, c = static_cast<size_t>(dim_);
  const size_t p = static_cast<size_t>(config_.patch_size), d = static_cast<size_t>(out_dim_);
  const size_t h = static_cast<size_t>(hidden_);
  Plan r;
  r.tokens = in_place ? n : attn_tokens_;
  // The MLP hidden gets what the other users of `big` need, but at least 1024
  // rows (a wide MLP is not cut into slivers), or all N rows when traced.
  const size_t others = std::max({r.tokens * 3 * c, n * 3 * p * p, n * 9 * d});
  const size_t rows = whole_mlp ? n : std::clamp<size_t>(others / h, std::min<size_t>(n, 1024), n);
  const size_t chunks = (n + rows - 1) / rows;  // balanced: ceil(n / chunks) rows each
  r.mlp_rows = static_cast<int64_t>((n + chunks - 1) / chunks);
  r.big = std::max(others, static_cast<size_t>(r.mlp_rows) * h);
  r.ctx = std::max(r.tokens * c, 2 * n * d);
  return r;
}

size_t ImageEncoderViT::plan_bytes(const Plan& p, int threads) const {
  const size_t n = static_cast<size_t>(grid_) * grid_, c = static_cast<size_t>(dim_);
  return aligned_bytes(n * c) + aligned_bytes(p.tokens * c) + aligned_bytes(p.big) + aligned_bytes(p.ctx) +
         aligned_bytes(scratch_floats_) * static_cast<size_t>(std::max(threads, 1)) + kAlign;
}

// --- forward ------------------------------------------------------------------------

// ImageEncoderViT.forward: patch_embed -> + pos_embed -> blocks -> neck(x.permute(0, 3, 1, 2)).
Tensor ImageEncoderViT::forward(Tensor x, EncoderWorkspace& ws, Tracer* tracer) const {
  const int64_t s = config_.img_size, g = grid_, C = dim_, n = g * g;
  engine::check(x.dtype() == DType::F32 && x.rank() == 4 && x.dim(0) == 1 && x.dim(1) == 3 && x.dim(2) == s &&
                    x.dim(3) == s,
                "image encoder: input must be f32 [1, 3, {}, {}], got {} {}", s, s, engine::dtype_name(x.dtype()),
                x.shape().str());

  // The attention scratch is per pool thread; a larger pool (set_num_threads
  // between passes) needs a larger reservation, made here once.
  // A tracer that wants the modules' tensors needs the partitioned windows and
  // the whole MLP hidden: a larger arena, reserved here when first needed.
  engine::Arena& arena = ws.arena();
  arena.reset();
  const int threads = engine::thread_pool().num_threads();
  const Plan pl = plan(windows_in_place(tracer), tracer != nullptr && tracer->needs_tensors());
  if (threads > ws.threads() || arena.capacity() < plan_bytes(pl, ws.threads())) {
    ws.set_threads(std::max(threads, ws.threads()));
    arena.reserve(plan_bytes(pl, ws.threads()));
  }
  auto take = [&](size_t floats) { return static_cast<float*>(arena.allocate(floats * sizeof(float))); };
  Buffers buf;
  const size_t un = static_cast<size_t>(n), uc = static_cast<size_t>(C);
  buf.x = take(un * uc);
  buf.xn = take(pl.tokens * uc);
  buf.big = take(pl.big);
  buf.ctx = take(pl.ctx);
  buf.tokens = pl.tokens;
  buf.mlp_rows = pl.mlp_rows;
  buf.win = buf.ctx;  // the partitioned windows are dead once qkv exists, before ctx is written
  buf.scratch_floats = aligned_bytes(scratch_floats_) / sizeof(float);
  buf.scratch = take(buf.scratch_floats * static_cast<size_t>(threads));

  // PatchEmbed: conv as GEMM -> [1, G, G, C] (the official output, already BHWC).
  gather_patches(x, grid_, config_.patch_size, buf.big);
  x = Tensor();  // the caller's input may go now (when it was moved in)
  patch_.forward_rows(buf.big, n, buf.x);
  if (tracer) {
    trace(tracer, "image_encoder.patch_embed.proj", nchw_view(buf.x, g, C));
    trace(tracer, "image_encoder.patch_embed", view(buf.x, {1, g, g, C}));
  }
  // x = x + self.pos_embed ([1, G, G, C], same layout).
  engine::ops::add_rows(buf.x, pos_embed_.data<float>(), n * C);

  for (int i = 0; i < static_cast<int>(blocks_.size()); ++i) block_forward(i, buf.x, buf, tracer);

  Tensor out = Tensor::empty(DType::F32, {1, out_dim_, g, g});
  neck_.forward(buf.x, g, buf.ctx, buf.ctx + n * out_dim_, buf.big, out, tracer);
  trace(tracer, "image_encoder", out);
  return out;
}

// Block.forward on x [1, G, G, C] (in place):
//   shortcut = x; x = norm1(x); [window_partition]; x = attn(x); [window_unpartition];
//   x = shortcut + x; x = x + mlp(norm2(x))
void ImageEncoderViT::block_forward(int index, float* x, const Buffers& buf, Tracer* tracer) const {
  const BlockWeights& b = blocks_[static_cast<size_t>(index)];
  const int64_t g = grid_, C = dim_, n = g * g;
  const std::string path = tracer ? fmt::format("image_encoder.blocks.{}", index) : std::string();

  // norm1 -> xn [1, G, G, C]
  engine::ops::layer_norm_rows(x, buf.xn, n, C, b.norm1_w, b.norm1_b, kBlockNormEps);
  if (tracer) trace(tracer, path + ".norm1", view(buf.xn, {1, g, g, C}));

  // Without a tracer, the residual adds and GELU are fused into the GEMMs'
  // epilogues (the traced layer outputs are then never materialised).
  const bool fused = (tracer == nullptr || !tracer->needs_tensors()) && b.proj.fused_epilogues();
  // A timing-only tracer also gets marks for the stages with no official
  // module of their own (their outputs are not official layer outputs), so
  // that each row of a per-layer time table holds what its name says.
  const bool timing_marks = tracer && !tracer->needs_tensors();
  const int ws = b.window;
  const int64_t nw_side = ws > 0 ? (g + ws - 1) / ws : 1;
  const int64_t nwin = nw_side * nw_side, side = ws > 0 ? ws : g;

  engine::ops::AttentionRelPosCall a;
  a.ctx = buf.ctx;
  a.windows = static_cast<int>(nwin);
  a.h = a.w = static_cast<int>(side);
  a.dim = dim_;
  a.heads = heads_;
  a.rel_pos_h = &b.rel_pos_h;
  a.rel_pos_w = &b.rel_pos_w;
  a.scratch = buf.scratch;
  a.scratch_floats = buf.scratch_floats;
  a.qkv = buf.big;

  // Windowed blocks, fast path: the fused kernel reads each window in place from the
  // grid's qkv and writes ctx in grid order, so qkv and proj run on the G*G real
  // tokens only (not the nW*ws*ws padded ones: 4900 vs 4096 rows at vit's 64 / 14) and
  // window_partition / window_unpartition disappear. The padding tokens' keys and
  // values are what the qkv linear gives a zero row: its bias, exactly.
  if (ws > 0 && fused && engine::ops::use_fused_attention()) {
    b.qkv.forward_rows(buf.xn, n, buf.big);
    if (timing_marks) trace(tracer, path + ".attn.qkv (in grid order)", view(buf.big, {1, g, g, 3 * C}));
    a.grid_side = static_cast<int>(g);
    a.qkv_bias = b.qkv.bias()->data<float>();
    engine::ops::attention_relpos(a);
    if (timing_marks) trace(tracer, path + ".attn (core, windows in place)", view(buf.ctx, {1, g, g, C}));
    b.proj.forward_rows(buf.ctx, n, x, /*accumulate=*/true);  // x = shortcut + proj
    if (timing_marks) trace(tracer, path + ".attn.proj (+ residual)", view(x, {1, g, g, C}));
  } else {
    // Attention input: windows [nW, ws, ws, C] (zero padded, in ctx's memory) or the whole
    // grid [1, G, G, C] (xn). The projected attention output goes to xn either way.
    const int64_t tokens = nwin * side * side;
    engine::check(static_cast<size_t>(tokens) <= buf.tokens, "image encoder: {} attention tokens planned, {} needed",
                  buf.tokens, tokens);
    float* attn_io = buf.xn;
    if (ws > 0) {
      window_partition(buf.xn, grid_, dim_, ws, buf.win);
      attn_io = buf.win;
    }
    const Shape attn_shape{nwin, side, side, C};  // official Attention input/output shape

    // Attention.forward: qkv = self.qkv(x) -> [nW, ws, ws, 3C]
    b.qkv.forward_rows(attn_io, tokens, buf.big);
    if (tracer) trace(tracer, path + ".attn.qkv", view(buf.big, {nwin, side, side, 3 * C}));
    engine::ops::attention_relpos(a);
    if (timing_marks) trace(tracer, path + ".attn (core: softmax(q k^T + rel pos) v)", view(buf.ctx, attn_shape));
    // x = self.proj(x)
    if (fused && ws == 0) {
      b.proj.forward_rows(buf.ctx, tokens, x, /*accumulate=*/true);  // x = shortcut + proj
      if (timing_marks) trace(tracer, path + ".attn.proj (+ residual)", view(x, {1, g, g, C}));
    } else {
      // (into xn: with windows, attn_io is ctx's memory, which proj reads)
      b.proj.forward_rows(buf.ctx, tokens, buf.xn);
      if (tracer) {
        trace(tracer, path + ".attn.proj", view(buf.xn, attn_shape));
        trace(tracer, path + ".attn", view(buf.xn, attn_shape));
      }
      // window_unpartition + crop, then x = shortcut + x.
      if (ws > 0)
        window_unpartition_add(buf.xn, grid_, dim_, ws, x);
      else
        engine::ops::add_rows(x, buf.xn, n * C);
      if (timing_marks) trace(tracer, path + " (window unpartition + residual)", view(x, {1, g, g, C}));
    }
  }

  mlp_forward(b, x, buf, tracer, path, fused);
}

// Block: x = x + self.mlp(self.norm2(x)); MLPBlock: lin2(act(lin1(x))).
void ImageEncoderViT::mlp_forward(const BlockWeights& b, float* x, const Buffers& buf, Tracer* tracer,
                                  const std::string& path, bool fused) const {
  const int64_t g = grid_, C = dim_, n = g * g;
  const bool timing_marks = tracer && !tracer->needs_tensors();
  engine::ops::layer_norm_rows(x, buf.xn, n, C, b.norm2_w, b.norm2_b, kBlockNormEps);
  if (tracer) trace(tracer, path + ".norm2", view(buf.xn, {1, g, g, C}));
  float* hidden = buf.big;
  if (fused) {
    // Row chunks of the hidden (rows are independent: the same results as one pass).
    const int64_t rows = std::min(buf.mlp_rows, n);
    for (int64_t r0 = 0; r0 < n; r0 += rows) {
      const int64_t m = std::min(rows, n - r0);
      b.lin1.forward_rows(buf.xn + r0 * C, m, hidden, false, /*gelu=*/true);
      if (timing_marks && m == n) trace(tracer, path + ".mlp.lin1 (+ GELU)", view(hidden, {1, g, g, hidden_}));
      b.lin2.forward_rows(hidden, m, x + r0 * C, /*accumulate=*/true);  // x = x + mlp(...)
    }
    if (timing_marks)
      trace(tracer, path + (rows == n ? ".mlp.lin2 (+ residual)" : ".mlp (lin1 + GELU, lin2 + residual, in row chunks)"),
            view(x, {1, g, g, C}));
    return;
  }
  engine::check(buf.mlp_rows >= n, "image encoder: the traced MLP needs all {} hidden rows", n);
  b.lin1.forward_rows(buf.xn, n, hidden);
  if (tracer) trace(tracer, path + ".mlp.lin1", view(hidden, {1, g, g, hidden_}));
  engine::ops::gelu_rows(hidden, n * hidden_);
  if (tracer) trace(tracer, path + ".mlp.act", view(hidden, {1, g, g, hidden_}));
  b.lin2.forward_rows(hidden, n, buf.xn);
  if (tracer) {
    trace(tracer, path + ".mlp.lin2", view(buf.xn, {1, g, g, C}));
    trace(tracer, path + ".mlp", view(buf.xn, {1, g, g, C}));
  }
  engine::ops::add_rows(x, buf.xn, n * C);
  if (tracer) trace(tracer, path, view(x, {1, g, g, C}));
}

}  // namespace sam
