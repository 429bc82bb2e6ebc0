// Combining partial token-to-image attention results (kernels/two_way_attention.h):
// the log-sum-exp merge of two ranges of image tokens, and the final division.
#include <algorithm>
#include <cmath>

#include "kernels/two_way_attention.h"

namespace kernels {

void tokens_to_image_merge(int j, int d, float* ya, int64_t ldya, float* ma, float* la, const float* yb,
                           int64_t ldyb, const float* mb, const float* lb) {
  for (int r = 0; r < j; ++r) {
    if (mb[r] == -INFINITY) continue;  // b saw no tokens
    const float m = std::max(ma[r], mb[r]);
    const float fa = ma[r] == -INFINITY ? 0.f : std::exp(ma[r] - m), fb = std::exp(mb[r] - m);
    float* y = ya + r * ldya;
    const float* z = yb + r * ldyb;
    for (int c = 0; c < d; ++c) y[c] = y[c] * fa + z[c] * fb;
    la[r] = la[r] * fa + lb[r] * fb;
    ma[r] = m;
  }
}

void tokens_to_image_normalize(int j, int d, float* y, int64_t ldy, const float* l) {
  for (int r = 0; r < j; ++r) {
    const float inv = 1.f / l[r];
    float* yr = y + r * ldy;
    for (int c = 0; c < d; ++c) yr[c] *= inv;
  }
}

}  // namespace kernels
