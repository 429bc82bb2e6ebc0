// Run-time choices of the engine, in one object: set by the CLI or by an API
// user before the first model is built, or taken from the environment (the
// only place SAM_GEMM, SAM_ATTENTION and SAM_ISA are read).
#pragma once

#include <string>

namespace engine {

// Our packed GEMM (default), the OpenBLAS f32 baseline (every f32 GEMM), or
// the oneDNN baseline of the Linear layers (f32 or bf16: kernels/gemm_onednn.h).
enum class GemmBackend { Packed, OpenBlas, OneDnn };
const char* gemm_backend_name(GemmBackend g);  // "packed" | "openblas" | "onednn"
enum class AttentionPath { Fused, Unfused };        // flash-style kernel (default) or the reference path
// The image encoder's GEMM inputs: f32, or bf16 (weights and activations rounded
// to bf16, products summed in f32: AMX / AVX512-BF16 where the CPU has them).
enum class Precision { F32, Bf16 };

// "f32" | "bf16"; parse_precision throws engine::Error naming the accepted values.
const char* precision_name(Precision p);
Precision parse_precision(const std::string& name);

struct RuntimeOptions {
  int threads = 0;                          // worker threads; 0 = all cores
  std::string isa_cap;                      // "" = the best the CPU has; "scalar" | "avx2" | "avx512": a cap
  GemmBackend gemm = GemmBackend::Packed;   // SAM_GEMM=openblas|onednn
  AttentionPath attention = AttentionPath::Fused;  // SAM_ATTENTION=unfused
  Precision precision = Precision::F32;     // SAM_PRECISION=bf16
  // (Later: device.)

  // Defaults overridden by SAM_GEMM=openblas|onednn, SAM_ATTENTION=unfused,
  // SAM_ISA=scalar|avx2|avx512 and SAM_PRECISION=f32|bf16. Throws engine::Error
  // on any other value.
  static RuntimeOptions from_environment();
  // "threads 2, isa cap none, gemm packed, attention fused, precision f32"
  std::string str() const;
};

// The options in force. The first call fixes them (from_environment() unless
// set_runtime_options() came first).
const RuntimeOptions& runtime_options();
// A copy of the options to change and hand to set_runtime_options(): the ones
// in force, or (before anything fixed them) the environment's, without fixing them.
RuntimeOptions runtime_options_to_edit();
// Sets the options; the thread count applies at once. The GEMM backend,
// attention path, precision and ISA cap shape the packed weights and the kernel table, so
// they can only be set before the first runtime_options() call (say, before
// the first model is built); a later call that changes them throws engine::Error.
void set_runtime_options(const RuntimeOptions& options);

// What this CPU runs: its feature flags and the kernel tier in use,
// e.g. "avx2 fma f16c avx512f ... -> kernels avx512".
std::string cpu_description();
// The kernel tier in use ("scalar", "avx2", "avx512").
std::string kernel_isa();
// What bf16 precision runs on here, e.g. "gemm bf16: avx512_bf16, attention bf16:
// avx512_bf16", or "gemm bf16: scalar (no AMX or AVX512-BF16: emulated, slower
// than f32), attention f32 (no bf16 hardware)".
std::string bf16_gemm_description();
// True when the kernel table's bf16 GEMM runs on bf16 hardware (AMX or
// AVX512-BF16), not the portable emulation (correct but slower than f32).
bool bf16_gemm_in_hardware();
// The GEMM backend in use and the baselines this build has, e.g. "packed
// (baselines: openblas, onednn = oneDNN 2.6.3 (OpenMP runtime))".
std::string gemm_description();
// The variant each kernel family got: "convert: avx512, eltwise: avx512, gemm: avx512, ...".
std::string kernel_variants();

}  // namespace engine
