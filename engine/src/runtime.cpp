#include "engine/runtime.h"
#include "kernel_table.h"

#include <cstdlib>
#include <mutex>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops/blas.h"
#include "engine/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm_onednn.h"
#include "kernels/table.h"

namespace engine {
namespace {

std::mutex& options_mutex() {
  static std::mutex m;
  return m;
}

std::optional<RuntimeOptions>& current() {
  static std::optional<RuntimeOptions> options;
  return options;
}

// The kernel table takes its cap when first built; the engine builds it only
// through kernel_table() below, after the options are fixed.
void apply_isa_cap(const std::string& cap) {
  if (cap.empty()) return;
  const kernels::Isa tier = cap == "scalar" ? kernels::Isa::Scalar : cap == "avx2" ? kernels::Isa::Avx2 : kernels::Isa::Avx512;
  const bool ok = kernels::set_table_cap(kernels::isa_features(tier));
  check(ok || static_cast<int>(kernels::table().isa) <= static_cast<int>(tier),
        "runtime options: ISA cap {} comes after the kernel table was built (with {} kernels)", cap,
        kernels::isa_name(kernels::table().isa));
}

bool same_fixed_choices(const RuntimeOptions& a, const RuntimeOptions& b) {
  return a.isa_cap == b.isa_cap && a.gemm == b.gemm && a.attention == b.attention && a.precision == b.precision;
}

void check_combination(const RuntimeOptions& o) {
  check(!(o.precision == Precision::Bf16 && o.gemm == GemmBackend::OpenBlas),
        "runtime options: bf16 precision needs the packed GEMM or oneDNN (OpenBLAS is the f32 baseline)");
  check(o.gemm != GemmBackend::OneDnn || kernels::onednn_available(), "runtime options: SAM_GEMM=onednn: oneDNN is {}",
        kernels::onednn_description());
  check(!(o.gemm == GemmBackend::OneDnn && o.precision == Precision::Bf16) || kernels::onednn_bf16_available(),
        "runtime options: SAM_GEMM=onednn with bf16 precision: {} has no bf16 matmul for this CPU (it needs AVX-512)",
        kernels::onednn_description());
}

}  // namespace

const char* precision_name(Precision p) { return p == Precision::Bf16 ? "bf16" : "f32"; }

const char* gemm_backend_name(GemmBackend g) {
  return g == GemmBackend::OpenBlas ? "openblas" : g == GemmBackend::OneDnn ? "onednn" : "packed";
}

Precision parse_precision(const std::string& name) {
  if (name == "f32") return Precision::F32;
  if (name == "bf16") return Precision::Bf16;
  fail("precision '{}': expected f32 or bf16", name);
}

RuntimeOptions RuntimeOptions::from_environment() {
  RuntimeOptions o;
  if (const char* v = std::getenv("SAM_GEMM")) {
    const std::string_view s(v);
    check(s == "openblas" || s == "onednn" || s == "packed" || s.empty(), "SAM_GEMM={}: expected packed, openblas or onednn",
          s);
    if (s == "openblas") o.gemm = GemmBackend::OpenBlas;
    if (s == "onednn") o.gemm = GemmBackend::OneDnn;
  }
  if (const char* v = std::getenv("SAM_ATTENTION")) {
    const std::string_view s(v);
    check(s == "unfused" || s == "fused" || s.empty(), "SAM_ATTENTION={}: expected fused or unfused", s);
    if (s == "unfused") o.attention = AttentionPath::Unfused;
  }
  if (const char* v = std::getenv("SAM_ISA")) {
    const std::string_view s(v);
    check(s == "scalar" || s == "avx2" || s == "avx512" || s.empty(), "SAM_ISA={}: expected scalar, avx2 or avx512",
          s);
    o.isa_cap = std::string(s);
  }
  if (const char* v = std::getenv("SAM_PRECISION")) {
    const std::string_view s(v);
    check(s == "f32" || s == "bf16" || s.empty(), "SAM_PRECISION={}: expected f32 or bf16", s);
    if (s == "bf16") o.precision = Precision::Bf16;
  }
  check_combination(o);
  return o;
}

std::string RuntimeOptions::str() const {
  return fmt::format("threads {}, isa cap {}, gemm {}, attention {}, precision {}",
                     threads == 0 ? default_num_threads() : threads, isa_cap.empty() ? "none" : isa_cap,
                     gemm_backend_name(gemm),
                     attention == AttentionPath::Fused ? "fused" : "unfused", precision_name(precision));
}

RuntimeOptions runtime_options_to_edit() {
  std::lock_guard<std::mutex> lock(options_mutex());
  return current() ? *current() : RuntimeOptions::from_environment();
}

const RuntimeOptions& runtime_options() {
  std::lock_guard<std::mutex> lock(options_mutex());
  if (!current()) {
    current() = RuntimeOptions::from_environment();
    apply_isa_cap(current()->isa_cap);
  }
  return *current();
}

void set_runtime_options(const RuntimeOptions& options) {
  check(options.threads >= 0, "runtime options: threads must be >= 0, got {}", options.threads);
  check_combination(options);
  {
    std::lock_guard<std::mutex> lock(options_mutex());
    if (current()) {
      check(same_fixed_choices(*current(), options),
            "runtime options: the GEMM backend, attention path, precision and ISA cap are fixed once in use ({}); "
            "set them before the first model is built",
            current()->str());
      current()->threads = options.threads;
    } else {
      current() = options;
      apply_isa_cap(options.isa_cap);
    }
  }
  if (options.threads > 0) {
    set_num_threads(options.threads);
    ops::set_blas_threads(ops::blas_threads_for(options.threads));
  }
}

const kernels::KernelTable& kernel_table() {
  static const bool resolved = (runtime_options(), true);  // the ISA cap applies first
  (void)resolved;
  return kernels::table();
}

std::string gemm_description() {
  const std::string onednn = kernels::onednn_available() ? "onednn = " + kernels::onednn_description()
                                                         : "onednn " + kernels::onednn_description();
  return fmt::format("{} (baselines: openblas, {}; SAM_GEMM=packed|openblas|onednn)",
                     gemm_backend_name(runtime_options().gemm), onednn);
}

std::string kernel_isa() { return kernels::isa_name(kernel_table().isa); }

std::string kernel_variants() {
  kernel_table();
  std::string out;
  for (const auto& [family, variant] : kernels::selected_variants())
    out += (out.empty() ? "" : ", ") + family + ": " + variant;
  return out;
}

namespace {
// A bf16 kernel variant on bf16 hardware (AMX, AVX512-BF16), not the portable emulation.
bool bf16_hardware_variant(const std::string& v) { return v != "scalar" && v != "ref" && v != "none"; }
}  // namespace

std::string bf16_gemm_description() {
  kernel_table();
  std::string gemm = "none", attention = "none";
  for (const auto& [family, variant] : kernels::selected_variants()) {
    if (family == "gemm_bf16") gemm = variant;
    if (family == "attention_bf16") attention = variant;
  }
  return "gemm bf16: " + gemm +
         (bf16_hardware_variant(gemm) ? "" : " (no AMX or AVX512-BF16: emulated, slower than f32)") +
         ", attention " +
         (bf16_hardware_variant(attention) ? "bf16: " + attention : std::string("f32 (no bf16 hardware)"));
}

bool bf16_gemm_in_hardware() {
  kernel_table();
  for (const auto& [family, variant] : kernels::selected_variants())
    if (family == "gemm_bf16") return bf16_hardware_variant(variant);
  return false;
}

std::string cpu_description() {
  return fmt::format("{} -> kernels {}", kernels::cpu_features().str(), kernel_isa());
}

}  // namespace engine
