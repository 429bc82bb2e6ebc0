// The image-embedding cache of `sam segment --save-embedding / --load-embedding`:
// a standard .npy [1, D, G, G] float32 (np.load reads it), whose header carries
// a comment naming the model and the image it came from:
//   # sam-engine-embedding {"model": "<id>", "image": "<id>", "width": W, "height": H, "variant": "vit_b"}
// Loading it for another model or another image is an error.
#pragma once

#include <string>

#include "engine/tensor.h"
#include "sam/io/image.h"
#include "sam/io/weights.h"

namespace sam {

// Identity of a converted model: SHA-256 over its metadata and tensor layout
// (cheap: no pass over the weights; the metadata holds the source checkpoint's hash).
std::string model_identity(const Weights& weights);
// Identity of an image: SHA-256 of its size and decoded RGB pixels.
std::string image_identity(const Image& image);

void save_embedding(const std::string& path, const engine::Tensor& embedding, const Weights& weights,
                    const Image& image);
// Checks the model identity (and the image's, when `image` is given) and returns the
// embedding; `width` / `height` receive the original image size it was computed for.
engine::Tensor load_embedding(const std::string& path, const Weights& weights, const Image* image, int* width,
                              int* height);

}  // namespace sam
