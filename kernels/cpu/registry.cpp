#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "kernel_decls.h"
#include "kernels/convert.h"
#include "kernels/eltwise.h"
#include "kernels/cpu_features.h"
#include "kernels/table.h"

namespace kernels {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

namespace {

bool cpu_supports(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return f.has_avx2_fma();
    case Isa::Avx512: return f.has_avx512() && f.has_avx2_fma();
  }
  return false;
}

}  // namespace

Isa best_isa() {
  Isa best = cpu_supports(Isa::Avx512) ? Isa::Avx512
             : cpu_supports(Isa::Avx2) ? Isa::Avx2
                                       : Isa::Scalar;
  if (const char* cap = std::getenv("SAM_ISA")) {
    const std::string_view c(cap);
    Isa wanted = best;
    if (c == "scalar") wanted = Isa::Scalar;
    else if (c == "avx2") wanted = Isa::Avx2;
    else if (c == "avx512") wanted = Isa::Avx512;
    if (static_cast<int>(wanted) < static_cast<int>(best)) best = wanted;
  }
  return best;
}

KernelTable table_for(Isa isa) {
  if (!cpu_supports(isa)) {
    throw std::runtime_error(std::string("this CPU does not support ") + isa_name(isa));
  }
  KernelTable t;
  t.isa = isa;
  t.convert_f32_to_f16 = ref::convert_f32_to_f16;
  t.convert_f16_to_f32 = ref::convert_f16_to_f32;
  t.convert_f32_to_bf16 = ref::convert_f32_to_bf16;
  t.convert_bf16_to_f32 = ref::convert_bf16_to_f32;
  t.gelu = ref::gelu;
  t.add = ref::add;
  t.softmax_rows = ref::softmax_rows;
  t.layer_norm = ref::layer_norm;
  t.gemm_mr = scalar::gemm_mr;
  t.gemm_nr = scalar::gemm_nr;
  t.gemm_packed_b_floats = scalar::gemm_packed_b_floats;
  t.gemm_pack_b_nk = scalar::gemm_pack_b_nk;
  t.gemm_jobs = scalar::gemm_jobs;
  t.gemm_run = scalar::gemm_run;
  t.tw_columns = scalar::tw_columns;
  t.tw_scratch_floats = scalar::tw_scratch_floats;
  t.tokens_to_image = scalar::tokens_to_image;
  t.image_to_tokens = scalar::image_to_tokens;
  t.mask_upscale_scratch_floats = scalar::mask_upscale_scratch_floats;
  t.mask_upscale = scalar::mask_upscale;
  t.attention_relpos_scratch_floats = scalar::attention_relpos_scratch_floats;
  t.attention_relpos = scalar::attention_relpos;
  t.resample_row = ref::resample_row;
  t.blend_rows = ref::blend_rows;
  t.blend_rows_threshold = ref::blend_rows_threshold;
  if (isa == Isa::Avx2) {
    t.convert_f32_to_f16 = avx2::convert_f32_to_f16;
    t.convert_f16_to_f32 = avx2::convert_f16_to_f32;
    t.convert_f32_to_bf16 = avx2::convert_f32_to_bf16;
    t.convert_bf16_to_f32 = avx2::convert_bf16_to_f32;
    t.gelu = avx2::gelu;
    t.add = avx2::add;
    t.softmax_rows = avx2::softmax_rows;
    t.layer_norm = avx2::layer_norm;
    t.gemm_mr = avx2::gemm_mr;
    t.gemm_nr = avx2::gemm_nr;
    t.gemm_packed_b_floats = avx2::gemm_packed_b_floats;
    t.gemm_pack_b_nk = avx2::gemm_pack_b_nk;
    t.gemm_jobs = avx2::gemm_jobs;
    t.gemm_run = avx2::gemm_run;
    t.tw_columns = avx2::tw_columns;
    t.tw_scratch_floats = avx2::tw_scratch_floats;
    t.tokens_to_image = avx2::tokens_to_image;
    t.image_to_tokens = avx2::image_to_tokens;
    t.mask_upscale_scratch_floats = avx2::mask_upscale_scratch_floats;
    t.mask_upscale = avx2::mask_upscale;
    t.attention_relpos_scratch_floats = avx2::attention_relpos_scratch_floats;
    t.attention_relpos = avx2::attention_relpos;
    t.resample_row = avx2::resample_row;
    t.blend_rows = avx2::blend_rows;
    t.blend_rows_threshold = avx2::blend_rows_threshold;
  } else if (isa == Isa::Avx512) {
    t.convert_f32_to_f16 = avx512::convert_f32_to_f16;
    t.convert_f16_to_f32 = avx512::convert_f16_to_f32;
    t.convert_f32_to_bf16 = avx512::convert_f32_to_bf16;
    t.convert_bf16_to_f32 = avx512::convert_bf16_to_f32;
    t.gelu = avx512::gelu;
    t.add = avx512::add;
    t.softmax_rows = avx512::softmax_rows;
    t.layer_norm = avx512::layer_norm;
    t.gemm_mr = avx512::gemm_mr;
    t.gemm_nr = avx512::gemm_nr;
    t.gemm_packed_b_floats = avx512::gemm_packed_b_floats;
    t.gemm_pack_b_nk = avx512::gemm_pack_b_nk;
    t.gemm_jobs = avx512::gemm_jobs;
    t.gemm_run = avx512::gemm_run;
    t.tw_columns = avx512::tw_columns;
    t.tw_scratch_floats = avx512::tw_scratch_floats;
    t.tokens_to_image = avx512::tokens_to_image;
    t.image_to_tokens = avx512::image_to_tokens;
    t.mask_upscale_scratch_floats = avx512::mask_upscale_scratch_floats;
    t.mask_upscale = avx512::mask_upscale;
    t.attention_relpos_scratch_floats = avx512::attention_relpos_scratch_floats;
    t.attention_relpos = avx512::attention_relpos;
    t.resample_row = avx512::resample_row;
    t.blend_rows = avx512::blend_rows;
    t.blend_rows_threshold = avx512::blend_rows_threshold;
  }
  return t;
}

const KernelTable& table() {
  static const KernelTable t = table_for(best_isa());
  return t;
}

}  // namespace kernels
