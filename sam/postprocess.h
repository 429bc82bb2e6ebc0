// The official output pipeline (modeling/sam.py: Sam.postprocess_masks):
//   low-res logits [N, C, L, L] -> bilinear (align_corners=False) to S x S ->
//   crop to the resized image [h, w] -> bilinear to the original [H, W].
// Both interpolations are evaluated with torch's index and weight rules, but
// fused: each output row needs two rows of the cropped S x S image, and only
// those are computed (from two low-res rows each), so the S x S intermediate
// is never materialised.
#pragma once

#include "engine/tensor.h"

namespace sam {

// low_res: [N, C, L, L] f32 logits. Returns [N, C, H, W] f32 logits.
engine::Tensor postprocess_masks(const engine::Tensor& low_res, int img_size, int input_h, int input_w,
                                 int original_h, int original_w);

// The same followed by the official threshold (masks > threshold), written
// straight to u8 0/1: the full-size f32 logits are never materialised.
engine::Tensor postprocess_masks_binary(const engine::Tensor& low_res, int img_size, int input_h, int input_w,
                                        int original_h, int original_w, float threshold = 0.f);
// The same into `out`: contiguous u8 [N, C, H, W] (a caller's reused buffer).
void postprocess_masks_binary(const engine::Tensor& low_res, int img_size, int input_h, int input_w, int original_h,
                              int original_w, engine::Tensor& out, float threshold = 0.f);

// torch.nn.functional.interpolate(mode="bilinear", align_corners=False) of one
// [in_h, in_w] plane to [out_h, out_w] (the unfused reference, used in tests).
void resize_bilinear_plane(const float* in, int in_h, int in_w, float* out, int out_h, int out_w);

}  // namespace sam
