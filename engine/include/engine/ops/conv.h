// Channels-last convolutions (MobileSAM's TinyViT encoder), split over the thread
// pool by output rows; the kernel table's best variants (kernels/conv.h) do the
// arithmetic.
#pragma once

namespace engine::ops {

// A k x k convolution on channels-last [h, w, c] images, zero padding `pad`,
// optional bias [cout] and exact GELU after it. Output [out_h, out_w, cout] with
// out = (in + 2 pad - k) / stride + 1.
struct ConvShape {
  int h = 0, w = 0, k = 3, stride = 1, pad = 1;
  int out_h() const { return (h + 2 * pad - k) / stride + 1; }
  int out_w() const { return (w + 2 * pad - k) / stride + 1; }
};

// groups == channels: weight [k, k, c] (tap-major), bias [c] or nullptr.
void depthwise_conv2d(const float* in, int c, const ConvShape& s, const float* weight, const float* bias, bool gelu,
                      float* out);
// Dense: weight [k, k, cin, cout], bias [cout] or nullptr.
void conv2d(const float* in, int cin, int cout, const ConvShape& s, const float* weight, const float* bias, bool gelu,
            float* out);

}  // namespace engine::ops
