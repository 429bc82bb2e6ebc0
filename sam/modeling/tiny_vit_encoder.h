// MobileSAM's image encoder: a plain-kernel C++ mirror of TinyViT in
// mobile_sam/modeling/tiny_vit_sam.py (MobileSAM, github.com/ChaoningZhang/MobileSAM;
// PyPI mobilesam-mirror): Conv2d_BN, PatchEmbed, MBConv, PatchMerging, ConvLayer,
// Attention, TinyViTBlock, BasicLayer, LayerNorm2d and TinyViT.forward_features
// with its SAM neck. The classifier (norm_head, head) is never run by MobileSAM
// and is not loaded.
//
// Every BatchNorm is folded into its convolution at load (Conv2d_BN.fuse's
// arithmetic); 1x1 convolutions are GEMMs (engine::ops::Linear), the depthwise
// and patch-embedding convolutions engine::ops::depthwise_conv2d / conv2d, the
// window attention engine::ops::bias_attention with the per-head bias table
// gathered once by the relative-offset index (Attention.attention_bias_idxs, a
// non-persistent buffer rebuilt here as the official code builds it).
//
// Activations are channels-last ([H, W, C] = the official [B, L, C] tokens) in
// the caller's EncoderWorkspace arena; a forward pass allocates nothing else
// except the returned embedding.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/ops/linear.h"
#include "engine/tensor.h"
#include "sam/io/weights.h"
#include "sam/modeling/config.h"
#include "sam/modeling/encoder_interface.h"
#include "sam/modeling/encoder_neck.h"
#include "sam/modeling/weight_schema.h"

namespace sam {

class TinyViTEncoder final : public ImageEncoder {
 public:
  explicit TinyViTEncoder(std::shared_ptr<const Weights> weights);
  // image_encoder.* keys and shapes of a TinyViT config in state_dict order, without
  // the BatchNorms' num_batches_tracked and the unused norm_head / head (the converter drops them).
  static void expected_weights(const SamConfig& config, std::vector<WeightSpec>& out);

  EncoderWorkspace make_workspace() const override;
  // x: [1, 3, S, S] f32 -> [1, prompt_embed_dim, 64, 64].
  engine::Tensor forward(engine::Tensor x, EncoderWorkspace& ws, Tracer* tracer = nullptr) const override;

  // A Conv2d_BN with the BatchNorm folded in, in the layout its kernel reads.
  struct Conv {
    engine::ops::Linear linear;  // 1x1: [cout, cin]
    std::vector<float> weight;   // depthwise [k, k, c] / dense [k, k, cin, cout]
    std::vector<float> bias;     // [cout]
    int cin = 0, cout = 0, k = 1, stride = 1;
  };
  struct MBConv {
    Conv conv1, conv2, conv3;  // 1x1 expand, depthwise 3x3, 1x1 project
  };
  struct PatchMerging {
    Conv conv1, conv2, conv3;  // 1x1, depthwise 3x3 stride 1 or 2, 1x1
  };
  struct Block {  // TinyViTBlock
    engine::Tensor attn_norm_w, attn_norm_b, mlp_norm_w, mlp_norm_b;
    engine::ops::Linear qkv, proj, fc1, fc2;
    std::vector<float> attention_bias;  // ab: [heads, ws*ws, ws*ws]
    std::vector<float> qkv_pad_row;     // [3 C]: qkv(attn.norm.bias), the qkv of a padding token
    Conv local_conv;                    // depthwise
  };
  struct Stage {  // ConvLayer (stage 0) or BasicLayer
    int dim = 0, res = 0, heads = 0, window = 0;  // res: input_resolution (square)
    std::vector<MBConv> mbconv;
    std::vector<Block> blocks;
    bool has_downsample = false;
    PatchMerging downsample;
    int out_dim = 0, out_res = 0;
  };

 private:
  struct Buffers;
  // Floats of the workspace regions (Buffers): act for x / y / tmp each, then big1, big2.
  struct Plan {
    size_t act = 0, big1 = 0, big2 = 0;
  };
  Plan make_plan() const;
  size_t plan_bytes() const;
  void mbconv_forward(const Stage& s, const MBConv& m, float* x, const Buffers& b, Tracer* tracer,
                      const std::string& path) const;
  void block_forward(const Stage& s, const Block& blk, float*& x, float*& y, const Buffers& b, Tracer* tracer,
                     const std::string& path) const;
  bool convs_by_strips(const Conv& c1, const Conv& c2, const Conv& c3, int res, float* x, bool residual,
                       const Buffers& b) const;
  static constexpr int kStripRows = 8;  // output rows per strip: MBConv's [8, 256, 256] f32 hidden rows = 2 MiB
  void merging_forward(const Stage& s, float* x, const Buffers& b) const;
  void attention_traced(const Stage& s, const Block& blk, float* x, const Buffers& b, Tracer* tracer,
                        const std::string& path) const;
  // y[rows, N] = x @ W^T + b (+ y when accumulate) (then GELU), with or without fused epilogues.
  void linear(const engine::ops::Linear& l, const float* x, int64_t rows, float* y, bool accumulate, bool gelu,
              float* tmp) const;

  std::shared_ptr<const Weights> weights_;
  SamConfig config_;
  Conv embed0_, embed1_;  // patch_embed.seq.0 / seq.2 (dense 3x3 stride 2)
  std::vector<Stage> stages_;
  EncoderNeck neck_;
  int out_dim_ = 0, out_grid_ = 0;
  Plan plan_;
};

}  // namespace sam
