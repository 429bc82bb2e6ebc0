// TinyViTEncoder's forward pass, mirroring mobile_sam/modeling/tiny_vit_sam.py:
//
//   PatchEmbed.forward       -> conv2d (seq.0, + GELU), conv2d (seq.2)        [channels-last]
//   MBConv.forward           -> mbconv_forward(): conv1 (+GELU), dw conv2 (+GELU), conv3 + shortcut, GELU
//   PatchMerging.forward     -> merging_forward(): conv1 (+GELU), dw conv2 (+GELU), conv3
//   TinyViTBlock.forward     -> block_forward(): pad + window partition, Attention
//                               (norm, qkv, bias attention, proj), window reverse + crop
//                               + residual, local_conv, x + Mlp(x)
//   TinyViT.forward_features -> forward(), then the neck (neck_forward()) as ImageEncoderViT's
//
// The official ConvLayer works on [B, C, H, W] and BasicLayer on [B, L, C]; both
// are [H, W, C] row-major here (L = H * W tokens), so a 1x1 conv and a Linear are the
// same GEMM over tokens. Traced tensors are views in the official layouts.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "engine/error.h"
#include "engine/ops/bias_attention.h"
#include "engine/ops/conv.h"
#include "engine/ops/rows.h"
#include "engine/thread_pool.h"
#include "sam/modeling/tiny_vit_encoder.h"

namespace sam {
namespace {

using engine::DType;
using engine::Shape;
using engine::Tensor;

constexpr float kLayerNormEps = 1e-5f;  // nn.LayerNorm's default (Attention.norm, Mlp.norm)

constexpr size_t kAlign = engine::kTensorAlignment;
size_t aligned_bytes(size_t floats) { return (floats * sizeof(float) + kAlign - 1) / kAlign * kAlign; }

Tensor view(float* p, const Shape& shape) { return Tensor::from_blob(p, DType::F32, shape); }
// [H, W, C] channels-last viewed as the official [1, C, H, W].
Tensor nchw_view(float* p, int64_t res, int64_t c) { return view(p, {1, res, res, c}).permute({0, 3, 1, 2}); }
// [H, W, C] as the official tokens [1, L, C].
Tensor tokens_view(float* p, int64_t res, int64_t c) { return view(p, {1, res * res, c}); }

// Window partition of x [R, R, C] into windows [nW, ws*ws, C], R padded to a multiple of
// ws (F.pad then view / transpose / reshape in TinyViTBlock.forward) with zeros, or with
// copies of pad_row [C] when given.
void window_partition(const float* x, int res, int c, int ws, float* windows, const float* pad_row = nullptr) {
  const int side = (res + ws - 1) / ws;
  engine::thread_pool().parallel_for(0, int64_t{side} * side * ws, 8, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t win = r / ws, wy = win / side, wx = win % side, y = wy * ws + r % ws;
      float* dst = windows + r * ws * c;
      const int64_t valid = y < res ? std::clamp<int64_t>(res - wx * ws, 0, ws) : 0;
      if (valid > 0) std::memcpy(dst, x + (y * res + wx * ws) * c, size_t(valid * c) * sizeof(float));
      if (!pad_row) {
        std::fill(dst + valid * c, dst + int64_t{ws} * c, 0.f);
        continue;
      }
      for (int64_t i = valid; i < ws; ++i) std::memcpy(dst + i * c, pad_row, size_t(c) * sizeof(float));
    }
  });
}

// Window reverse and crop: windows [nW, ws*ws, C] -> x [R, R, C] (the padding dropped).
void window_reverse(const float* windows, int res, int c, int ws, float* x) {
  const int side = (res + ws - 1) / ws;
  engine::thread_pool().parallel_for(0, res, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t y = lo; y < hi; ++y)
      for (int64_t wx = 0; wx < side; ++wx) {
        const int64_t win = (y / ws) * side + wx, n = std::min<int64_t>(ws, res - wx * ws);
        std::memcpy(x + (y * res + wx * ws) * c, windows + (win * ws + y % ws) * ws * c, size_t(n * c) * sizeof(float));
      }
  });
}

// Window reverse, crop of the padding, and the block's residual: x += windows (in grid order).
void window_reverse_add(const float* windows, int res, int c, int ws, float* x) {
  const int side = (res + ws - 1) / ws;
  engine::thread_pool().parallel_for(0, res, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t y = lo; y < hi; ++y)
      for (int64_t wx = 0; wx < side; ++wx) {
        const int64_t win = (y / ws) * side + wx, n = std::min<int64_t>(ws, res - wx * ws);
        engine::ops::add_serial(x + (y * res + wx * ws) * c, windows + (win * ws + y % ws) * ws * c, n * c);
      }
  });
}

