// Mirrors segment_anything/modeling/mask_decoder.py (MaskDecoder.forward /
// predict_masks, MLP) in token layout; see mask_decoder.h.
#include "sam/modeling/mask_decoder.h"

#include <algorithm>
#include <array>
#include <limits>
#include <numeric>
#include <string>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/runtime.h"
#include "engine/thread_pool.h"
#include "engine/ops/mask_upscale.h"
#include "engine/ops/linear.h"

namespace sam {
namespace {

using engine::DType;
using engine::Shape;
using engine::Tensor;

constexpr float kLayerNorm2dEps = 1e-6f;  // modeling/common.py: LayerNorm2d
// The factored ConvT1's coefficients of one batch at most this big (else ConvT1 as such):
// 64 prompt sets of one point (the AMG's points_per_batch) take 123 MB, beside their
// 268 MB of keys.
constexpr int64_t kFoldBudgetBytes = int64_t{128} << 20;

size_t aligned_bytes(const Shape& s) {
  const size_t b = static_cast<size_t>(s.numel()) * sizeof(float);
  return (b + engine::kTensorAlignment - 1) / engine::kTensorAlignment * engine::kTensorAlignment;
}

Tensor view(const Tensor& buf, const Shape& shape) {
  if (shape.numel() > buf.numel())
    engine::fail("mask decoder scratch: {} does not fit in {} floats", shape.str(), buf.numel());
  return Tensor::from_blob(buf.raw_data(), DType::F32, shape);
}

void relu_(Tensor& x) {
  // x may be a row-strided view ([rows, cols], last dim contiguous).
  const int64_t rows = x.dim(0), cols = x.dim(1), ld = x.stride(0);
  float* p = x.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) p[r * ld + c] = std::max(p[r * ld + c], 0.f);
}

// ConvTranspose2d(k=2, s=2) weight [Cin, Cout, 2, 2] -> GEMM matrix [4*Cout, Cin]
// (row (a*2+b)*Cout + co) and bias [Cout] -> [4*Cout]: one input pixel row
// times the matrix gives its 2x2 output pixels, each Cout wide, in (a, b) order.
void convt2x2_as_linear(const Tensor& w, const Tensor& bias, Tensor& wt, Tensor& bt) {
  engine::check(w.rank() == 4 && w.dim(2) == 2 && w.dim(3) == 2 && w.is_contiguous() && bias.numel() == w.dim(1),
                "output_upscaling: ConvTranspose2d weight {}", w.shape().str());
  const int64_t cin = w.dim(0), cout = w.dim(1);
  wt = Tensor::empty(DType::F32, {4 * cout, cin});
  bt = Tensor::empty(DType::F32, {4 * cout});
  const float* src = w.data<float>();
  for (int64_t ab = 0; ab < 4; ++ab)
    for (int64_t co = 0; co < cout; ++co) {
      for (int64_t ci = 0; ci < cin; ++ci)
        wt.data<float>()[(ab * cout + co) * cin + ci] = src[(ci * cout + co) * 4 + ab];
      bt.data<float>()[ab * cout + co] = bias.data<float>()[co];
    }
}

// Scatters `channels` values per row of a sub-pixel ordered pixel list into an
// NCHW plane stack dst [channels, side, side], side = g * 2^levels (levels 1
// or 2). After `levels` ConvTranspose2d(k2, s2) steps done as GEMMs, row
//   (i*g + j) * 4^L + s,   s = (2*a1 + b1) * 4^(L-1) + ... + (2*aL + bL)
// holds output pixel y = 2^L i + 2^(L-1) a1 + ... + aL, x = 2^L j + 2^(L-1) b1 + ... + bL.
// value(row, c) = src[row * rs + c * cs].
void subpixel_to_nchw(const float* src, int64_t rs, int64_t cs, int64_t channels, int64_t g, int levels, float* dst) {
  const int64_t f = int64_t{1} << levels, side = g * f, sub = f * f;
  std::array<int64_t, 16> off{};  // offset of sub-pixel s inside its f x f output block
  for (int64_t s = 0; s < sub; ++s) {
    int64_t y = 0, x = 0;
    for (int k = 0; k < levels; ++k) {  // digit pairs (a, b), most significant first
      const int64_t d = (s >> (2 * (levels - 1 - k))) & 3;
      y = 2 * y + (d >> 1);
      x = 2 * x + (d & 1);
    }
    off[static_cast<size_t>(s)] = y * side + x;
  }
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < g; ++i)
      for (int64_t j = 0; j < g; ++j) {
        float* block = dst + c * side * side + i * f * side + j * f;
        const float* in = src + (i * g + j) * sub * rs + c * cs;
        for (int64_t s = 0; s < sub; ++s) block[off[static_cast<size_t>(s)]] = in[s * rs];
      }
}

// image [1, C, G, G] (any strides) -> tokens [G*G, C] (flatten(2).permute(0, 2, 1)):
// a transpose in 32 x 32 tiles so that both sides stay in cache.
void nchw_to_tokens(const Tensor& x, Tensor& out) {
  const int64_t c = x.dim(1), g = x.dim(3), p = x.dim(2) * g;
  const int64_t s1 = x.stride(1), s2 = x.stride(2), s3 = x.stride(3);
  const float* in = x.data<float>();
  float* o = out.data<float>();
  constexpr int64_t kTile = 32;
  std::array<int64_t, kTile> pix{};
  for (int64_t p0 = 0; p0 < p; p0 += kTile) {
    const int64_t pn = std::min(kTile, p - p0);
    for (int64_t i = 0; i < pn; ++i) pix[static_cast<size_t>(i)] = ((p0 + i) / g) * s2 + ((p0 + i) % g) * s3;
    for (int64_t c0 = 0; c0 < c; c0 += kTile) {
      const int64_t cn = std::min(kTile, c - c0);
      for (int64_t i = 0; i < pn; ++i) {
        const float* src = in + pix[static_cast<size_t>(i)] + c0 * s1;
        float* dst = o + (p0 + i) * c + c0;
        for (int64_t k = 0; k < cn; ++k) dst[k] = src[k * s1];
      }
    }
  }
}

