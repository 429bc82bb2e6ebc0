// What the CPU we run on can do, read once with cpuid, and xgetbv for the OS
// side (XCR0: the AVX, AVX-512 and AMX register state the OS saves).
//
// Features are independent flags (a FeatureSet); the kernel table picks, per
// kernel, the best variant whose required features a (possibly capped) set
// contains (kernels/table.h, docs/kernels.md). The named tiers scalar / avx2 /
// avx512 (kernels::Isa, the SAM_ISA cap) are just fixed sets, see namespace tier.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

namespace kernels {

// One CPU feature. The values are bit numbers of FeatureSet (not cpuid bits).
enum class Feature : uint8_t {
  avx2,
  fma,
  f16c,
  avx512f,
  avx512bw,
  avx512vl,
  avx512dq,
  avx512_vnni,
  avx512_bf16,
  avx512_fp16,
  amx_tile,
  amx_bf16,
  amx_int8,
};
inline constexpr int kFeatureCount = 13;
static_assert(static_cast<int>(Feature::amx_int8) + 1 == kFeatureCount);
const char* feature_name(Feature f);  // "avx512_bf16"

// A set of features as a bitmask (bit i = Feature i).
class FeatureSet {
 public:
  constexpr FeatureSet() = default;
  constexpr FeatureSet(std::initializer_list<Feature> features) {
    for (Feature f : features) bits_ |= bit(f);
  }
  static constexpr FeatureSet from_bits(uint32_t bits) {
    FeatureSet s;
    s.bits_ = bits & ((1u << kFeatureCount) - 1);
    return s;
  }

  constexpr uint32_t bits() const { return bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool has(Feature f) const { return (bits_ & bit(f)) != 0; }
  // True when every feature of `needed` is in this set.
  constexpr bool contains(FeatureSet needed) const { return (bits_ & needed.bits_) == needed.bits_; }

  constexpr FeatureSet with(Feature f) const { return from_bits(bits_ | bit(f)); }
  constexpr FeatureSet without(Feature f) const { return from_bits(bits_ & ~bit(f)); }
  friend constexpr FeatureSet operator|(FeatureSet a, FeatureSet b) { return from_bits(a.bits_ | b.bits_); }
  friend constexpr FeatureSet operator&(FeatureSet a, FeatureSet b) { return from_bits(a.bits_ & b.bits_); }
  friend constexpr bool operator==(FeatureSet a, FeatureSet b) { return a.bits_ == b.bits_; }

  std::string str() const;  // "avx2 fma f16c avx512f ...", "none" when empty

 private:
  static constexpr uint32_t bit(Feature f) { return 1u << static_cast<unsigned>(f); }
  uint32_t bits_ = 0;
};

// The named tiers as feature sets (what the scalar / avx2 / avx512 kernel
// variants need). avx512 is the AVX-512 baseline F/BW/VL/DQ plus the avx2 tier;
// VNNI, BF16, FP16 and AMX are separate features beyond it.
namespace tier {
inline constexpr FeatureSet scalar{};
inline constexpr FeatureSet avx2{Feature::avx2, Feature::fma, Feature::f16c};
inline constexpr FeatureSet avx512 =
    avx2 | FeatureSet{Feature::avx512f, Feature::avx512bw, Feature::avx512vl, Feature::avx512dq};
}  // namespace tier

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
  bool avx512_fp16 = false;
  // AMX: the cpuid bits and XCR0 bits 17/18 (the OS manages tile state). On
  // Linux a process must still ask for the tile data state before using the
  // tiles: request_amx_permission().
  bool amx_tile = false;
  bool amx_bf16 = false;
  bool amx_int8 = false;

  bool has_avx2_fma() const { return avx2 && fma && f16c; }
  bool has_avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
  FeatureSet set() const;
  std::string str() const;  // set().str()
};

// This CPU's features (detected on first use; thread-safe).
const CpuFeatures& cpu_features();
inline FeatureSet cpu_feature_set() { return cpu_features().set(); }

// Asks Linux for permission to use the AMX tile data state
// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)). True when granted;
// false (never throws) when the CPU or OS lacks AMX, the kernel refuses, or
// not on Linux. Asked once, the answer cached; thread-safe. Nothing calls it
// at start-up: an AMX kernel variant names it as its Variant::ready check
// (kernels/variant.h), asked only when that variant is a candidate.
bool request_amx_permission();

}  // namespace kernels
