// One implementation of a kernel family (e.g. the avx512 gemm): its name, the
// CPU features it needs and its function pointers (the family's slots struct,
// e.g. GemmKernels in kernels/gemm.h). Each family lists its variants, best
// first, in kernels/cpu/<family>_variants.cpp; the kernel table takes the first
// one whose needs the allowed features contain (kernels/table.h).
#pragma once

#include <span>

#include "kernels/cpu_features.h"

namespace kernels {

template <class Slots>
struct Variant {
  const char* name = nullptr;  // "avx512", "avx2", "scalar", "ref", ...
  FeatureSet needs;            // every feature the variant's code uses
  const Slots* slots = nullptr;
  // Optional run-time check beyond cpuid, asked only when `needs` is allowed
  // (e.g. request_amx_permission for AMX variants); false skips the variant.
  bool (*ready)() = nullptr;
};

// A family's slots struct declares (the family's contract header):
//   static constexpr const char* family = "gemm";
//   static std::span<const Variant<GemmKernels>> variants();  // best first; the last needs nothing
// and defines variants() in kernels/cpu/gemm_variants.cpp.
template <class Slots>
using VariantList = std::span<const Variant<Slots>>;

}  // namespace kernels
