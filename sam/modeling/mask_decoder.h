// SAM's mask decoder: segment_anything/modeling/mask_decoder.py (MaskDecoder,
// MLP) around the TwoWayTransformer of transformer.h, mirrored one to one.
//
// Internally everything is channels-last / token layout: the image embedding
// as [G*G, D] tokens, output_upscaling's transposed convolutions as GEMMs over
// pixels in "sub-pixel" row order (each k2/s2 ConvTranspose2d turns a pixel row
// into 4 rows), and the final masks scattered into [4G, 4G] once at the end.
//
// Memory: the caller's engine::Arena (one per session / thread; make_arena()
// reserves one for `max_batch` prompt sets), re-reserved (between calls, never
// during one) when a call needs more. This code allocates only the two outputs
// of a pass from the heap (the engine's Tensor::from_blob / empty still format
// their check messages eagerly). The decoder itself is immutable after
// construction: any number of threads may call forward() at once, each with its
// own arena.
#pragma once

#include <limits>
#include <memory>
#include <vector>

#include "engine/arena.h"
#include "engine/ops.h"
#include "engine/tensor.h"
#include "sam/tracer.h"
#include "sam/modeling/transformer.h"
#include "sam/io/weights.h"

namespace sam {

class MaskDecoder {
 public:
  static constexpr int kReservedSparseTokens = 6;
  explicit MaskDecoder(std::shared_ptr<const Weights> w);
  // An arena reserved for `max_batch` prompt sets per call (with up to
  // kReservedSparseTokens sparse tokens each); larger calls grow it.
  std::unique_ptr<engine::Arena> make_arena(int max_batch = 1) const;

  struct Output {
    engine::Tensor low_res_masks;    // [N, C, 4G, 4G] logits, C = 3 (multimask) or 1
    engine::Tensor iou_predictions;  // [N, C]
  };

  // The prompt-independent inputs of predict_masks in token layout, computed
  // once per image and reused by every forward() on that image:
  //   embedding: image_embeddings[0].flatten(1).T   [G*G, D]
  //   pe:        image_pe[0].flatten(1).T           [G*G, D]
  //   no_mask:   the transformer's first-layer key/value projections of
  //              src = embedding + no_mask_embed, used for every prompt set
  //              without a mask input (dense = PromptEncoder's broadcast view).
  //   upscale_base: ConvT1 (output_upscaling.0, no bias) of that src with the
  //              transformer's norm4 scales folded in, [G*G, 4*C1] (see below).
  struct ImageInputs {
    engine::Tensor embedding;
    engine::Tensor pe;
    TwoWayTransformer::FirstLayerCache no_mask;
    engine::Tensor upscale_base;
  };
  // image_embedding [1, D, G, G] (any strides); image_pe [1, D, G, G] (any
  // strides) or already in token layout [G*G, D] (PromptEncoder::dense_pe_tokens()).
  ImageInputs prepare(const engine::Tensor& image_embedding, const engine::Tensor& image_pe) const;

  // MaskDecoder.forward(image_embeddings, image_pe, sparse_prompt_embeddings,
  // dense_prompt_embeddings, multimask_output) for one image and N prompt sets:
  //   sparse [N, S, D] (any strides), dense [N, D, G, G] or [1, D, G, G] (any
  //   strides: PromptEncoder's channels-last and broadcast views are read as is).
  // multimask_output selects masks[:, 1:] (3 masks) else masks[:, 0:1].
  // Traced (official module paths): mask_decoder.transformer.* (see
  // TwoWayTransformer), mask_decoder.output_upscaling{,.0-.4} [N, C, 2G|4G, 2G|4G],
  // mask_decoder.output_hypernetworks_mlps.K{,.layers.J}, mask_decoder.iou_prediction_head{,.layers.J}
  // and the output tuple as mask_decoder.0 / mask_decoder.1. Traced tensors
  // may be arena views that are overwritten later: a Tracer copies what it keeps.
  //
  // upscale_iou_above: the output upscaling and mask product (~40% of a pass)
  // run only for prompt sets with at least one selected IoU prediction
  // > upscale_iou_above; the low-res masks of the others are left at -inf.
  // For callers that drop every mask at or below that IoU before reading it
  // (SamAutomaticMaskGenerator's pred_iou_thresh filter); the default computes all.
  //
  // ConvT1 is folded through the transformer: the keys that reach it are
  // keys_L, with keys_{l+1} = norm4_l(keys_l + probs_l u_l + bo_l) and keys_0 =
  // src, so with R_l = prod_{m >= l} rstd_m and G_l = C diag(prod_{m >= l} gamma_m):
  //   C keys_L = R_0 G_0 src + sum_l R_l (probs_l (u_l G_l^T) + G_l bo_l - mean_l G_l 1)
  //              + sum_{l >= 1} R_l G_l beta_{l-1} + C beta_{L-1}
  // G_0 src is the image's upscale_base (plus, with mask inputs, rank mask_in_chans);
  // the rest is a GEMM with K = L*J + 2L + 1 (+ mask_in_chans) instead of D per
  // token (J = heads * tokens: 117 against 256 for one point). Unless tracing
  // tensors, in f32 with the packed GEMM, and while the coefficients of the
  // batch stay under 128 MiB (up to ~70 prompt sets of one point).
  // mask_features: mask inputs in factored form (PromptEncoder::forward's
  // mask_features, [N, G*G, mask_in_chans]): dense = mask_downscaling.6 of
  // them, so `dense` is not read (it may be undefined). The 1x1 conv is folded
  // into the keys (src = image + W6 h + b6 in one GEMM) and, without a Tracer
  // that wants tensors, into the first layer's projections: the image's
  // cached k_proj / v_proj / q_proj plus a rank-mask_in_chans product per
  // prompt set, so that a refinement click costs about what a first click does.
  Output forward(const ImageInputs& image, const engine::Tensor& sparse, const engine::Tensor& dense,
                 bool multimask_output, engine::Arena& arena, Tracer* t = nullptr,
                 float upscale_iou_above = -std::numeric_limits<float>::infinity(),
                 const engine::Tensor* mask_features = nullptr) const;
  // Convenience: prepare() + forward(). Prefer the above for several prompts per image.
  Output forward(const engine::Tensor& image_embedding, const engine::Tensor& image_pe, const engine::Tensor& sparse,
                 const engine::Tensor& dense, bool multimask_output, engine::Arena& arena,
                 Tracer* t = nullptr) const;

