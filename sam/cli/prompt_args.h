// Prompt options shared by `sam segment` and `sam trace`:
//   -p X,Y[,LABEL] (repeatable; LABEL 1 = foreground (default), 0 = background)
//   -b X0,Y0,X1,Y1 (repeatable; several boxes give one mask set each)
//   --mask-input FILE.npy (low-res logits [1,1,4G,4G], [1,4G,4G] or [4G,4G])
#pragma once

#include <CLI/CLI.hpp>
#include <array>
#include <string>
#include <vector>

#include "sam/predictor.h"

namespace sam::cli {

struct PromptArgs {
  std::vector<std::string> points;
  std::vector<std::string> boxes;
  std::string mask_input;
  bool single_mask = false;

  void add_to(CLI::App* sub);
  // Validated prompt sets in original image coordinates (one per box, or one in
  // all); throws engine::Error naming the bad argument.
  std::vector<PromptSet> build(int image_w, int image_h, int embedding_grid) const;
};

// At most this many points per set and boxes per call (bounded work and memory).
constexpr size_t kMaxPoints = 64;
constexpr size_t kMaxBoxes = 64;
// At most this many mask pixels per call (masks x image pixels): one byte each
// in memory, so 1 GiB of binary masks at most.
constexpr int64_t kMaxMaskPixels = int64_t{1} << 30;
// A --mask-input file larger than this is refused before it is read (the
// logits it must hold are 4 x (4G)^2 bytes, 256 KiB for every SAM variant).
constexpr size_t kMaxMaskInputBytes = 1u << 20;

}  // namespace sam::cli
