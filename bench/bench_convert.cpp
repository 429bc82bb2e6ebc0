// f32 <-> f16 / bf16 conversion kernels (used by sam-convert and weight loading).
// Each run first checks every ISA's output against the scalar reference on the
// same inputs, then times the kernels; bandwidth is read + write bytes, shown
// against a memcpy of the same size (the practical single-thread peak).
//   bench_convert [--n ELEMENTS] [--runs N]
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "kernels/convert.h"
#include "kernels/table.h"

namespace {

struct Case {
  const char* name;
  size_t in_bytes, out_bytes;
};

bool same_bits(const void* a, const void* b, size_t bytes) { return std::memcmp(a, b, bytes) == 0; }

}  // namespace

static int bench_main(int argc, char** argv) {
  size_t n = 16u << 20;  // 16 M elements: 64 MB of f32, far beyond the caches
  int runs = 9;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--n") n = std::stoul(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
  }
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> f32(n), f32_out(n), f32_ref(n);
  for (auto& x : f32) x = normal(rng) * 0.05f;
  std::vector<uint16_t> h(n), h_ref(n);

  const double peak = bench::memcpy_peak_gbs(n * 4, runs);
  fmt::print("conversion kernels, {} elements, median of {} runs; memcpy peak {:.1f} GB/s (1 thread)\n", n, runs,
             peak);
  fmt::print("{:<8} {:<14} {:>10} {:>10} {:>8} {:>10}\n", "isa", "kernel", "ms", "GB/s", "%peak", "vs scalar");

  std::vector<kernels::Isa> isas = {kernels::Isa::Scalar};
  if (kernels::best_isa() >= kernels::Isa::Avx2) isas.push_back(kernels::Isa::Avx2);
  if (kernels::best_isa() >= kernels::Isa::Avx512) isas.push_back(kernels::Isa::Avx512);

  // references
  kernels::ref::convert_f32_to_f16(f32.data(), h_ref.data(), n);
  std::vector<uint16_t> bf_ref(n);
  kernels::ref::convert_f32_to_bf16(f32.data(), bf_ref.data(), n);
  std::vector<float> from_h_ref(n), from_bf_ref(n);
  kernels::ref::convert_f16_to_f32(h_ref.data(), from_h_ref.data(), n);
  kernels::ref::convert_bf16_to_f32(bf_ref.data(), from_bf_ref.data(), n);

  double scalar_ms[4] = {};
  int failures = 0;
  for (kernels::Isa isa : isas) {
    const kernels::KernelTable t = kernels::table_for(isa);
    struct Run {
      const char* name;
      std::function<void()> fn;
      const void* out;
      const void* ref;
      size_t out_bytes;
      size_t bytes_moved;
    } cases[] = {
        {"f32->f16", [&] { t.convert_f32_to_f16(f32.data(), h.data(), n); }, h.data(), h_ref.data(), n * 2, n * 6},
        {"f32->bf16", [&] { t.convert_f32_to_bf16(f32.data(), h.data(), n); }, h.data(), bf_ref.data(), n * 2, n * 6},
        {"f16->f32", [&] { t.convert_f16_to_f32(h_ref.data(), f32_out.data(), n); }, f32_out.data(),
         from_h_ref.data(), n * 4, n * 6},
        {"bf16->f32", [&] { t.convert_bf16_to_f32(bf_ref.data(), f32_out.data(), n); }, f32_out.data(),
         from_bf_ref.data(), n * 4, n * 6},
    };
    for (int c = 0; c < 4; ++c) {
      Run& r = cases[c];
      std::memset(const_cast<void*>(r.out), 0xFF, r.out_bytes);  // poison (NaN patterns)
      r.fn();
      if (!same_bits(r.out, r.ref, r.out_bytes)) {
        fmt::print("{:<8} {:<14} MISMATCH against the scalar reference\n", kernels::isa_name(isa), r.name);
        ++failures;
        continue;
      }
      const double s = bench::median_seconds(runs, r.fn);
      const double gbs = static_cast<double>(r.bytes_moved) / s / 1e9;
      if (isa == kernels::Isa::Scalar) scalar_ms[c] = s * 1e3;
      fmt::print("{:<8} {:<14} {:>10.2f} {:>10.1f} {:>7.0f}% {:>9.2f}x\n", kernels::isa_name(isa), r.name, s * 1e3,
                 gbs, 100 * gbs / peak, scalar_ms[c] / (s * 1e3));
    }
  }
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  return bench::guarded_main(argc, argv, {{"--n N", "--runs N"}, {}, {}}, bench_main);
}
