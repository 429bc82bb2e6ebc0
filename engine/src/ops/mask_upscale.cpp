#include "engine/ops/mask_upscale.h"
#include "../kernel_table.h"

#include "engine/thread_pool.h"
#include "kernels/table.h"

namespace engine::ops {

size_t mask_upscale_scratch_floats(int g, int d, int c1, int c2, int m) {
  return kernel_table().mask_upscale_scratch_floats(g, d, c1, c2, m);
}

void mask_upscale(const MaskUpscaleArgs& base, float* scratch0, int64_t scratch_stride) {
  const kernels::KernelTable& kt = kernel_table();
  const int g = base.g;
  thread_pool().run([&](int worker, int workers) {
    MaskUpscaleArgs a = base;
    a.row0 = static_cast<int>(int64_t{g} * worker / workers);
    a.row1 = static_cast<int>(int64_t{g} * (worker + 1) / workers);
    a.scratch = scratch0 + worker * scratch_stride;
    if (a.row0 < a.row1) kt.mask_upscale(a);
  });
}

}  // namespace engine::ops
