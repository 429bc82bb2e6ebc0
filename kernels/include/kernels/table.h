// The kernel table: one function pointer per kernel, filled once at start-up.
// Kernels come in families (convert, eltwise, gemm, ...); each family's slots
// struct (in its contract header) lists its variants, best first, with the CPU
// features each needs, and the table takes per family the first variant whose
// needs the allowed features contain (docs/kernels.md). Callers go through
// kernels::table(); nothing else in the code base branches on the ISA.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_bf16.h"
#include "kernels/bias_attention.h"
#include "kernels/conv.h"
#include "kernels/convert.h"
#include "kernels/cpu_features.h"
#include "kernels/eltwise.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/mask_upscale.h"
#include "kernels/norm.h"
#include "kernels/resample.h"
#include "kernels/two_way_attention.h"

namespace kernels {

// The named tiers (tests, benchmarks, the SAM_ISA cap): each is a fixed feature set
// (tier::scalar / avx2 / avx512 in cpu_features.h) used as a cap.
enum class Isa { Scalar, Avx2, Avx512 };
const char* isa_name(Isa isa);
FeatureSet isa_features(Isa isa);

// The slots of every family, as bases: table.gemm_run, table.gelu, ...
template <class... Families>
struct KernelFamilies : Families... {
  static constexpr size_t family_count = sizeof...(Families);
  static constexpr std::array<const char*, family_count> family_names{Families::family...};
};

// The one central list of kernel families: adding a family is one entry here.
using AllKernelFamilies = KernelFamilies<ConvertKernels, EltwiseKernels, GemmKernels, TwoWayAttentionKernels,
                                         MaskUpscaleKernels, AttentionKernels, ResampleKernels, GemmBf16Kernels,
                                         AttentionBf16Kernels, ConvKernels, BiasAttentionKernels>;

struct KernelTable : AllKernelFamilies {
  Isa isa = Isa::Scalar;  // the highest named tier within `features`
  FeatureSet features;    // what the variants were allowed to use (cap and CPU)
  // The variant each family got ("avx512", "avx2", "scalar", "ref", ...), in
  // family_names order.
  std::array<const char*, family_count> variant_names{};
};

// The table for this CPU (chosen on first use; thread-safe), restricted to
// allowed_features().
const KernelTable& table();
// A table restricted to `isa` (for tests and benchmarks); throws
// std::runtime_error if the CPU lacks it.
KernelTable table_for(Isa isa);
// A table using at most `allowed` (intersected with this CPU's features);
// never throws (the last variant of every family needs nothing).
KernelTable table_for(const FeatureSet& allowed);
// The best named tier within allowed_features().
Isa best_isa();
// What table() may use: this CPU's features capped by set_table_cap(). (The
// kernels read no environment: SAM_ISA is read by engine's RuntimeOptions,
// which sets the cap before the engine first uses the table.)
FeatureSet allowed_features();
// Caps what table() may use, before its first use: false, changing nothing,
// once table() has been built. Thread-safe.
bool set_table_cap(const FeatureSet& cap);

// (family, variant) per family, e.g. {"gemm", "avx512"}: of table(), or of `t`.
std::vector<std::pair<std::string, std::string>> selected_variants();
std::vector<std::pair<std::string, std::string>> selected_variants(const KernelTable& t);

}  // namespace kernels
