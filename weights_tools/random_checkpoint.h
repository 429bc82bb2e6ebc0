// `sam-convert --random VARIANT OUT`: a seeded random-weight model at the real
// shapes, written straight to safetensors. For benchmarking and demos without
// downloads. The masks are meaningless, but the arithmetic is the real one.
//
// Distributions follow tests/reference/sam_configs.py (so activations stay
// well-conditioned through vit_h's 32 blocks): Linear/Conv weights
// N(0, (g/sqrt(fan_in))^2), g = 0.7 on residual-branch output projections;
// biases N(0, 0.05^2); norm weights 1 + N(0, 0.1^2), norm biases N(0, 0.05^2);
// pos_embed N(0, 0.1^2); rel_pos N(0, (0.5/sqrt(head_dim))^2); embeddings and
// the Fourier matrix N(0, 1). Values come from our own generator (splitmix64 +
// Box-Muller), seeded per tensor from (seed, key), so they are the same on
// every machine but not torch's values.
#pragma once

#include <cstdint>
#include <string>

#include "converter.h"
#include "sam/modeling/config.h"

namespace weights_tools {

ConvertSummary write_random_checkpoint(const sam::SamConfig& config, uint64_t seed, const std::string& path,
                                       engine::DType dtype, bool show_progress);

}  // namespace weights_tools
