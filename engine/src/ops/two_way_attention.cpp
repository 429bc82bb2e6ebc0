#include "engine/ops/two_way_attention.h"
#include "../kernel_table.h"

#include <algorithm>

#include "engine/thread_pool.h"
#include "kernels/table.h"

namespace engine::ops {

int two_way_columns(int j) { return kernel_table().tw_columns(j); }

size_t two_way_scratch_floats(int width, int jp) { return kernel_table().tw_scratch_floats(width, jp); }

void tokens_to_image(const TokensToImageArgs& base, int64_t p, float* part0, int64_t part_stride, float* kern0,
                     int64_t kern_stride, float* y_out) {
  const kernels::KernelTable& kt = kernel_table();
  const int j = base.j, dv = base.d;
  thread_pool().run([&](int worker, int workers) {
    float* part = part0 + worker * part_stride;
    TokensToImageArgs a = base;
    a.p0 = p * worker / workers;
    a.p1 = p * (worker + 1) / workers;
    a.y = part;
    a.ldy = dv;
    a.m = part + int64_t{j} * dv;
    a.l = part + int64_t{j} * dv + j;
    a.scratch = kern0 + worker * kern_stride;
    kt.tokens_to_image(a);
  });
  const int workers = thread_pool().num_threads();
  for (int w = 1; w < workers; ++w) {
    const float* pw = part0 + w * part_stride;
    kernels::tokens_to_image_merge(j, dv, part0, dv, part0 + int64_t{j} * dv, part0 + int64_t{j} * dv + j, pw, dv,
                                   pw + int64_t{j} * dv, pw + int64_t{j} * dv + j);
  }
  kernels::tokens_to_image_normalize(j, dv, part0, dv, part0 + int64_t{j} * dv + j);
  std::copy(part0, part0 + int64_t{j} * dv, y_out);
}

void image_to_tokens(const ImageToTokensArgs& base, int64_t p, float* kern0, int64_t kern_stride) {
  const kernels::KernelTable& kt = kernel_table();
  thread_pool().run([&](int worker, int workers) {
    ImageToTokensArgs a = base;
    a.p0 = p * worker / workers;
    a.p1 = p * (worker + 1) / workers;
    a.scratch = kern0 + worker * kern_stride;
    kt.image_to_tokens(a);
  });
}

}  // namespace engine::ops