engine::ops::ConvShape conv_shape(int res, const TinyViTEncoder::Conv& cv) {
  engine::ops::ConvShape s;
  s.h = s.w = res;
  s.k = cv.k;
  s.stride = cv.stride;
  s.pad = cv.k / 2;
  return s;
}

size_t padded_tokens(int res, int ws) {
  const size_t side = size_t((res + ws - 1) / ws);
  return side * side * size_t(ws) * size_t(ws);
}

}  // namespace

// Regions of the workspace arena (sizes: make_plan()).
struct TinyViTEncoder::Buffers {
  float* x = nullptr;    // [tokens, C] the stage's activations
  float* y = nullptr;    // the same size: the block's other activation buffer
  float* big1 = nullptr;  // hidden / qkv / patch-embed intermediate
  float* big2 = nullptr;  // hidden / windows / the input image (HWC)
  float* tmp = nullptr;   // [tokens, C] (epilogues without fused GEMM support)
};

TinyViTEncoder::Plan TinyViTEncoder::make_plan() const {
  const size_t s = size_t(config_.img_size);
  Plan p;
  p.big1 = (s / 2) * (s / 2) * size_t(embed0_.cout);  // patch_embed.seq.0 output
  p.big2 = s * s * 3;                                 // the input image, channels-last
  for (const Stage& st : stages_) {
    const size_t n = size_t(st.res) * st.res, c = size_t(st.dim);
    p.act = std::max({p.act, n * c, size_t(st.out_res) * st.out_res * st.out_dim});
    for (const MBConv& m : st.mbconv) {  // hidden activations before / after the depthwise conv
      p.big1 = std::max(p.big1, n * size_t(m.conv1.cout));
      p.big2 = std::max(p.big2, n * size_t(m.conv1.cout));
    }
    if (!st.blocks.empty()) {  // qkv of the padded windows | MLP hidden; windows / attention output
      const size_t t = padded_tokens(st.res, st.window);
      p.big1 = std::max({p.big1, t * 3 * c, n * size_t(st.blocks[0].fc1.out_features())});
      p.big2 = std::max({p.big2, t * 3 * c, n * c});
    }
    if (st.has_downsample) {
      p.big1 = std::max(p.big1, n * size_t(st.out_dim));
      p.big2 = std::max(p.big2, size_t(st.out_res) * st.out_res * st.out_dim);
    }
  }
  const size_t g = size_t(out_grid_) * out_grid_ * size_t(out_dim_);  // the neck: activations, im2col columns
  p.act = std::max(p.act, g);
  p.big1 = std::max(p.big1, g);
  p.big2 = std::max(p.big2, 9 * g);
  return p;
}

size_t TinyViTEncoder::plan_bytes() const {
  return aligned_bytes(plan_.act) * 3 + aligned_bytes(plan_.big1) + aligned_bytes(plan_.big2) + kAlign;
}

EncoderWorkspace TinyViTEncoder::make_workspace() const {
  EncoderWorkspace ws;
  ws.set_threads(engine::thread_pool().num_threads());
  ws.arena().reserve(plan_bytes());
  return ws;
}

void TinyViTEncoder::linear(const engine::ops::Linear& l, const float* x, int64_t rows, float* y, bool accumulate,
                            bool gelu, float* tmp) const {
  if (l.fused_epilogues()) {
    l.forward_rows(x, rows, y, accumulate, gelu);
    return;
  }
  if (accumulate) {
    l.forward_rows(x, rows, tmp);
    engine::ops::add_rows(y, tmp, rows * l.out_features());
  } else {
    l.forward_rows(x, rows, y);
  }
  if (gelu) engine::ops::gelu_rows(y, rows * l.out_features());
}

