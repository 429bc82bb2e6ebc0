// Channels-last convolutions of MobileSAM's TinyViT encoder
// (mobile_sam/modeling/tiny_vit_sam.py, Conv2d_BN with BatchNorm folded in):
//   depthwise_conv2d: groups == channels, k x k, stride 1 or 2 (MBConv.conv2,
//                     PatchMerging.conv2, TinyViTBlock.local_conv)
//   conv2d:           a dense k x k conv with stride (PatchEmbed.seq.0 / seq.2: 3x3 stride 2)
// Images are [h, w, c] row-major (c fastest). Zero padding `pad` on every side;
// out_h = (h + 2 pad - k) / stride + 1 (likewise out_w). Each call computes the
// output rows [row_begin, row_end) so that callers split rows across threads.
// 1x1 convs are GEMMs (engine::ops::Linear), not here.
#pragma once

#include "kernels/variant.h"

namespace kernels {

struct DepthwiseConv2dArgs {
  const float* in = nullptr;  // [h, w, c]
  int h = 0, w = 0, c = 0;
  const float* weight = nullptr;  // [k, k, c]: tap (ky, kx) of channel ch at (ky * k + kx) * c + ch
  const float* bias = nullptr;    // [c] or nullptr
  int k = 3, stride = 1, pad = 1;
  bool gelu = false;  // out = gelu(conv + bias), exact (erf) GELU as nn.GELU
  float* out = nullptr;  // [out_h, out_w, c]
  int out_h = 0, out_w = 0;
  int row_begin = 0, row_end = 0;  // output rows computed by this call
  // A window of the images: `in` holds input rows from in_row0 on (every row the output rows
  // [row_begin, row_end) read), `out` output rows from out_row0 on. 0: the whole images.
  int in_row0 = 0, out_row0 = 0;
};

struct Conv2dArgs {
  const float* in = nullptr;  // [h, w, cin]
  int h = 0, w = 0, cin = 0;
  const float* weight = nullptr;  // [k, k, cin, cout]: (ky, kx, ci) rows of cout
  const float* bias = nullptr;    // [cout] or nullptr
  int cout = 0, k = 3, stride = 1, pad = 1;
  bool gelu = false;
  float* out = nullptr;  // [out_h, out_w, cout]
  int out_h = 0, out_w = 0;
  int row_begin = 0, row_end = 0;
};

namespace ref {
void depthwise_conv2d(const DepthwiseConv2dArgs& a);
void conv2d(const Conv2dArgs& a);
}  // namespace ref

// The conv family's slots in the kernel table (kernels/table.h); its variants:
// kernels/cpu/conv_variants.cpp.
struct ConvKernels {
  static constexpr const char* family = "conv";
  static VariantList<ConvKernels> variants();  // best first
  void (*depthwise_conv2d)(const DepthwiseConv2dArgs& a) = nullptr;
  void (*conv2d)(const Conv2dArgs& a) = nullptr;
};

}  // namespace kernels
