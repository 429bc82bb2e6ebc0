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
// Output rows [row_begin, row_end) only, from a window of the input: `in` holds input rows
// from in_row0 on (at least those the output rows read: from row_begin * stride - pad, clipped
// to 0, to (row_end - 1) * stride - pad + k, clipped to h) and `out` receives the output rows
// from row_begin on. A caller that streams an image through in row strips keeps only those.
void depthwise_conv2d_rows(const float* in, int in_row0, int c, const ConvShape& s, const float* weight,
                           const float* bias, bool gelu, int row_begin, int row_end, float* out);
// Dense: weight [k, k, cin, cout], bias [cout] or nullptr.
void conv2d(const float* in, int cin, int cout, const ConvShape& s, const float* weight, const float* bias, bool gelu,
            float* out);

}  // namespace engine::ops
