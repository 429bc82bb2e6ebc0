// The mask decoder's two-way cross attention cores (modeling/transformer.py:
// Attention between the few prompt tokens and the G*G image tokens), split over
// the thread pool by image-token range; the kernel contracts are those of
// kernels/two_way_attention.h (argument blocks re-exported here).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/two_way_attention.h"

namespace engine::ops {

using TokensToImageArgs = kernels::TokensToImageArgs;
using ImageToTokensArgs = kernels::ImageToTokensArgs;

// Padded score width for j = heads x tokens columns, and the kernel scratch
// floats one worker needs for rows of `width` and jp columns.
int two_way_columns(int j);
size_t two_way_scratch_floats(int width, int jp);

// Token-to-image attention over image tokens [0, p): each worker runs its token
// range into its own partial block (part0 + worker * part_stride: y [j, dv],
// running max m [j], sum l [j]) with its own kernel scratch (kern0 + worker *
// kern_stride); the partials are merged, normalised, and the softmax-weighted
// means y [j, dv] (row stride dv) are copied to `y_out`. `base` gives every
// field but the token range, outputs and scratch.
void tokens_to_image(const TokensToImageArgs& base, int64_t p, float* part0, int64_t part_stride, float* kern0,
                     int64_t kern_stride, float* y_out);
// Image-to-token attention (+ residual and norm4) over image tokens [0, p), in
// place on base.x; each worker its token range and scratch (kern0 + worker * kern_stride).
void image_to_tokens(const ImageToTokensArgs& base, int64_t p, float* kern0, int64_t kern_stride);

}  // namespace engine::ops
