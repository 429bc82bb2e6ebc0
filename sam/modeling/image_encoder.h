// The SAM image encoder: a plain-kernel C++ mirror of
// segment_anything/modeling/image_encoder.py (ImageEncoderViT, PatchEmbed,
// Block, Attention, window_partition / window_unpartition, get_rel_pos,
// add_decomposed_rel_pos) with MLPBlock and LayerNorm2d from modeling/common.py.
//
// Activations are channels-last ([G, G, C] tokens, the official BHWC layout of
// the blocks) and live in one engine::Arena of the caller's EncoderWorkspace; a
// forward pass allocates nothing else except the returned embedding. The
// encoder (weights, packed panels) is immutable after construction and shared
// by every session (SamModel).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "sam/modeling/config.h"
#include "sam/modeling/encoder_interface.h"
#include "sam/modeling/encoder_neck.h"
#include "sam/modeling/weight_schema.h"
#include "engine/arena.h"
#include "engine/ops.h"
#include "engine/ops/linear.h"
#include "engine/tensor.h"
#include "sam/tracer.h"
#include "sam/io/weights.h"

namespace sam {

// Mirrors modeling/image_encoder.py: ImageEncoderViT.
class ImageEncoderViT final : public ImageEncoder {
 public:
  explicit ImageEncoderViT(std::shared_ptr<const Weights> weights);
  // The state_dict keys and shapes of image_encoder.* for a ViT config (the
  // variant registry's schema for this family).
  static void expected_weights(const SamConfig& config, std::vector<WeightSpec>& out);

  EncoderWorkspace make_workspace() const override;

  // x: [1, 3, S, S] f32, S = config.img_size (already normalised and padded as
  // the official Sam.preprocess does). Returns the image embedding
  // [1, prompt_embed_dim, G, G] (G = S / patch_size), f32, owning tensor.
  // With a tracer, every submodule output is reported under its official module
  // path and in the official layout (views into the arena: the tracer copies).
  // `x` is dropped once the patches are gathered (pass it moved to free it early).
  // Reentrant: any number of threads may run forward() at once, each with its
  // own workspace (grown here if the pool got more threads since it was made).
  engine::Tensor forward(engine::Tensor x, EncoderWorkspace& ws, Tracer* tracer = nullptr) const override;

 private:
  // Weights of one Block (views into the model's tensors).
  struct BlockWeights {
    engine::Tensor norm1_w, norm1_b, rel_pos_h, rel_pos_w, norm2_w, norm2_b;
    engine::ops::Linear qkv, proj, lin1, lin2;  // attn.qkv, attn.proj, mlp.lin1, mlp.lin2
    int window = 0;  // Block.window_size: 0 = global attention
  };

  // The arena regions of one forward pass, in floats. With `windows_in_place`
  // (every windowed block reads its windows straight from the grid's qkv) the
  // attention runs on the N grid tokens only, not on nW*ws*ws padded ones.
  // With `whole_mlp` (a tracer that wants mlp.lin1's output) the MLP hidden
  // [N, hidden] is held at once; otherwise lin1 -> GELU -> lin2 run on row
  // chunks of it that fit in `big` (vit_b: 2 x 2048 rows; 38 instead of 50 MB).
  struct Plan {
    size_t tokens = 0, big = 0, ctx = 0;
    int64_t mlp_rows = 0;  // rows of the MLP hidden per chunk
  };
  Plan plan(bool windows_in_place, bool whole_mlp) const;
  // Bytes of arena a forward pass with this plan needs with `threads` attention workers.
  size_t plan_bytes(const Plan& p, int threads) const;
  // Whether a pass with this tracer reads windows in place (see block_forward).
  bool windows_in_place(const Tracer* tracer) const;
  struct Buffers;
  void block_forward(int index, float* x, const Buffers& buf, Tracer* tracer) const;
  void mlp_forward(const BlockWeights& b, float* x, const Buffers& buf, Tracer* tracer, const std::string& path,
                   bool fused) const;

  std::shared_ptr<const Weights> weights_;
  SamConfig config_;
  int grid_ = 0;     // G
  int dim_ = 0;      // C (encoder_embed_dim)
  int heads_ = 0;
  int hidden_ = 0;   // MLP hidden width
  int out_dim_ = 0;  // neck out_chans (prompt_embed_dim)

  engine::ops::Linear patch_;  // [C, 3 * p * p]: the patch conv kernel as a GEMM matrix
  engine::Tensor pos_embed_;
  std::vector<BlockWeights> blocks_;
  EncoderNeck neck_;

  size_t window_tokens_ = 0;   // largest window_partition output, tokens (0: no windowed block)
  size_t attn_tokens_ = 0;     // largest token count attention runs on (N or nW*ws*ws)
  size_t scratch_floats_ = 0;  // attention scratch per worker

  // Regions carved from the workspace at the start of each forward pass.
  struct Buffers {
    float* x = nullptr;        // [N, C] residual stream
    float* xn = nullptr;       // [tokens, C] norm outputs; attention (proj) output
    float* win = nullptr;      // [nW*ws*ws, C] partitioned windows: ctx's memory (dead once qkv exists)
    float* big = nullptr;      // qkv, MLP hidden, patch / neck im2col (never live together)
    float* ctx = nullptr;      // [tokens, C] per-head attention results; neck activations
    float* scratch = nullptr;  // per worker: the attention kernel's scratch (fused: packed K, V, tiles;
                               // SAM_ATTENTION=unfused: scores + rel-pos projections)
    size_t scratch_floats = 0; // per worker
    size_t tokens = 0;         // rows xn and ctx hold (the attention's token count at most)
    int64_t mlp_rows = 0;      // MLP hidden rows per chunk
  };
};

}  // namespace sam