// Debug-only full-batch copy of a per-prompt stage for tracing (NCHW).
struct StageTrace {
  Tensor t;  // [N, C, side, side]
  void init(bool on, int64_t n, int64_t c, int64_t side) {
    if (on) t = Tensor::empty(DType::F32, {n, c, side, side});
  }
  void put(int64_t b, const Tensor& rows, int64_t g, int levels) {
    if (!t.defined()) return;
    const int64_t c = t.dim(1);
    subpixel_to_nchw(rows.data<float>(), c, 1, c, g, levels, t.data<float>() + b * t.numel() / t.dim(0));
  }
};

}  // namespace

// Scratch of one forward pass (the transformer's own scratch follows it).
struct MaskDecoder::Workspace {
  Tensor tokens;        // [N, T, D]   cat(iou_token, mask_tokens, sparse)
  Tensor queries;       // [N, T, D]   transformer output hs
  Tensor keys;          // [N, P, D]   src = image + dense, then transformer output
  Tensor hyper;         // [N, M, D/8] hyper_in
  Tensor iou;           // [N, M]      iou_pred (all mask tokens)
  Tensor mlp_a, mlp_b;  // N * widest MLP layer
  Tensor up1;           // [4P, D/4]   output_upscaling.0-.2 of one prompt set
  Tensor up2;           // [16P, D/8]  output_upscaling.3-.4 of one prompt set
  Tensor masks;         // [M, 16P]    hyper_in @ upscaled (sub-pixel order) of one prompt set
  Tensor fused;         // per worker: scratch of the fused upscaling kernel
  int64_t fused_stride = 0;
  Tensor mask_k, mask_v, mask_q;  // [N, P, Di] first-layer projections of src with mask inputs
  // The factored ConvT1 (K coefficients per token, L transformer layers, J = heads * T):
  int64_t fold_k = 0;
  Tensor fa;     // [N, P, K]    probs_l (scaled), -R_l mean_l, R_m, R_0 h
  Tensor xs;     // [N, P]       R_0, the scale of upscale_base
  Tensor stats;  // [L, N, P, 2] norm4 mean, rstd per layer
  Tensor u;      // [L, N*J, D]  values through out_proj per layer
  Tensor fbt;    // [4*C1, K]    fb of one prompt set
  Tensor fbp;    //              fb packed
  Tensor vtmp;   // [J, 4*C1]    u_l G_l^T of one prompt set and layer
};

template <class Alloc>
MaskDecoder::Workspace MaskDecoder::plan(int64_t n, int64_t t, bool mask_features, bool fold, Alloc&& alloc) const {
  const int64_t p = static_cast<int64_t>(grid_) * grid_, m = num_mask_tokens_;
  int64_t width = iou_head_.max_width();
  for (const Mlp& h : hyper_mlps_) width = std::max(width, h.max_width());
  Workspace w;
  w.tokens = alloc(Shape{n, t, dim_});
  w.queries = alloc(Shape{n, t, dim_});
  w.keys = alloc(Shape{n, p, dim_});
  w.hyper = alloc(Shape{n, m, dim_ / 8});
  w.iou = alloc(Shape{n, m});
  w.mlp_a = alloc(Shape{n * width});
  w.mlp_b = alloc(Shape{n * width});
  w.up1 = alloc(Shape{4 * p, dim_ / 4});
  w.up2 = alloc(Shape{16 * p, dim_ / 8});
  w.masks = alloc(Shape{m, 16 * p});
  const int workers = engine::thread_pool().num_threads();
  w.fused_stride = static_cast<int64_t>(
      (engine::ops::mask_upscale_scratch_floats(grid_, dim_, dim_ / 4, dim_ / 8, m, up0_bf16_.defined()) + 15) / 16 *
      16);
  w.fused = alloc(Shape{workers * w.fused_stride});
  if (mask_features) {
    const int64_t di = mask_k_.out_features();
    w.mask_k = alloc(Shape{n, p, di});
    w.mask_v = alloc(Shape{n, p, di});
    w.mask_q = alloc(Shape{n, p, mask_q_.out_features()});
  }
  if (fold) {
    const int64_t k = fold_width(t, mask_features), layers = transformer_.depth(),
                  j = int64_t{transformer_.num_heads()} * t, n4 = up0_.out_features();
    w.fold_k = k;
    w.fa = alloc(Shape{n, p, k});
    w.xs = alloc(Shape{n, p});
    w.stats = alloc(Shape{layers, n, p, 2});
    w.u = alloc(Shape{layers, n * j, dim_});
    w.fbt = alloc(Shape{n4, k});
    w.fbp = alloc(Shape{static_cast<int64_t>(
        engine::ops::mask_upscale_packed_fb_floats(static_cast<int>(n4), static_cast<int>(k)))});
    w.vtmp = alloc(Shape{j, n4});
  }
  return w;
}