  // Arena bytes a forward pass over n prompt sets of s sparse tokens needs.
  // With mask_features: also the per-set first-layer projections.
  // With fold: also the factored ConvT1's coefficients.
  size_t workspace_bytes(int64_t n, int64_t s, bool mask_features = false, bool fold = false) const;

 private:
  // modeling/mask_decoder.py: MLP(input_dim, hidden_dim, output_dim, num_layers):
  // ReLU after every layer but the last.
  struct Mlp {
    std::vector<engine::ops::Linear> layers;
    int64_t max_width() const;
  };
  Mlp load_mlp(const std::string& prefix, int num_layers) const;
  void mlp_forward(const Mlp& m, const engine::Tensor& x, engine::Tensor& out, const engine::Tensor& scratch_a,
                   const engine::Tensor& scratch_b, Tracer* t, const std::string& path) const;
  struct Workspace;
  template <class Alloc>
  Workspace plan(int64_t n, int64_t t, bool mask_features, bool fold, Alloc&& alloc) const;
  bool is_no_mask(const engine::Tensor& dense) const;
  void init_fold();  // fold_g_ and the fold_* columns (constructor only)
  // Coefficients per token of the factored ConvT1 for t tokens per prompt set.
  int64_t fold_width(int64_t t, bool mask_features) const;
  // Built, and the coefficients of n prompt sets within kFoldBudgetBytes.
  bool fold_fits(int64_t n, int64_t t, bool mask_features) const;
  // src_is_known: src = image + no_mask_embed, or image + the mask features' dense.
  bool can_fold(const ImageInputs& image, int64_t n, int64_t t, bool mask_features, bool src_is_known,
                const Tracer* tr) const;
  // The factored ConvT1 of prompt set b: the coefficient rows fa (in place over
  // the transformer's probs), x_scale, and fb^T packed (kernels/mask_upscale.h).
  void fold_set(const Workspace& ws, int64_t n, int64_t b, int64_t t, const engine::Tensor* mask_features) const;

  std::shared_ptr<const Weights> weights_;
  TwoWayTransformer transformer_;
  int dim_ = 0, grid_ = 0, num_mask_tokens_ = 0;
  engine::Tensor output_tokens_;          // cat([iou_token, mask_tokens]) [1 + M, D]
  const float* no_mask_embed_ = nullptr;  // prompt_encoder.no_mask_embed.weight [D]
  // output_upscaling ConvTranspose2d(k2, s2) weights as GEMM matrices: row
  // (a*2 + b)*Cout + co, column ci = weight[ci, co, a, b]; bias repeated 4x.
  engine::ops::Linear up0_, up3_;
  // --precision bf16 on bf16 hardware (AMX / AVX512-BF16): ConvT1's matrix packed
  // in bf16 for the fused upscaling, whose two ConvT products then run in bf16
  // (the rest of the decoder stays f32; without the hardware all of it does).
  engine::ops::Linear up0_bf16_;
  // Mask inputs in factored form: mask_downscaling.6 (dense = W6 h + b6), and
  // W6 folded into the first layer's token-to-image k_proj / v_proj and
  // image-to-token q_proj: W W6 [Di, mc] with bias W (b6 - no_mask_embed), the
  // change of each projection from the no-mask src (the cached one).
  engine::ops::Linear mask_dense_, mask_k_, mask_v_, mask_q_;
  // The factored ConvT1 (see forward()): G_l for l = 0..L as linears (u_l G_l^T),
  // and [4*C1] columns of fb: G_l 1 (l < L), E_m (m = 0..L; the constant part of
  // R_m's term, C's bias in E_L), E_0 with mask inputs, (G_0 W6)^T rows [mc, 4*C1].
  std::vector<engine::ops::Linear> fold_g_;
  engine::Tensor fold_ones_, fold_const_, fold_const0_mask_, fold_mask_cols_;
  NormWeights up1_norm_;             // output_upscaling.1 LayerNorm2d (eps 1e-6)
  const float* up3_bias_ = nullptr;  // output_upscaling.3.bias [D/8] (the fused kernel adds it per channel)
  std::vector<Mlp> hyper_mlps_;
  Mlp iou_head_;
};

}  // namespace sam
