// The finite-weights check at model load (sam::Weights, engine::ops::find_nonfinite
// over the eltwise find_nonfinite kernel): what it costs.
//   bench_finite_scan [--n ELEMENTS] [--runs N] [--model MODEL.safetensors]
// 1. The kernel of every ISA this CPU has on N floats (default 16 M, 64 MB: beyond
//    the caches), checked against the reference, in GB/s against a memcpy's read
//    bandwidth.
// 2. With --model (an f32 model: f16/bf16 ones are widened at load as well):
//    the scan over every tensor of the loaded model (its pages already touched),
//    and ModelFile::open (map and validate) against Weights::load (open, then
//    the scan, which is the first touch of every page), medians of --runs with
//    the page cache warm: their difference is what the check adds to a load.
#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/ops.h"
#include "engine/runtime.h"
#include "kernels/eltwise.h"
#include "kernels/table.h"
#include "sam/io/model_file.h"
#include "sam/io/weights.h"

namespace {

void bench_kernels(size_t n, int runs) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.f, 1.f);
  bench::AlignedVector<float> x(n);
  for (auto& v : x) v = normal(rng);
  const double peak = bench::memcpy_peak_gbs(n * 4, runs) / 2;  // read bytes only
  fmt::print("find_nonfinite, {} floats ({} MB), median of {} runs; memcpy read peak {:.1f} GB/s (1 thread)\n", n,
             n * 4 >> 20, runs, peak);
  std::vector<kernels::Isa> isas = {kernels::Isa::Scalar};
  if (kernels::best_isa() >= kernels::Isa::Avx2) isas.push_back(kernels::Isa::Avx2);
  if (kernels::best_isa() >= kernels::Isa::Avx512) isas.push_back(kernels::Isa::Avx512);
  const int64_t len = static_cast<int64_t>(n);
  for (kernels::Isa isa : isas) {
    const kernels::KernelTable& t = kernels::table_for(isa);
    x[n - 3] = std::numeric_limits<float>::quiet_NaN();  // check: found where the reference finds it
    const bool ok = t.find_nonfinite(x.data(), len) == kernels::ref::find_nonfinite(x.data(), len);
    x[n - 3] = 0.f;
    int64_t found = 0;
    const double s = bench::median_seconds(runs, [&] { found += t.find_nonfinite(x.data(), len); });
    fmt::print("  {:<8} {:8.2f} ms {:7.1f} GB/s {:5.0f}% of peak{}\n", kernels::isa_name(isa), s * 1e3,
               static_cast<double>(n * 4) / s / 1e9, 100 * static_cast<double>(n * 4) / s / 1e9 / peak,
               ok ? "" : "  MISMATCH");
  }
}

void bench_model(const std::string& path, int runs) {
  std::vector<std::string> names;
  uint64_t bytes = 0;
  const sam::ModelFile file = sam::ModelFile::open(path);
  for (const auto& e : file.file.entries()) names.push_back(e.name);
  const auto weights = sam::Weights::load(path);
  for (const std::string& name : names) bytes += static_cast<uint64_t>(weights->get(name).nbytes());
  const double scan = bench::median_seconds(runs, [&] {
    for (const std::string& name : names)
      if (engine::ops::find_nonfinite(weights->get(name)) >= 0) fmt::print("non-finite in {}\n", name);
  });
  const double load = bench::median_seconds(runs, [&] { sam::Weights::load(path); });
  const double open = bench::median_seconds(runs, [&] { sam::ModelFile::open(path); });
  fmt::print("{}: {} tensors, {:.1f} MB as f32\n", path, names.size(), static_cast<double>(bytes) / 1e6);
  fmt::print("  scan of every tensor   {:8.2f} ms ({:.1f} GB/s, kernels {})\n", scan * 1e3,
             static_cast<double>(bytes) / scan / 1e9, engine::kernel_isa());
  fmt::print("  ModelFile::open        {:8.2f} ms (map and validate; no weight byte read)\n", open * 1e3);
  fmt::print("  Weights::load          {:8.2f} ms (open + the scan, its first touch of every page: {:.2f} ms)\n",
             load * 1e3, (load - open) * 1e3);
}

}  // namespace

static int bench_main(int argc, char** argv) {
  size_t n = 16u << 20;
  int runs = 9;
  std::string model;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--n") n = std::stoul(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--model") model = argv[i + 1];
  }
  bench_kernels(n, runs);
  if (!model.empty()) bench_model(model, runs);
  return 0;
}

int main(int argc, char** argv) {
  return bench::guarded_main(argc, argv, {{"--n N", "--runs N", "--model FILE"}, {}, {}}, bench_main);
}
