#include "sam/modeling/config.h"

#include <algorithm>

#include "sam/modeling/variants.h"

namespace sam {

bool SamConfig::is_global_block(int block) const {
  return std::find(global_attn_indexes.begin(), global_attn_indexes.end(), block) != global_attn_indexes.end();
}

const std::vector<SamConfig>& known_configs() {
  static const std::vector<SamConfig> configs = [] {
    std::vector<SamConfig> c;
    for (const SamVariant& v : variants()) c.push_back(v.config);
    return c;
  }();
  return configs;
}

const SamConfig* find_config(const std::string& name) {
  const SamVariant* v = find_variant(name);
  return v ? &v->config : nullptr;
}

}  // namespace sam