int64_t MaskDecoder::fold_width(int64_t t, bool mask_features) const {
  const int64_t layers = transformer_.depth(), j = int64_t{transformer_.num_heads()} * t;
  return layers * j + 2 * layers + 1 + (mask_features ? mask_dense_.in_features() : 0);
}

bool MaskDecoder::fold_fits(int64_t n, int64_t t, bool mask_features) const {
  const int64_t p = static_cast<int64_t>(grid_) * grid_;
  return !fold_g_.empty() && n * p * fold_width(t, mask_features) * 4 <= kFoldBudgetBytes;
}

bool MaskDecoder::can_fold(const ImageInputs& image, int64_t n, int64_t t, bool mask_features, bool src_is_known,
                           const Tracer* tr) const {
  return fold_fits(n, t, mask_features) && src_is_known && image.upscale_base.defined() &&
         image.no_mask.kv.k.defined() && !(tr && tr->needs_tensors());
}

void MaskDecoder::fold_set(const Workspace& ws, int64_t n, int64_t b, int64_t t, const Tensor* mask_features) const {
  const int64_t p = static_cast<int64_t>(grid_) * grid_, k = ws.fold_k, layers = transformer_.depth();
  const int64_t j = int64_t{transformer_.num_heads()} * t, n4 = up0_.out_features(), d = dim_;
  const int64_t mc = mask_features ? mask_dense_.in_features() : 0, c0 = layers * j;  // first constant column
  // fb^T [4*C1, K]: u_l G_l^T per layer, then the constant columns.
  float* fbt = ws.fbt.data<float>();
  float* v = ws.vtmp.data<float>();
  for (int64_t l = 0; l < layers; ++l) {
    fold_g_[static_cast<size_t>(l)].forward_rows(ws.u.data<float>() + (l * n + b) * j * d, j, v);
    for (int64_t jj = 0; jj < j; ++jj)
      for (int64_t r = 0; r < n4; ++r) fbt[r * k + l * j + jj] = v[jj * n4 + r];
  }
  const float* ones = fold_ones_.data<float>();
  const float* cst = fold_const_.data<float>();
  for (int64_t r = 0; r < n4; ++r) {
    float* row = fbt + r * k + c0;
    for (int64_t l = 0; l < layers; ++l) row[l] = ones[l * n4 + r];
    for (int64_t m = 0; m <= layers; ++m)
      row[layers + m] = (m == 0 && mask_features) ? fold_const0_mask_.data<float>()[r] : cst[m * n4 + r];
    for (int64_t c = 0; c < mc; ++c) row[2 * layers + 1 + c] = fold_mask_cols_.data<float>()[c * n4 + r];
  }
  engine::ops::mask_upscale_pack_fb(fbt, static_cast<int>(n4), static_cast<int>(k), k, ws.fbp.data<float>());

  // fa rows in place: probs_l * R_l (R_L = 1, R_l = rstd_l R_{l+1}), -R_l mean_l, R_m, R_0 h.
  const float* st = ws.stats.data<float>();
  const float* h = mask_features ? mask_features->data<float>() : nullptr;
  float* fa = ws.fa.data<float>() + b * p * k;
  float* xs = ws.xs.data<float>() + b * p;
  detail::parallel_rows(p, k, [&](int64_t begin, int64_t end) {
    std::array<double, 8> rr{};
    for (int64_t q = begin; q < end; ++q) {
      float* a = fa + q * k;
      double r = 1.0;
      rr[static_cast<size_t>(layers)] = 1.0;
      for (int64_t l = layers - 1; l >= 0; --l) rr[static_cast<size_t>(l)] = r *= st[((l * n + b) * p + q) * 2 + 1];
      for (int64_t l = 0; l < layers; ++l) {
        const float s = static_cast<float>(rr[static_cast<size_t>(l)]);
        for (int64_t jj = 0; jj < j; ++jj) a[l * j + jj] *= s;
        a[c0 + l] = static_cast<float>(-rr[static_cast<size_t>(l)] * st[((l * n + b) * p + q) * 2]);
      }
      for (int64_t m = 0; m <= layers; ++m) a[c0 + layers + m] = static_cast<float>(rr[static_cast<size_t>(m)]);
      for (int64_t c = 0; c < mc; ++c) a[c0 + 2 * layers + 1 + c] = static_cast<float>(rr[0]) * h[(b * p + q) * mc + c];
      xs[q] = static_cast<float>(rr[0]);
    }
  });
}

size_t MaskDecoder::workspace_bytes(int64_t n, int64_t s, bool mask_features, bool fold) const {
  const int64_t t = 1 + num_mask_tokens_ + s;
  size_t bytes = 0;
  plan(n, t, mask_features, fold, [&](const Shape& sh) {
    bytes += aligned_bytes(sh);
    return Tensor();
  });
  return bytes + transformer_.workspace_bytes(n, t, static_cast<int64_t>(grid_) * grid_);
}

int64_t MaskDecoder::Mlp::max_width() const {
  int64_t w = 0;
  for (const engine::ops::Linear& l : layers) w = std::max(w, l.out_features());
  return w;
}

MaskDecoder::Mlp MaskDecoder::load_mlp(const std::string& prefix, int num_layers) const {
  Mlp m;
  for (int j = 0; j < num_layers; ++j) m.layers.push_back(load_linear(*weights_, prefix + ".layers." + std::to_string(j)));
  return m;
}

