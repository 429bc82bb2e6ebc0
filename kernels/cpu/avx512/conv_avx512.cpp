// Channels-last convolutions for avx512: cpu/simd/conv_impl.h over VecAvx512.
#include "kernels/conv.h"
#include "../simd/conv_impl.h"
#include "../simd/vec_avx512.h"

namespace kernels::avx512 {
namespace {

using C = simd::Conv<simd::VecAvx512>;

void depthwise_conv2d(const DepthwiseConv2dArgs& a) { C::depthwise_conv2d(a); }
void conv2d(const Conv2dArgs& a) { C::conv2d(a); }

}  // namespace

// The slots of this variant (listed in cpu/conv_variants.cpp): constant data, no code runs to make it.
extern constinit const ConvKernels conv_kernels{
    .depthwise_conv2d = depthwise_conv2d,
    .conv2d = conv2d,
};

}  // namespace kernels::avx512
