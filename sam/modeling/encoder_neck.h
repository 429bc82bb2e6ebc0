// The image encoder's neck, shared by ImageEncoderViT (segment_anything/modeling/
// image_encoder.py, ImageEncoderViT.neck) and MobileSAM's TinyViT (tiny_vit_sam.py,
// TinyViT.neck), which build the same four modules:
//   neck.0 Conv2d(C, D, 1, bias=False)             = a linear over tokens
//   neck.1 LayerNorm2d(D)                          = a layer norm over each token's channels
//   neck.2 Conv2d(D, D, 3, padding=1, bias=False)  = im2col [N, 9D] + one packed GEMM
//   neck.3 LayerNorm2d(D)
// then one transpose into the official [1, D, G, G] embedding.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/ops/linear.h"
#include "engine/tensor.h"
#include "sam/io/weights.h"
#include "sam/tracer.h"
#include "sam/modeling/weight_schema.h"

namespace sam {

class EncoderNeck {
 public:
  EncoderNeck() = default;
  // in_chans C: the encoder's last width; out_chans D: prompt_embed_dim.
  EncoderNeck(const Weights& w, int64_t in_chans, int64_t out_chans);
  // image_encoder.neck.* keys and shapes in state_dict order.
  static void expected_weights(WeightListBuilder& b, int64_t in_chans, int64_t out_chans);

  // Workspace floats of a grid g: two activations [N, D] and the im2col columns [N, 9D].
  static size_t activation_floats(int64_t g, int64_t out_chans) { return size_t(g * g * out_chans); }
  static size_t columns_floats(int64_t g, int64_t out_chans) { return 9 * activation_floats(g, out_chans); }

  // x [G*G, C] channels-last tokens -> out [1, D, G, G]. y1, y2 [N, D] and cols
  // [N, 9D] are the caller's workspace (x may not alias them); traced as
  // image_encoder.neck.{0..3} and image_encoder.neck.
  void forward(const float* x, int64_t g, float* y1, float* y2, float* cols, engine::Tensor& out,
               Tracer* tracer) const;

  int64_t out_chans() const { return out_chans_; }

 private:
  int64_t out_chans_ = 0;
  engine::ops::Linear neck0_;  // [D, C]: the 1x1 conv as a linear
  engine::ops::Linear neck2_;  // [D, 9 D]: the 3x3 conv repacked to (ky, kx, cin) columns
  engine::Tensor neck1_w_, neck1_b_, neck3_w_, neck3_b_;
};

}  // namespace sam
