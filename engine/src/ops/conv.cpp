#include "engine/ops/conv.h"
#include "../kernel_table.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "kernels/conv.h"

namespace engine::ops {
namespace {

// Both argument structs share the geometry fields; rows of the output are
// independent, so each thread gets a band [row_begin, row_end).
template <typename Args, typename Kernel>
void run_by_output_rows(Args a, const float* in, const ConvShape& s, const float* bias, bool gelu, float* out,
                        Kernel kernel, int row_begin = 0, int row_end = -1) {
  a.in = in;
  a.h = s.h;
  a.w = s.w;
  a.bias = bias;
  a.k = s.k;
  a.stride = s.stride;
  a.pad = s.pad;
  a.gelu = gelu;
  a.out = out;
  a.out_h = s.out_h();
  a.out_w = s.out_w();
  thread_pool().parallel_for(row_begin, row_end < 0 ? a.out_h : row_end, 1, [&](int64_t lo, int64_t hi) {
    Args part = a;
    part.row_begin = static_cast<int>(lo);
    part.row_end = static_cast<int>(hi);
    kernel(part);
  });
}

}  // namespace

void depthwise_conv2d(const float* in, int c, const ConvShape& s, const float* weight, const float* bias, bool gelu,
                      float* out) {
  depthwise_conv2d_rows(in, 0, c, s, weight, bias, gelu, 0, s.out_h(), out);
}

void depthwise_conv2d_rows(const float* in, int in_row0, int c, const ConvShape& s, const float* weight,
                           const float* bias, bool gelu, int row_begin, int row_end, float* out) {
  check(row_begin >= 0 && row_begin <= row_end && row_end <= s.out_h() && in_row0 >= 0 &&
            in_row0 <= std::max(0, row_begin * s.stride - s.pad),
        "depthwise_conv2d_rows: output rows [{}, {}) of {} from input rows {}.. do not fit", row_begin, row_end,
        s.out_h(), in_row0);
  kernels::DepthwiseConv2dArgs a;
  a.c = c;
  a.weight = weight;
  a.in_row0 = in_row0;
  a.out_row0 = row_begin;
  run_by_output_rows(a, in, s, bias, gelu, out, kernel_table().depthwise_conv2d, row_begin, row_end);
}

void conv2d(const float* in, int cin, int cout, const ConvShape& s, const float* weight, const float* bias, bool gelu,
            float* out) {
  kernels::Conv2dArgs a;
  a.cin = cin;
  a.cout = cout;
  a.weight = weight;
  run_by_output_rows(a, in, s, bias, gelu, out, kernel_table().conv2d);
}

}  // namespace engine::ops