Tensor TinyViTEncoder::forward(Tensor x, EncoderWorkspace& ws, Tracer* tracer) const {
  const int64_t s = config_.img_size;
  engine::check(x.dtype() == DType::F32 && x.rank() == 4 && x.dim(0) == 1 && x.dim(1) == 3 && x.dim(2) == s &&
                    x.dim(3) == s,
                "image encoder: input must be f32 [1, 3, {}, {}], got {} {}", s, s, engine::dtype_name(x.dtype()),
                x.shape().str());
  engine::Arena& arena = ws.arena();
  arena.reset();
  if (arena.capacity() < plan_bytes()) arena.reserve(plan_bytes());
  auto take = [&](size_t n) { return static_cast<float*>(arena.allocate(n * sizeof(float))); };
  Buffers b;
  b.x = take(plan_.act);
  b.y = take(plan_.act);
  b.tmp = take(plan_.act);
  b.big1 = take(plan_.big1);
  b.big2 = take(plan_.big2);

  // PatchEmbed: [1, 3, S, S] -> HWC image (big2) -> seq.0 + GELU (big1) -> seq.2 (x).
  {
    const float* src = x.data<float>();
    const int64_t sc = x.stride(1), sy = x.stride(2), sx = x.stride(3);
    float* img = b.big2;
    engine::thread_pool().parallel_for(0, s, 8, [&](int64_t lo, int64_t hi) {
      for (int64_t yy = lo; yy < hi; ++yy)
        for (int64_t xx = 0; xx < s; ++xx)
          for (int64_t c = 0; c < 3; ++c) img[(yy * s + xx) * 3 + c] = src[c * sc + yy * sy + xx * sx];
    });
  }
  x = Tensor();
  const engine::ops::ConvShape e0 = conv_shape(static_cast<int>(s), embed0_);
  engine::ops::conv2d(b.big2, 3, embed0_.cout, e0, embed0_.weight.data(), embed0_.bias.data(), true, b.big1);
  const engine::ops::ConvShape e1 = conv_shape(e0.out_h(), embed1_);
  engine::ops::conv2d(b.big1, embed1_.cin, embed1_.cout, e1, embed1_.weight.data(), embed1_.bias.data(), false, b.x);
  trace(tracer, "image_encoder.patch_embed", nchw_view(b.x, e1.out_h(), embed1_.cout));

  float* cur = b.x;
  float* other = b.y;
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Stage& st = stages_[i];
    const std::string pre = fmt::format("image_encoder.layers.{}", i);
    for (size_t j = 0; j < st.mbconv.size(); ++j) {
      const std::string path = tracer ? fmt::format("{}.blocks.{}", pre, j) : "";
      mbconv_forward(st, st.mbconv[j], cur, b, tracer, path);
      if (tracer) trace(tracer, path, nchw_view(cur, st.res, st.dim));
    }
    for (size_t j = 0; j < st.blocks.size(); ++j)
      block_forward(st, st.blocks[j], cur, other, b, tracer, tracer ? fmt::format("{}.blocks.{}", pre, j) : "");
    if (st.has_downsample) {
      Buffers bb = b;
      bb.x = cur;
      merging_forward(st, cur, bb);
      if (tracer) trace(tracer, pre + ".downsample", tokens_view(cur, st.out_res, st.out_dim));
    }
    if (tracer) {
      // ConvLayer without a downsample would stay [B, C, H, W]; every layer but the last has one.
      trace(tracer, pre, tokens_view(cur, st.out_res, st.out_dim));
    }
  }
  Tensor out = Tensor::empty(DType::F32, {1, out_dim_, out_grid_, out_grid_});
  neck_.forward(cur, out_grid_, /*y1=*/b.big1, /*y2=*/b.tmp, /*cols=*/b.big2, out, tracer);
  trace(tracer, "image_encoder", out);
  return out;
}

// MBConv: x = GELU(conv3(GELU(conv2(GELU(conv1(x))))) + x), in place on x [R*R, C]; the GELUs
// run in the GEMM epilogues and the depthwise kernel.
void TinyViTEncoder::mbconv_forward(const Stage& s, const MBConv& m, float* x, const Buffers& b, Tracer* tracer,
                                    const std::string& path) const {
  const int64_t n = int64_t{s.res} * s.res;
  const bool timing_marks = tracer && !tracer->needs_tensors();
  if ((!tracer || timing_marks) && convs_by_strips(m.conv1, m.conv2, m.conv3, s.res, x, /*residual=*/true, b)) {
    if (timing_marks) trace(tracer, path + " (conv1 + act1, conv2 + act2, conv3 + shortcut + act3 by row strips)",
                            nchw_view(x, s.res, s.dim));
    return;
  }
  linear(m.conv1.linear, x, n, b.big1, false, true, b.tmp);
  if (timing_marks) trace(tracer, path + ".conv1 (+ act1)", nchw_view(b.big1, s.res, m.conv1.cout));
  engine::ops::depthwise_conv2d(b.big1, m.conv2.cout, conv_shape(s.res, m.conv2), m.conv2.weight.data(),
                                m.conv2.bias.data(), true, b.big2);
  if (timing_marks) trace(tracer, path + ".conv2 (+ act2)", nchw_view(b.big2, s.res, m.conv2.cout));
  linear(m.conv3.linear, b.big2, n, x, /*accumulate=*/true, /*gelu=*/true, b.tmp);  // act3(conv3 + shortcut)
  if (timing_marks) trace(tracer, path + ".conv3 (+ shortcut, act3)", nchw_view(x, s.res, s.dim));
}

