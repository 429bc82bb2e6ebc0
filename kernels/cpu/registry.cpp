// Builds kernel tables: for each family of AllKernelFamilies (table.h), the
// first of its variants (kernels/cpu/<family>_variants.cpp) whose needs the
// allowed features contain. Nothing here knows a family or an ISA by name.
#include <cassert>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "kernels/cpu_features.h"
#include "kernels/table.h"

namespace kernels {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

FeatureSet isa_features(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return tier::scalar;
    case Isa::Avx2: return tier::avx2;
    case Isa::Avx512: return tier::avx512;
  }
  return tier::scalar;
}

namespace {

constexpr Isa kTiersBestFirst[] = {Isa::Avx512, Isa::Avx2, Isa::Scalar};

Isa best_tier_within(FeatureSet f) {
  for (Isa isa : kTiersBestFirst)
    if (f.contains(isa_features(isa))) return isa;
  return Isa::Scalar;
}

// The first variant of family F that `allowed` permits; copies its slots into
// the table's F part and returns its name.
template <class F>
const char* select(F& slots, FeatureSet allowed) {
  for (const Variant<F>& v : F::variants()) {
    if (!allowed.contains(v.needs)) continue;
    if (v.ready && !v.ready()) continue;
    assert(v.slots != nullptr);
    slots = *v.slots;
    return v.name;
  }
  // Every family ends with a variant that needs nothing.
  throw std::logic_error(std::string("kernel family ") + F::family + " has no variant for " + allowed.str());
}

template <class... F>
void select_all(KernelFamilies<F...>& families, FeatureSet allowed, const char** names) {
  size_t i = 0;
  ((names[i++] = select(static_cast<F&>(families), allowed)), ...);
}

}  // namespace

KernelTable table_for(const FeatureSet& allowed) {
  KernelTable t;
  t.features = allowed & cpu_feature_set();
  t.isa = best_tier_within(t.features);
  select_all(t, t.features, t.variant_names.data());
  return t;
}

KernelTable table_for(Isa isa) {
  if (!cpu_feature_set().contains(isa_features(isa))) {
    throw std::runtime_error(std::string("this CPU does not support ") + isa_name(isa));
  }
  KernelTable t = table_for(isa_features(isa));
  assert(t.isa == isa);
  return t;
}

Isa best_isa() { return best_tier_within(allowed_features()); }

namespace {

// The cap of set_table_cap() and whether table() has been built (under the mutex).
struct TableCap {
  std::mutex mutex;
  FeatureSet cap = FeatureSet::from_bits(~0u);
  bool built = false;
};

TableCap& table_cap() {
  static TableCap c;
  return c;
}

}  // namespace

FeatureSet allowed_features() {
  TableCap& tc = table_cap();
  std::lock_guard<std::mutex> lock(tc.mutex);
  return cpu_feature_set() & tc.cap;
}

bool set_table_cap(const FeatureSet& cap) {
  TableCap& tc = table_cap();
  std::lock_guard<std::mutex> lock(tc.mutex);
  if (tc.built) return false;
  tc.cap = cap;
  return true;
}

const KernelTable& table() {
  static const KernelTable t = [] {
    FeatureSet allowed;
    {
      TableCap& tc = table_cap();
      std::lock_guard<std::mutex> lock(tc.mutex);
      allowed = cpu_feature_set() & tc.cap;
      tc.built = true;  // from here on the cap is fixed
    }
    return table_for(allowed);
  }();
  return t;
}

std::vector<std::pair<std::string, std::string>> selected_variants(const KernelTable& t) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < KernelTable::family_count; ++i) {
    out.emplace_back(KernelTable::family_names[i], t.variant_names[i] ? t.variant_names[i] : "?");
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> selected_variants() { return selected_variants(table()); }

}  // namespace kernels
