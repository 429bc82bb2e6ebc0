// The official input pipeline (segment_anything/utils/transforms.py:
// ResizeLongestSide.apply_image, and modeling/sam.py: Sam.preprocess):
//   uint8 RGB -> resize so the longest side is img_size (PIL bilinear with
//   antialiasing, exactly as Pillow computes it) -> (x - mean) / std -> zero pad
//   bottom/right to img_size x img_size -> [1, 3, S, S] f32.
#pragma once

#include <utility>

#include "engine/tensor.h"
#include "sam/io/image.h"

namespace sam {

// ResizeLongestSide.get_preprocess_shape: (new_h, new_w) for a long side of `long_side`.
std::pair<int, int> preprocess_shape(int height, int width, int long_side);

// Pillow's Image.resize(size, Image.BILINEAR) on an 8-bit RGB image, bit-exact:
// separable (horizontal pass, then vertical), triangle filter widened by the
// scale when shrinking (antialiasing), coefficients in 22-bit fixed point,
// rounded and clamped to 8 bits after each pass.
Image resize_bilinear_pil(const Image& src, int out_width, int out_height);

// Sam.pixel_mean / pixel_std (ImageNet statistics in 0..255).
inline constexpr float kPixelMean[3] = {123.675f, 116.28f, 103.53f};
inline constexpr float kPixelStd[3] = {58.395f, 57.12f, 57.375f};

// resized [h, w, 3] uint8 -> normalised, padded [1, 3, S, S] f32.
engine::Tensor normalize_and_pad(const Image& resized, int img_size);

}  // namespace sam