// conv1 (1x1, + GELU) -> depthwise conv2 (+ GELU) -> conv3 (1x1) on x [R, R, C], streamed
// through in strips of kStripRows output rows so that the hidden activations [rows, R, C1]
// stay in cache instead of going to memory and back twice per conv. MBConv (residual: x +=,
// then GELU, rows in place) and PatchMerging (x = conv3, [R', R', D] over x's start) share it.
// b.big1 holds the conv1 rows the strip's depthwise conv reads, b.big2 its output rows; the
// conv1 rows shared with the next strip move to the top of big1 instead of being recomputed.
// Returns false, having done nothing, when conv3 would overwrite an x row that conv1 has not
// read yet (output rows wider than the input rows they replace).
bool TinyViTEncoder::convs_by_strips(const Conv& c1, const Conv& c2, const Conv& c3, int res, float* x, bool residual,
                                     const Buffers& b) const {
  const engine::ops::ConvShape dw = conv_shape(res, c2);
  const int out_res = dw.out_h();
  const int64_t row_in = int64_t{res} * c1.cin, row_hidden = int64_t{res} * c1.cout, row_out = int64_t{out_res} * c3.cout;
  const auto input_rows = [&](int o0, int o1) {  // x rows [first, end) that output rows [o0, o1) read
    return std::pair{std::max(0, o0 * dw.stride - dw.pad), std::min(res, (o1 - 1) * dw.stride - dw.pad + dw.k)};
  };
  for (int o0 = 0; o0 < out_res; o0 += kStripRows) {
    const int o1 = std::min(out_res, o0 + kStripRows);
    if (o1 * row_out > int64_t{input_rows(o0, o1).second} * row_in) return false;
  }
  int lo = 0, hi = 0;  // big1 holds conv1 rows [lo, hi)
  for (int o0 = 0; o0 < out_res; o0 += kStripRows) {
    const int o1 = std::min(out_res, o0 + kStripRows);
    const auto [need_lo, need_hi] = input_rows(o0, o1);
    if (need_lo > lo) {  // keep rows [need_lo, hi) shared with the previous strip
      const int keep = std::max(0, hi - need_lo);
      std::memmove(b.big1, b.big1 + (hi - keep - lo) * row_hidden, size_t(keep * row_hidden) * sizeof(float));
      lo = need_lo;
      hi = std::max(hi, need_lo);
    }
    linear(c1.linear, x + hi * row_in, int64_t{need_hi - hi} * res, b.big1 + (hi - lo) * row_hidden, false, true,
           b.tmp);
    hi = need_hi;
    engine::ops::depthwise_conv2d_rows(b.big1, lo, c1.cout, dw, c2.weight.data(), c2.bias.data(), true, o0, o1,
                                       b.big2);
    linear(c3.linear, b.big2, int64_t{o1 - o0} * out_res, x + o0 * row_out, /*accumulate=*/residual,
           /*gelu=*/residual, b.tmp);
  }
  return true;
}

// PatchMerging: x [R*R, C] -> conv1 + GELU -> dw conv2 (stride) + GELU -> conv3 -> x [R'*R', D].
void TinyViTEncoder::merging_forward(const Stage& s, float* x, const Buffers& b) const {
  const PatchMerging& m = s.downsample;
  if (convs_by_strips(m.conv1, m.conv2, m.conv3, s.res, x, /*residual=*/false, b)) return;
  const int64_t n = int64_t{s.res} * s.res, n_out = int64_t{s.out_res} * s.out_res;
  linear(m.conv1.linear, x, n, b.big1, false, true, b.tmp);
  engine::ops::depthwise_conv2d(b.big1, m.conv2.cout, conv_shape(s.res, m.conv2), m.conv2.weight.data(),
                                m.conv2.bias.data(), true, b.big2);
  linear(m.conv3.linear, b.big2, n_out, x, false, false, b.tmp);
}

