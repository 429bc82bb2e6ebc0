// Exact (erf) GELU, the activation of every SAM encoder's MLP, MobileSAM's convs and the
// mask decoder's upscaling, in place on n floats drawn from N(0, 2):
//   ours: the kernel table's gelu of each ISA this CPU has (kernels/eltwise.h; erf as
//     eight table-selected polynomials, scripts/fit_erf.py), one thread, and
//     engine::ops::gelu_rows on --threads threads;
//   peers: the scalar reference (std::erf, kernels::ref::gelu, what torch's scalar path
//     computes) and, when built with oneDNN, its eltwise_gelu_erf primitive.
// Two sizes: 64 K floats (256 KiB, cache-resident: the arithmetic) and 16.7 M floats
// (64 MiB, MobileSAM's MBConv hidden activation: memory). The input is restored (untimed)
// before every timed call. Reports the median ns per value, GB/s (4 bytes read + 4 written
// per value), the ratio to ours and the worst error |got - gelu(x)| / |x| against double.
//   bench_eltwise [--threads N] [--runs N]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/ops/rows.h"
#include "engine/runtime.h"
#include "engine/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/eltwise.h"
#include "kernels/table.h"

#ifdef SAM_HAVE_DNNL
#include <dnnl.hpp>
#if defined(_OPENMP)
#include <omp.h>
#endif
#endif

namespace {

// Median seconds of `fn` over `runs` calls, `src` copied into `work` (untimed) before each.
double median_restored(int runs, const bench::AlignedVector<float>& src, bench::AlignedVector<float>& work,
                       const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i <= runs; ++i) {
    std::memcpy(work.data(), src.data(), src.size() * sizeof(float));
    const auto a = std::chrono::steady_clock::now();
    fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    if (i > 0) t.push_back(s);  // the first call warms up
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double worst_error(const bench::AlignedVector<float>& x, const bench::AlignedVector<float>& got) {
  double w = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double xd = x[i];
    if (std::fabs(xd) < 1e-30) continue;
    const double want = 0.5 * xd * (1.0 + std::erf(xd / std::sqrt(2.0)));
    w = std::isnan(got[i]) ? INFINITY : std::max(w, std::fabs(got[i] - want) / std::fabs(xd));
  }
  return w;
}

}  // namespace

static int bench_main(int argc, char** argv) {
  const int threads = bench::int_option(argc, argv, "--threads", 2), runs = bench::int_option(argc, argv, "--runs", 21);
  engine::runtime_options();
  engine::set_num_threads(threads);
#if defined(SAM_HAVE_DNNL) && defined(_OPENMP)
  omp_set_num_threads(threads);
#endif
  fmt::print("GELU (exact, erf) in place, median of {} calls; GB/s = 8 bytes per value\n", runs);
  fmt::print("{:<34} {:>9} {:>10} {:>8} {:>8} {:>10}\n", "implementation", "values", "ns/value", "GB/s", "ratio",
             "max err/|x|");
  for (const size_t n : {size_t{1} << 16, size_t{1} << 24}) {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 2.f);
    bench::AlignedVector<float> src(n), work(n);
    for (float& v : src) v = nd(rng);
    const int r = n > (size_t{1} << 20) ? std::max(3, runs / 3) : runs;
    double ours = 0;
    const auto row = [&](const std::string& name, double s) {
      if (ours == 0) ours = s;
      fmt::print("{:<34} {:>9} {:>10.3f} {:>8.1f} {:>8.2f} {:>10.2e}\n", name, n, s * 1e9 / double(n),
                 8.0 * double(n) / s / 1e9, s / ours, worst_error(src, work));
    };
    row(fmt::format("ours gelu_rows, {} threads", threads),
        median_restored(r, src, work, [&] { engine::ops::gelu_rows(work.data(), int64_t(n)); }));
    for (kernels::Isa isa : {kernels::Isa::Avx512, kernels::Isa::Avx2}) {
      if (static_cast<int>(isa) > static_cast<int>(kernels::best_isa())) continue;
      const kernels::KernelTable t = kernels::table_for(isa);
      row(fmt::format("ours {}, 1 thread", kernels::isa_name(isa)),
          median_restored(r, src, work, [&] { t.gelu(work.data(), int64_t(n)); }));
    }
    row("std::erf (ref::gelu), 1 thread",
        median_restored(std::max(3, r / 3), src, work, [&] { kernels::ref::gelu(work.data(), int64_t(n)); }));
#ifdef SAM_HAVE_DNNL
    {
      dnnl::engine eng(dnnl::engine::kind::cpu, 0);
      dnnl::stream strm(eng);
      const dnnl::memory::desc md({int64_t(n)}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
      const dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_gelu_erf, md);
      const dnnl::eltwise_forward::primitive_desc pd(d, eng);  // oneDNN 2.x (Debian's libdnnl-dev)
      dnnl::eltwise_forward prim(pd);
      dnnl::memory mem(md, eng, work.data());
      row(fmt::format("oneDNN eltwise_gelu_erf, {} threads", threads), median_restored(r, src, work, [&] {
            prim.execute(strm, {{DNNL_ARG_SRC, mem}, {DNNL_ARG_DST, mem}});
            strm.wait();
          }));
    }
#endif
  }
  return 0;
}

int main(int argc, char** argv) {
  return bench::guarded_main(argc, argv, {{"--threads N", "--runs N"}, {}, {}}, bench_main);
}