void MaskDecoder::mlp_forward(const Mlp& m, const Tensor& x, Tensor& out, const Tensor& scratch_a,
                              const Tensor& scratch_b, Tracer* t, const std::string& path) const {
  // MLP.forward: x = relu(layer(x)) for all but the last layer (sigmoid_output is False in SAM).
  const int64_t rows = x.dim(0);
  Tensor in = x;
  for (size_t j = 0; j < m.layers.size(); ++j) {
    const engine::ops::Linear& l = m.layers[j];
    const bool last = j + 1 == m.layers.size();
    Tensor y = last ? out : view(j % 2 ? scratch_b : scratch_a, {rows, l.out_features()});
    l.forward(in, y);
    if (t) trace(t, path + ".layers." + std::to_string(j), y);
    if (!last) relu_(y);
    in = y;
  }
  if (t) trace(t, path, out);
}

MaskDecoder::MaskDecoder(std::shared_ptr<const Weights> w)
    : weights_(std::move(w)), transformer_(weights_, "mask_decoder.transformer") {
  const SamConfig& c = weights_->config();
  dim_ = c.prompt_embed_dim;
  grid_ = c.embedding_grid();
  num_mask_tokens_ = c.num_mask_tokens();
  no_mask_embed_ = weights_->get("prompt_encoder.no_mask_embed.weight").data<float>();
  engine::check(dim_ % 8 == 0, "MaskDecoder: transformer_dim {} not divisible by 8", dim_);
  const std::string p = "mask_decoder";

  // predict_masks: output_tokens = cat([iou_token.weight, mask_tokens.weight]).
  output_tokens_ = Tensor::empty(DType::F32, {1 + num_mask_tokens_, dim_});
  output_tokens_.slice(0, 0, 1).copy_from(weights_->get(p + ".iou_token.weight"));
  output_tokens_.slice(0, 1, 1 + num_mask_tokens_).copy_from(weights_->get(p + ".mask_tokens.weight"));

  {
    Tensor w0, b0, w3, b3;
    convt2x2_as_linear(weights_->get(p + ".output_upscaling.0.weight"), weights_->get(p + ".output_upscaling.0.bias"),
                       w0, b0);
    convt2x2_as_linear(weights_->get(p + ".output_upscaling.3.weight"), weights_->get(p + ".output_upscaling.3.bias"),
                       w3, b3);
    up0_ = engine::ops::Linear(w0, b0);
    up3_ = engine::ops::Linear(w3, b3);
    // (Only on bf16 hardware: the portable bf16 GEMM is ~2x slower than f32
    // here, so there bf16 precision keeps f32 upscaling, as it keeps f32 attention.)
    if (engine::runtime_options().precision == engine::Precision::Bf16 && up0_.packed() &&
        engine::bf16_gemm_in_hardware())
      up0_bf16_ = engine::ops::Linear(w0, b0, engine::Precision::Bf16);
  }
  {
    // dense = W6 h + b6 with h [.., mc]; src = image + dense. The first layer's
    // projections of src differ from those of src0 = image + no_mask_embed by
    // W (W6 h + b6 - no_mask_embed): products and sums in double, stored f32.
    const Tensor w6 = weights_->get("prompt_encoder.mask_downscaling.6.weight").to(DType::F32).contiguous();
    const Tensor b6 = weights_->get("prompt_encoder.mask_downscaling.6.bias").to(DType::F32).contiguous();
    const int64_t mc = w6.dim(1);
    engine::check(w6.numel() == dim_ * mc && b6.numel() == dim_, "MaskDecoder: mask_downscaling.6 is {}, not [{}, C, 1, 1]",
                  w6.shape().str(), dim_);
    mask_dense_ = engine::ops::Linear(w6.reshape({dim_, mc}), b6);
    const float* a6 = w6.data<float>();
    const float* c6 = b6.data<float>();
    auto fold = [&](const std::string& proj) {
      const Tensor wp = weights_->get(proj + ".weight").to(DType::F32).contiguous();  // [Di, D]
      const int64_t di = wp.dim(0);
      engine::check(wp.rank() == 2 && wp.dim(1) == dim_, "MaskDecoder: {}.weight is {}", proj, wp.shape().str());
      Tensor g = Tensor::empty(DType::F32, {di, mc}), gb = Tensor::empty(DType::F32, {di});
      const float* w = wp.data<float>();
      for (int64_t i = 0; i < di; ++i) {
        for (int64_t k = 0; k < mc; ++k) {
          double acc = 0;
          for (int64_t c = 0; c < dim_; ++c) acc += static_cast<double>(w[i * dim_ + c]) * a6[c * mc + k];
          g.data<float>()[i * mc + k] = static_cast<float>(acc);
        }
        double acc = 0;
        for (int64_t c = 0; c < dim_; ++c)
          acc += static_cast<double>(w[i * dim_ + c]) * (static_cast<double>(c6[c]) - no_mask_embed_[c]);
        gb.data<float>()[i] = static_cast<float>(acc);
      }
      return engine::ops::Linear(g, gb);
    };
    const std::string l0 = p + ".transformer.layers.0.";
    mask_k_ = fold(l0 + "cross_attn_token_to_image.k_proj");
    mask_v_ = fold(l0 + "cross_attn_token_to_image.v_proj");
    mask_q_ = fold(l0 + "cross_attn_image_to_token.q_proj");
  }
  init_fold();
  up1_norm_ = NormWeights(*weights_, p + ".output_upscaling.1");
  up3_bias_ = weights_->get(p + ".output_upscaling.3.bias").data<float>();
  // output_hypernetworks_mlps: MLP(D, D, D/8, 3) per mask token; iou head MLP(D, hidden, M, depth).
  for (int i = 0; i < num_mask_tokens_; ++i)
    hyper_mlps_.push_back(load_mlp(p + ".output_hypernetworks_mlps." + std::to_string(i), 3));
  iou_head_ = load_mlp(p + ".iou_prediction_head", c.iou_head_depth);
}