// TinyViTBlock.forward on x [R*R, C]; the result ends in x (x and y swap).
void TinyViTEncoder::block_forward(const Stage& s, const Block& blk, float*& x, float*& y, const Buffers& b,
                                   Tracer* tracer, const std::string& path) const {
  const int res = s.res, c = s.dim, ws = s.window, hd = c / s.heads;
  const int64_t n = int64_t{res} * res;
  const int side = (res + ws - 1) / ws;
  const bool timing_marks = tracer && !tracer->needs_tensors();
  const Shape win_shape{int64_t{side} * side, int64_t{ws} * ws, c};
  const float scale = static_cast<float>(std::pow(double(hd), -0.5));  // key_dim ** -0.5
  if (!tracer || timing_marks) {
    // Fast path: norm, qkv and proj on the R*R real tokens only. A padding token is zeros
    // before attn.norm, so its norm output is attn.norm.bias and its qkv the constant row
    // qkv(attn.norm.bias) (Block::qkv_pad_row); only the attention itself runs on windows.
    engine::ops::layer_norm_rows(x, b.big2, n, c, blk.attn_norm_w, blk.attn_norm_b, kLayerNormEps);
    if (timing_marks) trace(tracer, path + ".attn.norm (grid)", tokens_view(b.big2, res, c));
    linear(blk.qkv, b.big2, n, b.big1, false, false, b.tmp);
    if (timing_marks) trace(tracer, path + ".attn.qkv (grid)", tokens_view(b.big1, res, 3 * c));
    window_partition(b.big1, res, 3 * c, ws, b.big2, blk.qkv_pad_row.data());
    if (timing_marks) trace(tracer, path + " (window partition of qkv)", view(b.big2, {win_shape[0], win_shape[1], 3 * c}));
    engine::ops::bias_attention(b.big2, side * side, ws * ws, s.heads, hd, scale, blk.attention_bias.data(), b.big1);
    if (timing_marks) trace(tracer, path + ".attn (core: softmax(q k^T * scale + ab) v)", view(b.big1, win_shape));
    window_reverse(b.big1, res, c, ws, y);
    linear(blk.proj, y, n, x, /*accumulate=*/true, false, b.tmp);  // x = res_x + proj(attention)
    if (timing_marks) trace(tracer, path + ".attn.proj (grid, + residual)", tokens_view(x, res, c));
  } else {
    attention_traced(s, blk, x, b, tracer, path);
  }
  // local_conv on [B, C, H, W] (x viewed so), then x + mlp(x).
  const Conv& lc = blk.local_conv;
  engine::ops::depthwise_conv2d(x, c, conv_shape(res, lc), lc.weight.data(), lc.bias.data(), false, y);
  if (tracer) trace(tracer, path + ".local_conv", nchw_view(y, res, c));
  engine::ops::layer_norm_rows(y, b.big2, n, c, blk.mlp_norm_w, blk.mlp_norm_b, kLayerNormEps);
  if (timing_marks) trace(tracer, path + ".mlp.norm", tokens_view(b.big2, res, c));
  linear(blk.fc1, b.big2, n, b.big1, false, true, b.tmp);
  if (timing_marks) trace(tracer, path + ".mlp.fc1 (+ act)", tokens_view(b.big1, res, blk.fc1.out_features()));
  linear(blk.fc2, b.big1, n, y, true, false, b.tmp);
  std::swap(x, y);
  if (tracer) trace(tracer, path, tokens_view(x, res, c));
}

// The Attention of TinyViTBlock as the official code runs it, for a tracer that wants its
// output (the projected windows [nW, ws*ws, C]): on the zero-padded windows, whose norm sees
// the padding too; then window reverse + crop + the residual into x.
void TinyViTEncoder::attention_traced(const Stage& s, const Block& blk, float* x, const Buffers& b, Tracer* tracer,
                                      const std::string& path) const {
  const int res = s.res, c = s.dim, ws = s.window, hd = c / s.heads;
  const int64_t t = static_cast<int64_t>(padded_tokens(res, ws));
  const int side = (res + ws - 1) / ws;
  const Shape win_shape{int64_t{side} * side, int64_t{ws} * ws, c};
  const float scale = static_cast<float>(std::pow(double(hd), -0.5));  // key_dim ** -0.5
  window_partition(x, res, c, ws, b.big2);
  engine::ops::layer_norm_rows(b.big2, b.big2, t, c, blk.attn_norm_w, blk.attn_norm_b, kLayerNormEps);
  linear(blk.qkv, b.big2, t, b.big1, false, false, b.tmp);
  engine::ops::bias_attention(b.big1, side * side, ws * ws, s.heads, hd, scale, blk.attention_bias.data(), b.big2);
  linear(blk.proj, b.big2, t, b.big1, false, false, b.tmp);
  trace(tracer, path + ".attn", view(b.big1, win_shape));
  window_reverse_add(b.big1, res, c, ws, x);  // x = res_x + attn
}

}  // namespace sam
