#include "kernels/cpu_features.h"

#include <cpuid.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <cstdint>

namespace kernels {
namespace {

uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

bool bit(unsigned reg, int i) { return (reg >> i) & 1u; }

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = bit(c, 27);
  const bool fma = bit(c, 12);
  const bool f16c = bit(c, 29);
  if (!osxsave) return f;
  // XCR0: which register state the OS saves on context switches.
  const uint64_t xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;                   // bits 1, 2: XMM + YMM
  const bool os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;    // bits 5-7: opmask, ZMM0-15 high, ZMM16-31
  const uint64_t tile_bits = (uint64_t{1} << 17) | (uint64_t{1} << 18);  // XTILECFG, XTILEDATA
  const bool os_amx = (xcr0 & tile_bits) == tile_bits;
  if (!os_avx) return f;
  f.fma = fma;
  f.f16c = f16c;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned max_subleaf = a;
  f.avx2 = bit(b, 5);
  if (os_avx512) {
    f.avx512f = bit(b, 16);
    f.avx512dq = bit(b, 17);
    f.avx512bw = bit(b, 30);
    f.avx512vl = bit(b, 31);
    f.avx512_vnni = bit(c, 11);
    f.avx512_fp16 = bit(d, 23);
  }
  if (os_amx) {
    f.amx_bf16 = bit(d, 22);
    f.amx_tile = bit(d, 24);
    f.amx_int8 = bit(d, 25);
  }
  if (max_subleaf >= 1 && os_avx512) {
    unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    f.avx512_bf16 = bit(a1, 5);
  }
  return f;
}

}  // namespace

const char* feature_name(Feature f) {
  switch (f) {
    case Feature::avx2: return "avx2";
    case Feature::fma: return "fma";
    case Feature::f16c: return "f16c";
    case Feature::avx512f: return "avx512f";
    case Feature::avx512bw: return "avx512bw";
    case Feature::avx512vl: return "avx512vl";
    case Feature::avx512dq: return "avx512dq";
    case Feature::avx512_vnni: return "avx512_vnni";
    case Feature::avx512_bf16: return "avx512_bf16";
    case Feature::avx512_fp16: return "avx512_fp16";
    case Feature::amx_tile: return "amx_tile";
    case Feature::amx_bf16: return "amx_bf16";
    case Feature::amx_int8: return "amx_int8";
  }
  return "?";
}

std::string FeatureSet::str() const {
  std::string s;
  for (int i = 0; i < kFeatureCount; ++i) {
    const auto f = static_cast<Feature>(i);
    if (!has(f)) continue;
    if (!s.empty()) s += ' ';
    s += feature_name(f);
  }
  return s.empty() ? "none" : s;
}

FeatureSet CpuFeatures::set() const {
  FeatureSet s;
  auto add = [&](bool on, Feature f) {
    if (on) s = s.with(f);
  };
  add(avx2, Feature::avx2);
  add(fma, Feature::fma);
  add(f16c, Feature::f16c);
  add(avx512f, Feature::avx512f);
  add(avx512bw, Feature::avx512bw);
  add(avx512vl, Feature::avx512vl);
  add(avx512dq, Feature::avx512dq);
  add(avx512_vnni, Feature::avx512_vnni);
  add(avx512_bf16, Feature::avx512_bf16);
  add(avx512_fp16, Feature::avx512_fp16);
  add(amx_tile, Feature::amx_tile);
  add(amx_bf16, Feature::amx_bf16);
  add(amx_int8, Feature::amx_int8);
  return s;
}

std::string CpuFeatures::str() const { return set().str(); }

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool request_amx_permission() {
  static const bool granted = [] {
    if (!cpu_features().amx_tile) return false;
#if defined(__linux__) && defined(SYS_arch_prctl)
    constexpr int kArchGetXcompPerm = 0x1022;
    constexpr int kArchReqXcompPerm = 0x1023;
    constexpr unsigned long kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
    unsigned long permitted = 0;
    if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &permitted) != 0) return false;
    return ((permitted >> kXfeatureXtiledata) & 1ul) != 0;
#else
    return false;
#endif
  }();
  return granted;
}

}  // namespace kernels