// The factored ConvT1 (mask_decoder.h): G_l = C diag(prod_{m >= l} gamma_m) and
// the constant columns, in double from the weights, stored f32. Only for the
// f32 packed upscaling (the path that takes the factored form).
void MaskDecoder::init_fold() {
  const SamConfig& c = weights_->config();
  const std::string p = "mask_decoder";
  const int layers = transformer_.depth();
  if (up0_.packed() && !up0_bf16_.defined() && c.attention_downsample_rate != 1 && layers >= 1 && layers < 8) {
    auto vec = [&](const std::string& name) {
      const Tensor x = weights_->get(name).to(DType::F32).contiguous();
      return std::vector<double>(x.data<float>(), x.data<float>() + x.numel());
    };
    std::vector<std::vector<double>> beta, bo;
    std::vector<std::vector<double>> scale(static_cast<size_t>(layers) + 1, std::vector<double>(dim_, 1.0));
    for (int l = 0; l < layers; ++l) {
      const std::string lp = p + ".transformer.layers." + std::to_string(l);
      beta.push_back(vec(lp + ".norm4.bias"));
      bo.push_back(vec(lp + ".cross_attn_image_to_token.out_proj.bias"));
    }
    for (int l = layers - 1; l >= 0; --l) {
      const std::vector<double> gamma = vec(p + ".transformer.layers." + std::to_string(l) + ".norm4.weight");
      for (int64_t ch = 0; ch < dim_; ++ch)
        scale[static_cast<size_t>(l)][ch] = scale[static_cast<size_t>(l) + 1][ch] * gamma[static_cast<size_t>(ch)];
    }
    const Tensor w0 = up0_.weight().contiguous();  // C [4*C1, D]
    const float* cw = w0.data<float>();
    const float* cb = up0_.bias()->data<float>();
    const int64_t n4 = w0.dim(0);
    const std::vector<double> w6 = vec("prompt_encoder.mask_downscaling.6.weight"),
                              b6 = vec("prompt_encoder.mask_downscaling.6.bias");
    const int64_t mc = mask_dense_.in_features();
    fold_ones_ = Tensor::empty(DType::F32, {layers, n4});
    fold_const_ = Tensor::empty(DType::F32, {layers + 1, n4});
    fold_const0_mask_ = Tensor::empty(DType::F32, {n4});
    fold_mask_cols_ = Tensor::empty(DType::F32, {mc, n4});
    std::vector<double> g(static_cast<size_t>(dim_));
    for (int l = 0; l <= layers; ++l) {
      Tensor gl = Tensor::empty(DType::F32, {n4, dim_});
      for (int64_t r = 0; r < n4; ++r) {
        for (int64_t ch = 0; ch < dim_; ++ch) {
          g[static_cast<size_t>(ch)] = static_cast<double>(cw[r * dim_ + ch]) * scale[static_cast<size_t>(l)][ch];
          gl.data<float>()[r * dim_ + ch] = static_cast<float>(g[static_cast<size_t>(ch)]);
        }
        auto dot = [&](const std::vector<double>& x) {
          double acc = 0;
          for (int64_t ch = 0; ch < dim_; ++ch) acc += g[static_cast<size_t>(ch)] * x[static_cast<size_t>(ch)];
          return acc;
        };
        double e = l == layers ? cb[r] : 0.0;  // E_l
        if (l < layers) {
          fold_ones_.data<float>()[l * n4 + r] = static_cast<float>(std::accumulate(g.begin(), g.end(), 0.0));
          e += dot(bo[static_cast<size_t>(l)]);
        }
        if (l >= 1) e += dot(beta[static_cast<size_t>(l) - 1]);
        fold_const_.data<float>()[l * n4 + r] = static_cast<float>(e);
        if (l == 0) {  // src = image + W6 h + b6 instead of image + no_mask_embed
          double dm = 0;
          for (int64_t ch = 0; ch < dim_; ++ch)
            dm += g[static_cast<size_t>(ch)] * (b6[static_cast<size_t>(ch)] - no_mask_embed_[ch]);
          fold_const0_mask_.data<float>()[r] = static_cast<float>(e + dm);
          for (int64_t k = 0; k < mc; ++k) {
            double acc = 0;
            for (int64_t ch = 0; ch < dim_; ++ch) acc += g[static_cast<size_t>(ch)] * w6[static_cast<size_t>(ch * mc + k)];
            fold_mask_cols_.data<float>()[k * n4 + r] = static_cast<float>(acc);
          }
        }
      }
      fold_g_.emplace_back(gl, std::nullopt);
    }
  }
}

std::unique_ptr<engine::Arena> MaskDecoder::make_arena(int max_batch) const {
  auto arena = std::make_unique<engine::Arena>();
  const int64_t n = std::max(max_batch, 1);
  const bool fold = fold_fits(n, 1 + num_mask_tokens_ + kReservedSparseTokens, false);
  arena->reserve(workspace_bytes(n, kReservedSparseTokens, false, fold));
  return arena;
}

