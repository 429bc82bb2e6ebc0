// The oneDNN baseline (kernels/gemm_onednn.h). Built with oneDNN when CMake
// found libdnnl (SAM_HAVE_DNNL); without it every entry point says so.
#include "kernels/gemm_onednn.h"

#include <cassert>
#include <stdexcept>

#ifdef SAM_HAVE_DNNL
#include <dlfcn.h>

#include <dnnl.hpp>
#include <list>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#endif

namespace kernels {

#ifdef SAM_HAVE_DNNL
namespace {

using md = dnnl::memory::desc;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// omp_set_num_threads of the OpenMP runtime Debian's oneDNN runs on, looked up
// at run time: the engine itself does not link an OpenMP runtime.
void set_omp_threads(int n) {
  using Fn = void (*)(int);
  static const Fn fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (fn != nullptr && n > 0) fn(n);
}

// One primitive per call shape: oneDNN specialises on M and the strides.
struct PlanKey {
  int m, lda, ldc;
  bool bias, accumulate, gelu;
  bool operator<(const PlanKey& o) const {
    return std::tie(m, lda, ldc, bias, accumulate, gelu) < std::tie(o.m, o.lda, o.ldc, o.bias, o.accumulate, o.gelu);
  }
};

struct Plan {
  dnnl::matmul matmul;
  md a_user_md;            // [m, k] f32, row stride lda: the caller's rows
  md dst_md, bias_md;      // [m, n] f32 (row stride ldc), [1, n] f32
  dnnl::reorder to_src;    // f32 rows -> the bf16 copy (bf16 only)
  dnnl::memory src_copy;   // [m, k] bf16, owned (bf16 only)
  dnnl::memory weights;    // in the layout this primitive asked for
};

}  // namespace

struct OnednnLinear::Impl {
  int n = 0, k = 0;
  bool bf16 = false;
  std::mutex mutex;
  // The weights in each layout a primitive asked for (usually one). The first
  // entry is the plain [k, n] copy until a blocked layout replaces it.
  std::list<dnnl::memory> weights;
  bool plain_in_use = false;
  std::map<PlanKey, Plan> plans;

  dnnl::memory weights_as(const md& want) {
    for (const dnnl::memory& w : weights)
      if (w.get_desc() == want) {
        if (&w == &weights.front()) plain_in_use = true;
        return w;
      }
    dnnl::memory out(want, cpu_engine());
    dnnl::memory& from = weights.front();
    dnnl::stream s(cpu_engine());
    dnnl::reorder(from, out).execute(s, from, out);
    s.wait();
    if (!plain_in_use) weights.pop_front();  // nothing reads the plain copy
    weights.push_back(out);
    return out;
  }

  Plan& plan(const PlanKey& key) {
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    const dt wdt = bf16 ? dt::bf16 : dt::f32;
    Plan p;
    p.a_user_md = md({key.m, k}, dt::f32, {key.lda, 1});
    const md src_md = bf16 ? md({key.m, k}, dt::bf16, tag::ab) : p.a_user_md;
    p.dst_md = md({key.m, n}, dt::f32, {key.ldc, 1});
    const md weights_any({k, n}, wdt, tag::any);
    dnnl::post_ops ops;
    if (key.accumulate) ops.append_sum(1.f);
    if (key.gelu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    if (key.bias) p.bias_md = md({1, n}, dt::f32, tag::ab);
    const dnnl::matmul::desc desc = key.bias ? dnnl::matmul::desc(src_md, weights_any, p.bias_md, p.dst_md)
                                             : dnnl::matmul::desc(src_md, weights_any, p.dst_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
    p.matmul = dnnl::matmul(pd);
    p.weights = weights_as(pd.weights_desc());
    if (bf16) {
      p.src_copy = dnnl::memory(src_md, cpu_engine());
      p.to_src = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), p.a_user_md, cpu_engine(), src_md));
    }
    return plans.emplace(key, std::move(p)).first->second;
  }
};

bool onednn_available() { return true; }

bool onednn_bf16_available() {
  static const bool ok = [] {
    try {  // the smallest bf16 matmul the baseline would ask for
      const md src({1, 2}, dt::bf16, tag::ab), wei({2, 2}, dt::bf16, tag::any), dst({1, 2}, dt::f32, tag::ab);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), cpu_engine());
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return ok;
}

std::string onednn_description() {
  const dnnl_version_t* v = dnnl_version();
  const char* runtime = v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential" : "other";
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) + " (" +
         runtime + " runtime)";
}

OnednnLinear::OnednnLinear(const float* w, int n, int k, int ldw, bool bf16) : impl_(std::make_unique<Impl>()) {
  assert(n > 0 && k > 0 && ldw >= k);
  if (bf16 && !onednn_bf16_available())
    throw std::runtime_error(onednn_description() + " has no bf16 matmul for this CPU (it needs AVX-512)");
  impl_->n = n;
  impl_->k = k;
  impl_->bf16 = bf16;
  // W[n][k] is the K x N matrix op(B) with element (kk, nn) at nn * ldw + kk.
  dnnl::memory user(md({k, n}, dt::f32, {1, ldw}), cpu_engine(), const_cast<float*>(w));
  dnnl::memory plain(md({k, n}, bf16 ? dt::bf16 : dt::f32, tag::ba), cpu_engine());
  dnnl::stream s(cpu_engine());
  dnnl::reorder(user, plain).execute(s, user, plain);
  s.wait();
  impl_->weights.push_back(plain);
}

OnednnLinear::~OnednnLinear() = default;

int OnednnLinear::n() const { return impl_->n; }
int OnednnLinear::k() const { return impl_->k; }
bool OnednnLinear::bf16() const { return impl_->bf16; }

void OnednnLinear::run(const float* a, int m, int lda, const float* bias, float* c, int ldc, bool accumulate,
                       bool gelu, int threads) const {
  assert(lda >= impl_->k && ldc >= impl_->n);
  if (m <= 0) return;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  set_omp_threads(threads);
  Plan& p = impl_->plan(PlanKey{m, lda, ldc, bias != nullptr, accumulate, gelu});
  dnnl::engine& eng = cpu_engine();
  dnnl::stream s(eng);
  dnnl::memory a_mem(p.a_user_md, eng, const_cast<float*>(a));
  dnnl::memory src = a_mem;
  if (impl_->bf16) {
    p.to_src.execute(s, a_mem, p.src_copy);
    src = p.src_copy;
  }
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_DST, dnnl::memory(p.dst_md, eng, c)}};
  if (bias != nullptr) args.emplace(DNNL_ARG_BIAS, dnnl::memory(p.bias_md, eng, const_cast<float*>(bias)));
  p.matmul.execute(s, args);
  s.wait();
}

#else  // no oneDNN in this build

struct OnednnLinear::Impl {};

bool onednn_available() { return false; }
bool onednn_bf16_available() { return false; }
std::string onednn_description() { return "not in this build (libdnnl-dev was not found when it was configured)"; }

OnednnLinear::OnednnLinear(const float*, int, int, int, bool) {
  throw std::runtime_error("oneDNN is not in this build (install libdnnl-dev and reconfigure)");
}
OnednnLinear::~OnednnLinear() = default;
int OnednnLinear::n() const { return 0; }
int OnednnLinear::k() const { return 0; }
bool OnednnLinear::bf16() const { return false; }
void OnednnLinear::run(const float*, int, int, const float*, float*, int, bool, bool, int) const {
  throw std::runtime_error("oneDNN is not in this build");
}

#endif

}  // namespace kernels
