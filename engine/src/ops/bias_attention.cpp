#include "engine/ops/bias_attention.h"
#include "../kernel_table.h"

#include "engine/thread_pool.h"
#include "kernels/bias_attention.h"

namespace engine::ops {

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
  // One job per (window, head): each reads its own q/k/v columns, writes its own output columns.
  thread_pool().parallel_for(0, int64_t{windows} * heads, 1, [&](int64_t lo, int64_t hi) {
    kernels::BiasAttentionArgs part = a;
    part.job_begin = static_cast<int>(lo);
    part.job_end = static_cast<int>(hi);
    kernel_table().bias_attention(part);
  });
}

}  // namespace engine::ops
