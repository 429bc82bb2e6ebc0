#include "sam/predictor.h"

#include <algorithm>
#include <limits>

#include "engine/error.h"
#include "sam/postprocess.h"
#include "sam/preprocess.h"

namespace sam {
namespace {

// An image so elongated that its short side rounds to 0 pixels at the model's
// input (the official code fails there too) is refused with a clear message.
void check_input_shape(int input_h, int input_w, int width, int height, int img_size) {
  engine::check(input_h > 0 && input_w > 0,
                "image of {}x{} pixels is too elongated: its short side would shrink to 0 pixels at the model's "
                "{}-pixel input",
                width, height, img_size);
}

}  // namespace

Predictor::Predictor(std::shared_ptr<const SamModel> model)
    : model_((engine::check(model != nullptr, "Predictor: no model"), std::move(model))),
      decoder_arena_(model_->mask_decoder().make_arena()) {}

size_t Predictor::workspace_bytes() const { return decoder_arena_->capacity(); }

void Predictor::set_image(const Image& image, Tracer* tracer) {
  engine::check(image.channels == 3 && image.width > 0 && image.height > 0, "set_image: empty or non-RGB image");
  const int S = config().img_size;
  const auto [h, w] = preprocess_shape(image.height, image.width, S);
  check_input_shape(h, w, image.width, image.height, S);
  engine::Tensor input = normalize_and_pad(resize_bilinear_pil(image, w, h), S);
  trace(tracer, "input_image", input);  // (preprocessing ends here)
  input_ = keep_input_ ? input : engine::Tensor();
  {
    SamModel::WorkspaceLease ws = model_->lease_encoder_workspace();
    embedding_ = model_->image_encoder().forward(std::move(input), ws.get(), tracer);  // input freed early
    if (release_scratch_) ws.get().release_pages();
  }
  image_inputs_ = model_->mask_decoder().prepare(embedding_, model_->prompt_encoder().dense_pe_tokens());
  original_h_ = image.height;
  original_w_ = image.width;
  input_h_ = h;
  input_w_ = w;
}

void Predictor::set_embedding(const engine::Tensor& embedding, int original_h, int original_w) {
  const int D = config().prompt_embed_dim, G = config().embedding_grid();
  engine::check(embedding.dtype() == engine::DType::F32 && embedding.shape() == engine::Shape({1, D, G, G}),
                "embedding of shape {} {}, expected f32 [1, {}, {}, {}]", embedding.shape().str(),
                engine::dtype_name(embedding.dtype()), D, G, G);
  engine::check(original_h > 0 && original_w > 0, "set_embedding: bad image size {}x{}", original_w, original_h);
  const auto [h, w] = preprocess_shape(original_h, original_w, config().img_size);
  check_input_shape(h, w, original_w, original_h, config().img_size);
  embedding_ = embedding.contiguous();
  image_inputs_ = model_->mask_decoder().prepare(embedding_, model_->prompt_encoder().dense_pe_tokens());
  input_ = engine::Tensor();
  original_h_ = original_h;
  original_w_ = original_w;
  input_h_ = h;
  input_w_ = w;
}

std::array<float, 2> Predictor::to_input_frame(float x, float y) const {
  // apply_coords works on float64 numpy arrays: coords * (new / old) per axis.
  const double sx = static_cast<double>(input_w_) / original_w_;
  const double sy = static_cast<double>(input_h_) / original_h_;
  return {static_cast<float>(x * sx), static_cast<float>(y * sy)};
}

Prediction Predictor::predict_low_res(const std::vector<PromptSet>& sets, bool multimask_output, Tracer* tracer) {
  engine::check(has_image(), "predict: no image set (call set_image first)");
  engine::check(!sets.empty(), "predict: no prompts");
  const int G = config().embedding_grid();
  std::vector<Prompt> prompts;
  for (const PromptSet& s : sets) {
    engine::check(s.points.size() == s.labels.size(), "predict: {} points but {} labels", s.points.size(),
                  s.labels.size());
    engine::check(!s.points.empty() || s.box || s.mask_input, "predict: a prompt set needs a point, a box or a mask");
    Prompt p;
    for (size_t i = 0; i < s.points.size(); ++i) {
      const auto [x, y] = to_input_frame(s.points[i][0], s.points[i][1]);
      p.point_coords.push_back(x);
      p.point_coords.push_back(y);
      p.point_labels.push_back(s.labels[i]);
    }
    if (s.box) {
      const auto a = to_input_frame((*s.box)[0], (*s.box)[1]);
      const auto b = to_input_frame((*s.box)[2], (*s.box)[3]);
      p.box = std::array<float, 4>{a[0], a[1], b[0], b[1]};
    }
    if (s.mask_input) {
      engine::check(s.mask_input->numel() == static_cast<int64_t>(4 * G) * 4 * G,
                    "mask input of shape {}; expected [1, 1, {}, {}] low-res logits", s.mask_input->shape().str(),
                    4 * G, 4 * G);
      p.mask_input = s.mask_input->contiguous().reshape({1, 1, 4 * G, 4 * G});
    }
    prompts.push_back(std::move(p));
  }
  // Mask inputs reach the decoder as mask_downscaling's features (it folds
  // the last 1x1 conv into its own products), unless tracing.
  engine::Tensor sparse, dense, mask_features;
  model_->prompt_encoder().forward(prompts, sparse, dense, tracer, &mask_features);
  MaskDecoder::Output out = model_->mask_decoder().forward(
      *image_inputs_, sparse, dense, multimask_output, *decoder_arena_, tracer,
      -std::numeric_limits<float>::infinity(), mask_features.defined() ? &mask_features : nullptr);
  Prediction r;
  r.low_res_logits = out.low_res_masks.contiguous();
  r.iou_predictions = out.iou_predictions.contiguous();
  return r;
}

Prediction Predictor::predict(const std::vector<PromptSet>& sets, bool multimask_output, bool return_logits,
                              Tracer* tracer) {
  Prediction r = predict_low_res(sets, multimask_output, tracer);
  if (return_logits) {
    r.masks = postprocess_masks(r.low_res_logits, config().img_size, input_h_, input_w_, original_h_, original_w_);
    return r;
  }
  // Binary masks: upscaled and thresholded row by row (Sam.mask_threshold = 0),
  // so the f32 logits at the original size are never materialised.
  r.masks = engine::Tensor::empty(engine::DType::U8, {r.low_res_logits.dim(0), r.low_res_logits.dim(1), original_h_,
                                                      original_w_});
  binary_masks_into(r.low_res_logits, r.masks);
  return r;
}

void Predictor::binary_masks_into(const engine::Tensor& low_res_logits, engine::Tensor& out) const {
  postprocess_masks_binary(low_res_logits, config().img_size, input_h_, input_w_, original_h_, original_w_, out);
}

}  // namespace sam
