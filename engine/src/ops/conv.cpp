#include "engine/ops/conv.h"
#include "../kernel_table.h"

#include "engine/thread_pool.h"
#include "kernels/bias_attention.h"
#include "kernels/conv.h"

namespace engine::ops {

void depthwise_conv2d(const float* in, int c, const ConvShape& s, const float* weight, const float* bias, bool gelu,
                      float* out) {
  kernels::DepthwiseConv2dArgs a;
  a.in = in;
  a.h = s.h;
  a.w = s.w;
  a.c = c;
  a.weight = weight;
  a.bias = bias;
  a.k = s.k;
  a.stride = s.stride;
  a.pad = s.pad;
  a.gelu = gelu;
  a.out = out;
  a.out_h = s.out_h();
  a.out_w = s.out_w();
  thread_pool().parallel_for(0, a.out_h, 1, [&](int64_t lo, int64_t hi) {
    kernels::DepthwiseConv2dArgs part = a;
    part.row_begin = static_cast<int>(lo);
    part.row_end = static_cast<int>(hi);
    kernel_table().depthwise_conv2d(part);
  });
}

void conv2d(const float* in, int cin, int cout, const ConvShape& s, const float* weight, const float* bias, bool gelu,
            float* out) {
  kernels::Conv2dArgs a;
  a.in = in;
  a.h = s.h;
  a.w = s.w;
  a.cin = cin;
  a.weight = weight;
  a.bias = bias;
  a.cout = cout;
  a.k = s.k;
  a.stride = s.stride;
  a.pad = s.pad;
  a.gelu = gelu;
  a.out = out;
  a.out_h = s.out_h();
  a.out_w = s.out_w();
  thread_pool().parallel_for(0, a.out_h, 1, [&](int64_t lo, int64_t hi) {
    kernels::Conv2dArgs part = a;
    part.row_begin = static_cast<int>(lo);
    part.row_end = static_cast<int>(hi);
    kernel_table().conv2d(part);
  });
}

void bias_attention(const float* qkv, int windows, int n, int heads, int head_dim, float scale, const float* bias,
                    float* out) {
  kernels::BiasAttentionArgs a;
  a.qkv = qkv;
  a.bias = bias;
  a.windows = windows;
  a.n = n;
  a.heads = heads;
  a.head_dim = head_dim;
  a.scale = scale;
  a.out = out;
  thread_pool().parallel_for(0, int64_t{windows} * heads, 1, [&](int64_t lo, int64_t hi) {
    kernels::BiasAttentionArgs part = a;
    part.job_begin = static_cast<int>(lo);
    part.job_end = static_cast<int>(hi);
    kernel_table().bias_attention(part);
  });
}

}  // namespace engine::ops
