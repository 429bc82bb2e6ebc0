// Run-time choices of the engine, in one object: set by the CLI or by an API
// user before the first model is built, or taken from the environment (the
// only place SAM_GEMM, SAM_ATTENTION and SAM_ISA are read).
#pragma once

#include <string>

namespace engine {

enum class GemmBackend { Packed, OpenBlas };       // our packed GEMM (default) or the OpenBLAS baseline
enum class AttentionPath { Fused, Unfused };        // flash-style kernel (default) or the reference path

struct RuntimeOptions {
  int threads = 0;                          // worker threads; 0 = all cores
  std::string isa_cap;                      // "" = the best the CPU has; "scalar" | "avx2" | "avx512": a cap
  GemmBackend gemm = GemmBackend::Packed;   // SAM_GEMM=openblas
  AttentionPath attention = AttentionPath::Fused;  // SAM_ATTENTION=unfused
  // (Later: precision, device.)

  // Defaults overridden by SAM_GEMM=openblas, SAM_ATTENTION=unfused and
  // SAM_ISA=scalar|avx2|avx512. Throws engine::Error on any other value.
  static RuntimeOptions from_environment();
  // "threads 2, isa cap none, gemm packed, attention fused"
  std::string str() const;
};

// The options in force. The first call fixes them (from_environment() unless
// set_runtime_options() came first).
const RuntimeOptions& runtime_options();
// Sets the options; the thread count applies at once. The GEMM backend,
// attention path and ISA cap shape the packed weights and the kernel table, so
// they can only be set before the first runtime_options() call (say, before
// the first model is built); a later call that changes them throws engine::Error.
void set_runtime_options(const RuntimeOptions& options);

// What this CPU runs: its feature flags and the kernel tier in use,
// e.g. "avx2 fma f16c avx512f ... -> kernels avx512".
std::string cpu_description();
// The kernel tier in use ("scalar", "avx2", "avx512").
std::string kernel_isa();
// The variant each kernel family got: "convert: avx512, eltwise: avx512, gemm: avx512, ...".
std::string kernel_variants();

}  // namespace engine
