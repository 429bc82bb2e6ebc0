// The docs/api.md example as a program: load a model once, one session per
// image, a point prompt, the best mask. Built against an installed sam-engine.
//   segment_static MODEL.safetensors IMAGE X Y
#include <sam/io/image.h>
#include <sam/modeling/sam_model.h>
#include <sam/predictor.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s MODEL IMAGE X Y\n", argv[0]);
    return 2;
  }
  try {
    auto model = sam::SamModel::load(argv[1]);         // weights and packed panels, once
    sam::Predictor predictor(model);                    // a session: this image's state only
    predictor.set_image(sam::load_image(argv[2]));      // the image encoder runs here
    sam::PromptSet prompt;
    prompt.points.push_back({std::strtof(argv[3], nullptr), std::strtof(argv[4], nullptr)});
    prompt.labels.push_back(1);                         // foreground
    const sam::Prediction p = predictor.predict({prompt}, /*multimask_output=*/true);
    // p.masks [1, 3, H, W] u8, p.iou_predictions [1, 3], p.low_res_logits [1, 3, 256, 256]
    int best = 0;
    for (int k = 1; k < 3; ++k)
      if (p.iou_predictions.data<float>()[k] > p.iou_predictions.data<float>()[best]) best = k;
    long area = 0;
    const int64_t plane = p.masks.dim(2) * p.masks.dim(3);
    for (int64_t i = 0; i < plane; ++i) area += p.masks.data<uint8_t>()[best * plane + i];
    std::printf("%s: masks [%lld, %lld, %lld, %lld], best %d (score %.4f), area %ld px\n", model->config().name.c_str(),
                static_cast<long long>(p.masks.dim(0)), static_cast<long long>(p.masks.dim(1)),
                static_cast<long long>(p.masks.dim(2)), static_cast<long long>(p.masks.dim(3)), best,
                p.iou_predictions.data<float>()[best], area);
  } catch (const std::exception& e) {  // every error is an exception with context
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
