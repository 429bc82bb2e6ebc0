// Window attention with a learned per-head bias (MobileSAM's TinyViT encoder),
// split over the thread pool by (window, head); kernels/bias_attention.h's best
// variant does the arithmetic.
#pragma once

namespace engine::ops {

// softmax(q k^T * scale + bias[head]) v for `windows` windows of n tokens:
// qkv [windows * n, heads * 3 * head_dim] (per head q, k, v of head_dim each),
// bias [heads, n, n], out [windows * n, heads * head_dim].
void bias_attention(const float* qkv, int windows, int n, int heads, int head_dim, float scale, const float* bias,
                    float* out);

}  // namespace engine::ops
