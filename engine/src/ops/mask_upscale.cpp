#include "engine/ops/mask_upscale.h"
#include "../kernel_table.h"

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "kernels/table.h"

namespace engine::ops {

size_t mask_upscale_scratch_floats(int g, int d, int c1, int c2, int m, bool bf16) {
  const kernels::KernelTable& kt = kernel_table();
  return bf16 ? kt.mask_upscale_bf16_scratch_floats(g, d, c1, c2, m, kt) : kt.mask_upscale_scratch_floats(g, d, c1, c2, m);
}

size_t mask_upscale_packed_fb_floats(int n, int k) { return kernel_table().gemm_packed_b_floats(n, k); }

void mask_upscale_pack_fb(const float* fb, int n, int k, int64_t ldfb, float* out) {
  kernel_table().gemm_pack_b_nk(fb, n, k, ldfb, out);
}

void mask_upscale(const MaskUpscaleArgs& base, float* scratch0, int64_t scratch_stride) {
  const kernels::KernelTable& kt = kernel_table();
  const int g = base.g;
  const bool bf16 = base.w1_packed_bf16 != nullptr;
  check(!base.fa || (!bf16 && base.fb_packed && base.x_scale && base.fk > 0 && base.d == 4 * base.c1),
        "mask_upscale: the factored ConvT1 needs f32, fb_packed, x_scale, fk > 0 and D = 4*C1 (fk {}, D {}, C1 {})",
        base.fk, base.d, base.c1);
  const auto kernel = bf16 ? kt.mask_upscale_bf16 : kt.mask_upscale;
  thread_pool().run([&](int worker, int workers) {
    MaskUpscaleArgs a = base;
    if (bf16) a.gemm_bf16 = &kt;
    a.row0 = static_cast<int>(int64_t{g} * worker / workers);
    a.row1 = static_cast<int>(int64_t{g} * (worker + 1) / workers);
    a.scratch = scratch0 + worker * scratch_stride;
    if (a.row0 < a.row1) kernel(a);
  });
}

}  // namespace engine::ops