MaskDecoder::ImageInputs MaskDecoder::prepare(const Tensor& image_embedding, const Tensor& image_pe) const {
  const int64_t g = grid_, p = g * g;
  // src.flatten(2).permute(0, 2, 1) of a [1, D, G, G] tensor -> [G*G, D].
  auto tokens = [&](const Tensor& x, const char* what) {
    Tensor out = Tensor::empty(DType::F32, {p, dim_});
    if (x.rank() == 2) {
      if (x.dim(0) != p || x.dim(1) != dim_)
        engine::fail("MaskDecoder: {} {} is not [{}, {}]", what, x.shape().str(), p, dim_);
      out.copy_from(x);
    } else {
      engine::check(x.rank() == 4 && x.dim(0) == 1 && x.dim(1) == dim_ && x.dim(2) == g && x.dim(3) == g,
                    "MaskDecoder: {} {} is not [1, {}, {}, {}]", what, x.shape().str(), dim_, g, g);
      engine::check(x.dtype() == DType::F32, "MaskDecoder: {} must be f32", what);
      nchw_to_tokens(x, out);
    }
    return out;
  };
  ImageInputs in{tokens(image_embedding, "image_embedding"), tokens(image_pe, "image_pe"), {}, {}};
  // src = image + no_mask_embed (as forward() builds it), then the first
  // layer's prompt-independent projections.
  Tensor src0 = Tensor::empty(DType::F32, {p, dim_});
  const float* emb = in.embedding.data<float>();
  float* dst = src0.data<float>();
  for (int64_t r = 0; r < p; ++r)
    for (int64_t c = 0; c < dim_; ++c) dst[r * dim_ + c] = emb[r * dim_ + c] + no_mask_embed_[c];
  in.no_mask = transformer_.precompute_first_layer(src0, in.pe);
  if (!fold_g_.empty()) {  // G_0 src0 (the factored ConvT1)
    in.upscale_base = Tensor::empty(DType::F32, {p, up0_.out_features()});
    fold_g_.front().forward(src0, in.upscale_base);
  }
  return in;
}

bool MaskDecoder::is_no_mask(const Tensor& dense) const {
  // [N|1, D, G, G] with every prompt set and pixel reading the same D values,
  // equal to no_mask_embed: PromptEncoder's expand() view without mask inputs.
  if ((dense.dim(0) != 1 && dense.stride(0) != 0) || dense.stride(2) != 0 || dense.stride(3) != 0) return false;
  const float* d = dense.data<float>();
  for (int64_t c = 0; c < dim_; ++c)
    if (d[c * dense.stride(1)] != no_mask_embed_[c]) return false;
  return true;
}

MaskDecoder::Output MaskDecoder::forward(const Tensor& image_embedding, const Tensor& image_pe, const Tensor& sparse,
                                         const Tensor& dense, bool multimask_output, engine::Arena& arena,
                                         Tracer* t) const {
  return forward(prepare(image_embedding, image_pe), sparse, dense, multimask_output, arena, t);
}

