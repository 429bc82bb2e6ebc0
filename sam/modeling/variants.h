// The variant registry (the official build_sam.py's sam_model_registry): each
// variant is declared once, in variants.cpp, with its hyper-parameters, its
// image-encoder family (factory + state_dict schema) and its official
// checkpoint. The converter (--random, variant detection), the schema check of
// converted files, the model loader and the CLI all read this list.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sam/io/weights.h"
#include "sam/modeling/config.h"
#include "sam/modeling/encoder_interface.h"
#include "sam/modeling/weight_schema.h"

namespace sam {

// An image-encoder family: how to build it from weights, and the image_encoder.*
// keys and shapes it expects for a config.
struct ImageEncoderFamily {
  const char* name;  // "vit" (modeling/image_encoder.py: ImageEncoderViT), "tiny_vit" (MobileSAM)
  std::unique_ptr<const ImageEncoder> (*create)(std::shared_ptr<const Weights> weights);
  void (*expected_weights)(const SamConfig& config, std::vector<WeightSpec>& out);
};

struct SamVariant {
  std::string name;                    // "vit_b": the official registry key
  SamConfig config;                    // config.name == name
  const ImageEncoderFamily* encoder;   // never null
  std::string official_checkpoint;     // "sam_vit_b_01ec64.pth"; empty for test-only variants
  bool test_only = false;              // "tiny": same code paths, small shapes
};

// Every variant, in registry order (vit_b, vit_l, vit_h, vit_t (MobileSAM), then tiny).
const std::vector<SamVariant>& variants();
// nullptr when `name` is not a registered variant.
const SamVariant* find_variant(const std::string& name);
// "vit_b, vit_l, vit_h, vit_t, tiny"
std::string variant_names();

}  // namespace sam