MaskDecoder::Output MaskDecoder::forward(const ImageInputs& image, const Tensor& sparse, const Tensor& dense,
                                         bool multimask_output, engine::Arena& arena, Tracer* t,
                                         float upscale_iou_above, const Tensor* mask_features) const {
  const int64_t g = grid_, p = g * g, m = num_mask_tokens_, c1 = dim_ / 4, c2 = dim_ / 8;
  if (!(sparse.rank() == 3 && sparse.dim(2) == dim_ && sparse.dtype() == DType::F32))
    engine::fail("MaskDecoder: sparse embeddings {} are not [N, S, {}]", sparse.shape().str(), dim_);
  const int64_t n = sparse.dim(0), s = sparse.dim(1), nt = 1 + m + s;
  engine::check(n > 0, "MaskDecoder: empty batch");
  const int64_t mc = mask_dense_.in_features();
  if (mask_features) {
    if (!(mask_features->shape() == Shape{n, p, mc} && mask_features->is_contiguous() &&
          mask_features->dtype() == DType::F32))
      engine::fail("MaskDecoder: mask features {} are not [{}, {}, {}]", mask_features->shape().str(), n, p, mc);
  } else if (!(dense.rank() == 4 && (dense.dim(0) == n || dense.dim(0) == 1) && dense.dim(1) == dim_ &&
               dense.dim(2) == g && dense.dim(3) == g && dense.dtype() == DType::F32)) {
    engine::fail("MaskDecoder: dense embeddings {} are not [{}, {}, {}, {}]", dense.shape().str(), n, dim_, g, g);
  }
  engine::check(image.embedding.numel() == p * dim_ && image.pe.numel() == p * dim_,
                "MaskDecoder: image inputs not prepared for this model");

  // The arena only grows between passes (reserve() needs it empty).
  arena.reset();
  // The first layer's projections from the image's cache (plus the mask
  // inputs' rank-mc change): the folded cross attentions only, i.e. unless a
  // Tracer wants the modules' tensors.
  const bool folded = !(t && t->needs_tensors()) && image.no_mask.kv.k.defined();
  const bool mask_cache = mask_features && folded;
  const bool no_mask = !mask_features && is_no_mask(dense);
  const bool fold = can_fold(image, n, nt, mask_cache, mask_cache || no_mask, t);
  const size_t need = workspace_bytes(n, s, mask_cache, fold);
  if (need > arena.capacity()) arena.reserve(need);
  const Workspace ws = plan(n, nt, mask_cache, fold, [&](const Shape& sh) { return arena.tensor(DType::F32, sh); });

  // tokens = cat((output_tokens.expand(N, -1, -1), sparse_prompt_embeddings), dim=1)
  for (int64_t b = 0; b < n; ++b) {
    Tensor tb = detail::select(ws.tokens, 0, b);
    tb.slice(0, 0, 1 + m).copy_from(output_tokens_);
    if (s > 0) tb.slice(0, 1 + m, nt).copy_from(detail::select(sparse, 0, b));
  }
  // src = repeat_interleave(image_embeddings, N) + dense_prompt_embeddings, in
  // token layout: keys[b, y*G + x, c] = image[y*G + x, c] + dense[b, c, y, x];
  // from mask features: keys[b] = image + (h[b] W6^T + b6), the GEMM adding into a copy of the image.
  if (mask_features) {
    // out [rows, N] += h W^T + b: in the GEMM's epilogue, or (the OpenBLAS
    // baseline, without fused epilogues) through a temporary.
    auto add_product = [](const engine::ops::Linear& lin, const float* x, int64_t rows, float* out) {
      if (lin.fused_epilogues()) {
        lin.forward_rows(x, rows, out, true);
        return;
      }
      Tensor tmp = Tensor::empty(DType::F32, {rows, lin.out_features()});
      lin.forward_rows(x, rows, tmp.data<float>());
      const float* t = tmp.data<float>();
      for (int64_t i = 0; i < tmp.numel(); ++i) out[i] += t[i];
    };
    // Each target [N, P, W] = its per-image base [P, W] (broadcast over the
    // prompt sets) + h W^T + bias: src from the image (W6, b6), and with the
    // cache the first layer's k_proj, v_proj, q_proj from their cached values.
    const struct {
      const engine::ops::Linear* lin;
      const Tensor* base;
      const Tensor* out;
    } parts[4] = {{&mask_dense_, &image.embedding, &ws.keys},
                  {&mask_k_, &image.no_mask.kv.k, &ws.mask_k},
                  {&mask_v_, &image.no_mask.kv.v, &ws.mask_v},
                  {&mask_q_, &image.no_mask.q, &ws.mask_q}};
    const float* h = mask_features->data<float>();
    for (int i = 0; i < (mask_cache ? 4 : 1); ++i) {
      const int64_t w = parts[i].lin->out_features();
      const float* base = parts[i].base->data<float>();
      float* o = parts[i].out->data<float>();
      detail::parallel_rows(n * p, w, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) std::copy(base + (r % p) * w, base + (r % p + 1) * w, o + r * w);
      });
      add_product(*parts[i].lin, h, n * p, o);
    }
  } else {
    const int64_t s0 = dense.dim(0) == 1 ? 0 : dense.stride(0), s1 = dense.stride(1), s2 = dense.stride(2),
                  s3 = dense.stride(3);
    const float* img = image.embedding.data<float>();
    const float* dn = dense.data<float>();
    float* k = ws.keys.data<float>();
    detail::parallel_rows(n * g, g * dim_, [&](int64_t begin, int64_t end) {
      for (int64_t by = begin; by < end; ++by) {  // one image row y of prompt set b
        const int64_t b = by / g, y = by % g;
        for (int64_t x = 0; x < g; ++x) {
          const int64_t row = y * g + x;
          const float* d = dn + b * s0 + y * s2 + x * s3;
          float* out = k + (b * p + row) * dim_;
          const float* in = img + row * dim_;
          for (int64_t c = 0; c < dim_; ++c) out[c] = in[c] + d[c * s1];
        }
      }
    });
  }

  // hs, src = transformer(src, pos_src, tokens)
  Tensor queries = ws.queries, keys = ws.keys;
  TwoWayTransformer::FirstLayerCache with_masks;
  const TwoWayTransformer::FirstLayerCache* first_layer = nullptr;
  if (mask_cache) {
    with_masks.kv.k = ws.mask_k;
    with_masks.kv.v = ws.mask_v;
    with_masks.q = ws.mask_q;
    first_layer = &with_masks;
  } else if (no_mask && image.no_mask.kv.k.defined()) {
    first_layer = &image.no_mask;
  }
  Attention::Taps taps;
  if (fold) taps = {ws.fa.data<float>(), ws.fold_k, ws.stats.data<float>(), ws.u.data<float>()};
  transformer_.forward(ws.tokens, image.pe, queries, keys, arena, t, first_layer, fold ? &taps : nullptr);

  // Hypernetwork MLPs on the mask tokens hs[:, 1 + i, :] -> hyper_in[:, i, :]
  // ([N, D] row-strided views), and the IoU head on hs[:, 0, :].
  const std::string p0 = "mask_decoder";
  for (int64_t i = 0; i < m; ++i) {
    Tensor out = detail::select(ws.hyper, 1, i);
    mlp_forward(hyper_mlps_[static_cast<size_t>(i)], detail::select(queries, 1, 1 + i), out, ws.mlp_a, ws.mlp_b, t,
                detail::subpath(t, p0, ".output_hypernetworks_mlps.", static_cast<int>(i)));
  }
  Tensor iou = ws.iou;
  mlp_forward(iou_head_, detail::select(queries, 1, 0), iou, ws.mlp_a, ws.mlp_b, t,
              detail::subpath(t, p0, ".iou_prediction_head"));

  // Mask slice: masks[:, 1:] for multimask_output, else masks[:, 0:1].
  const int64_t first = multimask_output ? 1 : 0, nsel = multimask_output ? m - 1 : 1;
  Output o;
  o.low_res_masks = Tensor::empty(DType::F32, {n, nsel, 4 * g, 4 * g});
  o.iou_predictions = Tensor::empty(DType::F32, {n, nsel});
  o.iou_predictions.copy_from(iou.slice(1, first, first + nsel));

  // output_upscaling + masks, one prompt set at a time (bounded scratch):
  //   ConvT(D, D/4) -> LayerNorm2d -> GELU -> ConvT(D/4, D/8) -> GELU, as
  //   [P, D] x [D, 4*D/4] and [4P, D/4] x [D/4, 4*D/8] GEMMs in sub-pixel row order;
  //   masks = hyper_in @ upscaled.view(c, h*w), then one scatter to [4G, 4G].
  const bool tr = t != nullptr;
  StageTrace tr0, tr1, tr2, tr3, tr4;
  tr0.init(tr, n, c1, 2 * g);
  tr1.init(tr, n, c1, 2 * g);
  tr2.init(tr, n, c1, 2 * g);
  tr3.init(tr, n, c2, 4 * g);
  tr4.init(tr, n, c2, 4 * g);
  Tensor up1 = ws.up1.reshape({p, 4 * c1});
  Tensor up1_px = ws.up1;  // [4P, D/4]
  Tensor up2 = ws.up2.reshape({4 * p, 4 * c2});
  Tensor up2_px = ws.up2;  // [16P, D/8]
  Tensor masks = view(ws.masks, {nsel, 16 * p});
  // Without a Tracer that wants the stages, the fused kernel (one grid row at
  // a time, nothing but the masks written).
  const bool fused = !(t && t->needs_tensors()) && up0_.packed();
  // Prompt sets whose selected IoU predictions are all <= upscale_iou_above
  // (none when the threshold is -inf, or when tracing) get -inf masks.
  auto wanted = [&](int64_t b) {
    if (tr || !(upscale_iou_above > -std::numeric_limits<float>::infinity())) return true;
    const float* ip = o.iou_predictions.data<float>() + b * nsel;
    for (int64_t k = 0; k < nsel; ++k)
      if (ip[k] > upscale_iou_above) return true;
    float* out = o.low_res_masks.data<float>() + b * nsel * 16 * p;
    std::fill(out, out + nsel * 16 * p, -std::numeric_limits<float>::infinity());
    return false;
  };
  for (int64_t b = 0; fused && b < n; ++b) {
    if (!wanted(b)) continue;
    engine::ops::MaskUpscaleArgs a;
    a.g = static_cast<int>(g);
    a.d = static_cast<int>(dim_);
    a.c1 = static_cast<int>(c1);
    a.c2 = static_cast<int>(c2);
    a.x = keys.data<float>() + b * p * dim_;
    a.ldx = dim_;
    a.w1_packed = up0_.packed_panels();
    a.w1_packed_bf16 = up0_bf16_.defined() ? up0_bf16_.packed_panels_bf16() : nullptr;
    a.w1 = up0_.weight().data<float>();
    a.b1 = up0_.bias()->data<float>();
    a.ln_weight = up1_norm_.weight->data<float>();
    a.ln_bias = up1_norm_.bias->data<float>();
    a.ln_eps = kLayerNorm2dEps;
    a.w2 = up3_.weight().data<float>();
    a.b2 = up3_bias_;
    a.hyper = ws.hyper.data<float>() + (b * m + first) * c2;
    a.ldh = c2;
    a.m = static_cast<int>(nsel);
    a.out = o.low_res_masks.data<float>() + b * nsel * 16 * p;
    a.out_plane = 16 * p;
    if (fold) {  // ConvT1 = R_0 upscale_base + fa fb^T
      fold_set(ws, n, b, nt, mask_cache ? mask_features : nullptr);
      a.x = image.upscale_base.data<float>();
      a.ldx = image.upscale_base.dim(1);
      a.x_scale = ws.xs.data<float>() + b * p;
      a.fa = ws.fa.data<float>() + b * p * ws.fold_k;
      a.ldfa = ws.fold_k;
      a.fb = ws.fbt.data<float>();
      a.ldfb = ws.fold_k;
      a.fb_packed = ws.fbp.data<float>();
      a.fk = static_cast<int>(ws.fold_k);
    }
    engine::ops::mask_upscale(a, ws.fused.data<float>(), ws.fused_stride);
  }
  for (int64_t b = 0; !fused && b < n; ++b) {
    if (!wanted(b)) continue;
    up0_.forward(detail::select(keys, 0, b), up1);
    tr0.put(b, up1_px, g, 1);
    detail::layer_norm_(up1_px, up1_norm_, kLayerNorm2dEps);
    tr1.put(b, up1_px, g, 1);
    detail::gelu_(up1_px);
    tr2.put(b, up1_px, g, 1);
    up3_.forward(up1_px, up2);
    tr3.put(b, up2_px, g, 2);
    detail::gelu_(up2_px);
    tr4.put(b, up2_px, g, 2);

    engine::ops::matmul(detail::select(ws.hyper, 0, b).slice(0, first, first + nsel), false, up2_px, true, masks);
    subpixel_to_nchw(masks.data<float>(), 1, 16 * p, nsel, g, 2, o.low_res_masks.data<float>() + b * nsel * 16 * p);
  }
  if (tr) {
    const std::string u = p0 + ".output_upscaling";
    trace(t, u + ".0", tr0.t);
    trace(t, u + ".1", tr1.t);
    trace(t, u + ".2", tr2.t);
    trace(t, u + ".3", tr3.t);
    trace(t, u + ".4", tr4.t);
    trace(t, u, tr4.t);
  }
  detail::trace_sub(t, p0, ".0", o.low_res_masks);
  detail::trace_sub(t, p0, ".1", o.iou_predictions);
  return o;
}

}  // namespace sam
