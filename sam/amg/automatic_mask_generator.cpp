// Mirrors segment_anything/automatic_mask_generator.py; see the header.
#include "sam/amg/automatic_mask_generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "sam/amg/amg_upscale.h"
#include "engine/error.h"
#include "engine/thread_pool.h"
#include "sam/modeling/mask_decoder.h"
#include "sam/preprocess.h"
#include "sam/modeling/prompt_encoder.h"

namespace sam {
namespace {

using amg::Box;
using amg::BoxF;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// fn(i) for i in [0, n) on the engine's pool, contiguous blocks, with the thread index.
template <class F>
void parallel_items(int64_t n, const F& fn) {
  if (n <= 0) return;
  engine::ThreadPool& pool = engine::thread_pool();
  if (n == 1 || pool.num_threads() == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  pool.run([&](int t, int nt) {
    const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    for (int64_t i = lo; i < hi; ++i) fn(i, t);
  });
}

Image crop_image(const Image& im, const Box& b) {
  Image out;
  out.width = b[2] - b[0];
  out.height = b[3] - b[1];
  out.channels = im.channels;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * im.channels);
  for (int y = 0; y < out.height; ++y)
    std::copy(im.row(b[1] + y) + static_cast<size_t>(b[0]) * im.channels,
              im.row(b[1] + y) + static_cast<size_t>(b[2]) * im.channels, out.row(y));
  return out;
}

BoxF to_float(const Box& b) {
  return {static_cast<float>(b[0]), static_cast<float>(b[1]), static_cast<float>(b[2]), static_cast<float>(b[3])};
}

// MaskData.filter(keep) with keep a list of indices (reorders).
void filter(std::vector<AmgMask>& v, const std::vector<int64_t>& keep) {
  std::vector<AmgMask> out;
  out.reserve(keep.size());
  for (int64_t k : keep) out.push_back(std::move(v[static_cast<size_t>(k)]));
  v.swap(out);
}

// Prompts decoded so far over the whole image, for the progress callback.
struct Progress {
  int64_t done = 0, total = 0;
  const std::function<void(int64_t, int64_t)>& fn;
};

}  // namespace

// The session state over the shared model: activation memory only.
struct AutomaticMaskGenerator::Impl {
  explicit Impl(std::shared_ptr<const SamModel> m)
      : model(std::move(m)),
        config(model->config()),
        encoder(model->image_encoder()),
        prompt_encoder(model->prompt_encoder()),
        decoder(model->mask_decoder()),
        decoder_arena(decoder.make_arena(kMaxDecoderBatch)) {}
  std::shared_ptr<const SamModel> model;
  const SamConfig& config;
  const ImageEncoder& encoder;
  const PromptEncoder& prompt_encoder;
  const MaskDecoder& decoder;
  std::unique_ptr<engine::Arena> decoder_arena;
  std::vector<amg::MaskUpscaler::Scratch> scratch;  // one per pool thread

  // What every decoder batch of one crop shares.
  struct CropContext {
    const MaskDecoder::ImageInputs& inputs;
    const amg::PointGrid& grid;
    int cw, ch;      // crop size in pixels
    int in_w, in_h;  // its size at the model's input (before padding)
    const amg::MaskUpscaler& upscaler;
  };
  // _process_crop: the masks of one crop, deduplicated, in the image's frame.
  std::vector<AmgMask> process_crop(const Image& image, const Box& crop_box, const amg::PointGrid& grid,
                                    const AmgOptions& opt, EncoderWorkspace& encoder_ws, AmgResult& res,
                                    Progress& prog);
  // _process_batch for grid points [s0, s1) (at most kMaxDecoderBatch): appends
  // the masks that pass the IoU and stability filters to `batch` (crop frame).
  void process_batch(const CropContext& crop, int64_t s0, int64_t s1, const AmgOptions& opt, AmgResult::Stats& stats,
                     std::vector<AmgMask>& batch);
};

AutomaticMaskGenerator::AutomaticMaskGenerator(std::shared_ptr<const SamModel> model, AmgOptions o)
    : options_(std::move(o)) {
  engine::check(model != nullptr, "AutomaticMaskGenerator: no model");
  const AmgOptions& p = options_;
  engine::check((p.points_per_side > 0) != !p.point_grids.empty(),
                "exactly one of points_per_side or point_grids must be given");
  engine::check(p.points_per_batch > 0, "points_per_batch must be positive, got {}", p.points_per_batch);
  engine::check(p.crop_n_layers >= 0, "crop_n_layers must be >= 0, got {}", p.crop_n_layers);
  engine::check(p.crop_n_points_downscale_factor >= 1, "crop_n_points_downscale_factor must be >= 1, got {}",
                p.crop_n_points_downscale_factor);
  engine::check(p.min_mask_region_area >= 0, "min_mask_region_area must be >= 0, got {}", p.min_mask_region_area);
  engine::check(std::isfinite(p.crop_overlap_ratio) && p.crop_overlap_ratio >= 0 && p.crop_overlap_ratio < 1,
                "crop_overlap_ratio must be in [0, 1), got {}", p.crop_overlap_ratio);
  for (double v : {p.pred_iou_thresh, p.stability_score_thresh, p.stability_score_offset, p.box_nms_thresh,
                   p.crop_nms_thresh})
    engine::check(std::isfinite(v), "thresholds must be finite numbers");
  if (p.points_per_side <= 0)
    engine::check(static_cast<int>(p.point_grids.size()) >= p.crop_n_layers + 1,
                  "{} point grids given for {} crop layers (one per layer needed)", p.point_grids.size(),
                  p.crop_n_layers + 1);
  // Bounded work, checked before any grid is built (a layer without points is
  // reported by build_all_layer_point_grids below).
  const int64_t n_prompts = prompts_per_image(p);
  engine::check(n_prompts <= kMaxPrompts,
                "{} prompt points per image (points_per_side {}, crop_n_layers {}, crop_n_points_downscale_factor {}) "
                "exceed the limit of {}",
                n_prompts, p.points_per_side, p.crop_n_layers, p.crop_n_points_downscale_factor, kMaxPrompts);
  if (p.points_per_side > 0)
    grids_ = amg::build_all_layer_point_grids(p.points_per_side, p.crop_n_layers, p.crop_n_points_downscale_factor);
  else
    grids_ = p.point_grids;
  impl_ = std::make_unique<Impl>(std::move(model));
}

int64_t AutomaticMaskGenerator::prompts_per_image(const AmgOptions& o) {
  // In double: exact for every value below 2^53, and no overflow for any int options.
  double total = 0;
  for (int i = 0; i <= o.crop_n_layers; ++i) {
    double per_crop = 0;
    if (o.points_per_side > 0) {
      // int(n_per_side / (scale_per_layer ** i)), as build_all_layer_point_grids
      const double denom = std::pow(static_cast<double>(o.crop_n_points_downscale_factor), i);
      const double n = std::trunc(static_cast<double>(o.points_per_side) / denom);
      per_crop = n * n;
    } else if (static_cast<size_t>(i) < o.point_grids.size()) {
      per_crop = static_cast<double>(o.point_grids[static_cast<size_t>(i)].size());
    }
    if (per_crop == 0) return 0;
    total += std::pow(4.0, i) * per_crop;  // (2^i)^2 crops in layer i
    if (total > 9.0e18) return INT64_MAX;
  }
  return static_cast<int64_t>(total);
}

void AutomaticMaskGenerator::check_image(int height, int width) const {
  engine::check(height > 0 && width > 0, "image has no pixels ({}x{})", width, height);
  const int S = impl_->config.img_size;
  const auto [in_h, in_w] = preprocess_shape(height, width, S);
  engine::check(in_h > 0 && in_w > 0,
                "image of {}x{} pixels is too elongated: its short side would shrink to 0 pixels at the model's "
                "{}-pixel input",
                width, height, S);
  const amg::CropBoxes crops =
      amg::generate_crop_boxes(height, width, options_.crop_n_layers, options_.crop_overlap_ratio);
  for (size_t i = 0; i < crops.boxes.size(); ++i) {
    const Box& b = crops.boxes[i];
    const int layer = crops.layer_idxs[i], cw = b[2] - b[0], ch = b[3] - b[1];
    engine::check(cw > 0 && ch > 0,
                  "image of {}x{} pixels is too small for crop layer {} ({}x{} crops): some would be empty", width,
                  height, layer, 1 << layer, 1 << layer);
    const auto [crop_in_h, crop_in_w] = preprocess_shape(ch, cw, S);
    engine::check(crop_in_h > 0 && crop_in_w > 0,
                  "image of {}x{} pixels is too small for crop layer {} ({}x{} crops): a crop of {}x{} pixels would "
                  "shrink to 0 pixels at the model's {}-pixel input",
                  width, height, layer, 1 << layer, 1 << layer, cw, ch, S);
  }
}

AutomaticMaskGenerator::~AutomaticMaskGenerator() = default;

AmgResult AutomaticMaskGenerator::generate(const Image& image, const std::function<void(int64_t, int64_t)>& progress) {
  engine::check(image.channels == 3 && image.width > 0 && image.height > 0, "generate: empty or non-RGB image");
  check_image(image.height, image.width);  // before any work
  const AmgOptions& opt = options_;
  Impl& m = *impl_;
  SamModel::WorkspaceLease encoder_ws = m.model->lease_encoder_workspace();  // for this image's crops
  const amg::CropBoxes crops =
      amg::generate_crop_boxes(image.height, image.width, opt.crop_n_layers, opt.crop_overlap_ratio);
  AmgResult res;
  res.height = image.height;
  res.width = image.width;
  res.stats.crops = static_cast<int64_t>(crops.boxes.size());
  Progress prog{0, 0, progress};
  for (int layer : crops.layer_idxs) prog.total += static_cast<int64_t>(grids_[static_cast<size_t>(layer)].size());
  m.scratch.resize(static_cast<size_t>(engine::thread_pool().num_threads()));

  std::vector<AmgMask>& data = res.masks;
  for (size_t ci = 0; ci < crops.boxes.size(); ++ci) {
    std::vector<AmgMask> crop_data = m.process_crop(image, crops.boxes[ci],
                                                    grids_[static_cast<size_t>(crops.layer_idxs[ci])], opt,
                                                    encoder_ws.get(), res, prog);
    if (crop_data.empty()) res.crop_boxes_are_float = true;  // torch.tensor([]) is float32
    for (AmgMask& r : crop_data) data.push_back(std::move(r));
  }
  if (crops.boxes.size() == 1) res.crop_boxes_are_float = false;  // a single crop: nothing concatenated

  // Remove duplicate masks between crops, preferring masks from smaller crops.
  if (crops.boxes.size() > 1) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<BoxF> boxes;
    std::vector<float> scores;
    for (const AmgMask& r : data) {
      boxes.push_back(to_float(r.box));
      scores.push_back(1.f / static_cast<float>(amg::box_area(r.crop_box)));
    }
    filter(data, amg::batched_nms(boxes, scores, opt.crop_nms_thresh));
    res.stats.nms_ms += ms_since(t0);
  }
  res.stats.after_filters = static_cast<int64_t>(data.size());

  // Filter small disconnected regions and holes in masks.
  if (opt.min_mask_region_area > 0) {
    const auto t0 = std::chrono::steady_clock::now();
    postprocess_small_regions(data, opt.min_mask_region_area, std::max(opt.box_nms_thresh, opt.crop_nms_thresh));
    res.stats.small_regions_ms = ms_since(t0);
  }
  res.stats.prompts = prog.total;
  return res;
}

std::vector<AmgMask> AutomaticMaskGenerator::Impl::process_crop(const Image& image, const Box& crop_box,
                                                                const amg::PointGrid& grid, const AmgOptions& opt,
                                                                EncoderWorkspace& encoder_ws, AmgResult& res,
                                                                Progress& prog) {
  const int orig_h = image.height, orig_w = image.width;
  const int S = config.img_size, L = 4 * config.embedding_grid();
  const bool whole = crop_box == Box{0, 0, orig_w, orig_h};
  const Image cropped_storage = whole ? Image() : crop_image(image, crop_box);
  const Image& cropped = whole ? image : cropped_storage;

  // predictor.set_image(cropped_im)
  const auto t0 = std::chrono::steady_clock::now();
  const auto [in_h, in_w] = preprocess_shape(cropped.height, cropped.width, S);
  engine::check(in_h > 0 && in_w > 0,
                "image (or crop) of {}x{} pixels is too elongated: its short side would shrink to 0 pixels at the "
                "model's {}-pixel input",
                cropped.width, cropped.height, S);
  const engine::Tensor embedding =
      encoder.forward(normalize_and_pad(resize_bilinear_pil(cropped, in_w, in_h), S), encoder_ws);
  const MaskDecoder::ImageInputs inputs = decoder.prepare(embedding, prompt_encoder.dense_pe_tokens());
  res.stats.encoder_ms += ms_since(t0);

  // Thresholds as torch applies them: f32 tensors against Python floats cast to f32.
  const float mask_threshold = 0.f;  // Sam.mask_threshold
  const float stab_hi = static_cast<float>(0.0 + opt.stability_score_offset);
  const float stab_lo = static_cast<float>(0.0 - opt.stability_score_offset);
  const amg::MaskUpscaler upscaler({L, S, in_h, in_w, crop_box, orig_h, orig_w}, mask_threshold, stab_hi, stab_lo);
  const CropContext crop{inputs, grid, cropped.width, cropped.height, in_w, in_h, upscaler};
  const int64_t npts = static_cast<int64_t>(grid.size());
  std::vector<AmgMask> crop_data;
  for (int64_t b0 = 0; b0 < npts; b0 += opt.points_per_batch) {
    const int64_t b1 = std::min<int64_t>(npts, b0 + opt.points_per_batch);
    std::vector<AmgMask> batch;  // after the IoU and stability filters, in flatten(0, 1) order
    for (int64_t s0 = b0; s0 < b1; s0 += kMaxDecoderBatch) {
      const int64_t s1 = std::min<int64_t>(b1, s0 + kMaxDecoderBatch);
      process_batch(crop, s0, s1, opt, res.stats, batch);
      prog.done += s1 - s0;
      if (prog.fn) prog.fn(prog.done, prog.total);
    }
    // batched_mask_to_box on an empty batch returns float zeros (see AmgResult).
    if (batch.empty()) res.boxes_are_float = true;
    // Filter boxes that touch crop boundaries.
    for (AmgMask& r : batch)
      if (!amg::is_box_near_crop_edge(r.box, crop_box, {0, 0, orig_w, orig_h})) crop_data.push_back(std::move(r));
  }
  // Remove duplicates within this crop.
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<BoxF> boxes;
  std::vector<float> scores;
  for (const AmgMask& r : crop_data) {
    boxes.push_back(to_float(r.box));
    scores.push_back(r.predicted_iou);
  }
  filter(crop_data, amg::batched_nms(boxes, scores, opt.box_nms_thresh));
  res.stats.nms_ms += ms_since(t1);
  // Return to the original image frame.
  for (AmgMask& r : crop_data) {
    r.box = amg::uncrop_box(r.box, crop_box);
    r.point = amg::uncrop_point(r.point, crop_box);
    r.crop_box = crop_box;
  }
  return crop_data;
}

void AutomaticMaskGenerator::Impl::process_batch(const CropContext& crop, int64_t s0, int64_t s1,
                                                 const AmgOptions& opt, AmgResult::Stats& stats,
                                                 std::vector<AmgMask>& batch) {
  const int L = 4 * config.embedding_grid();
  auto t0 = std::chrono::steady_clock::now();
  // points_for_image = point_grids[layer] * [crop_w, crop_h] (float64)
  std::vector<Prompt> prompts(static_cast<size_t>(s1 - s0));
  std::vector<std::array<double, 2>> points(prompts.size());
  for (int64_t i = s0; i < s1; ++i) {
    const size_t k = static_cast<size_t>(i - s0);
    const auto& gp = crop.grid[static_cast<size_t>(i)];
    points[k] = {gp[0] * crop.cw, gp[1] * crop.ch};
    // transform.apply_coords (float64), then the official prompt encoder adds
    // 0.5 and normalises in float64 before casting to f32. Ours adds 0.5f in
    // f32: handing it float(x + 0.5) - 0.5f (exact) gives the same f32.
    const double tx = points[k][0] * (static_cast<double>(crop.in_w) / crop.cw);
    const double ty = points[k][1] * (static_cast<double>(crop.in_h) / crop.ch);
    prompts[k].point_coords = {static_cast<float>(tx + 0.5) - 0.5f, static_cast<float>(ty + 0.5) - 0.5f};
    prompts[k].point_labels = {1};
  }
  engine::Tensor sparse, dense;
  prompt_encoder.forward(prompts, sparse, dense);
  // predict_torch(multimask_output=True, return_logits=True)
  // Masks whose predicted IoU fails pred_iou_thresh are dropped below before
  // anything reads them, so the decoder need not upscale them.
  const float skip_at_or_below = opt.pred_iou_thresh > 0.0 ? static_cast<float>(opt.pred_iou_thresh)
                                                           : -std::numeric_limits<float>::infinity();
  const MaskDecoder::Output out = decoder.forward(crop.inputs, sparse, dense, /*multimask_output=*/true,
                                                  *decoder_arena, nullptr, skip_at_or_below);
  const engine::Tensor low = out.low_res_masks.contiguous();    // [n, 3, L, L]
  const engine::Tensor iou = out.iou_predictions.contiguous();  // [n, 3]
  stats.decoder_ms += ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  const float iou_thresh = static_cast<float>(opt.pred_iou_thresh);
  const float stab_thresh = static_cast<float>(opt.stability_score_thresh);
  const int64_t C = low.dim(1);
  const int64_t nm = (s1 - s0) * C;  // masks.flatten(0, 1)
  stats.decoded_masks += nm;
  // Filter by predicted IoU before any upscaling (it does not depend on the masks).
  std::vector<int64_t> cand;
  for (int64_t j = 0; j < nm; ++j)
    if (!(opt.pred_iou_thresh > 0.0) || iou.data<float>()[j] > iou_thresh) cand.push_back(j);
  std::vector<amg::MaskUpscaler::Result> up(cand.size());
  parallel_items(static_cast<int64_t>(cand.size()), [&](int64_t k, int t) {
    up[static_cast<size_t>(k)] =
        crop.upscaler.run(low.data<float>() + cand[static_cast<size_t>(k)] * L * L, scratch[static_cast<size_t>(t)]);
  });
  stats.upscaled_masks += static_cast<int64_t>(cand.size());
  for (size_t k = 0; k < cand.size(); ++k) {
    const float stab = amg::stability_score(up[k].above_hi, up[k].above_lo);
    if (opt.stability_score_thresh > 0.0 && !(stab >= stab_thresh)) continue;
    AmgMask r;
    r.rle = std::move(up[k].rle);
    r.box = up[k].box;  // crop frame until uncropped by process_crop
    r.predicted_iou = iou.data<float>()[cand[k]];
    r.point = points[static_cast<size_t>(cand[k] / C)];  // points.repeat(C, axis=0)
    r.stability_score = stab;
    batch.push_back(std::move(r));
  }
  stats.masks_ms += ms_since(t0);
}

void postprocess_small_regions(std::vector<AmgMask>& masks, int min_area, double nms_thresh) {
  if (masks.empty()) return;
  const size_t n = masks.size();
  std::vector<float> scores(n);
  std::vector<Box> new_boxes(n);
  std::vector<amg::Rle> new_rles(n);  // only for changed masks
  parallel_items(static_cast<int64_t>(n), [&](int64_t i, int) {
    const amg::Rle& rle = masks[static_cast<size_t>(i)].rle;
    std::vector<uint8_t> mask = amg::rle_to_mask(rle);
    const bool changed_holes = amg::remove_small_regions(mask, rle.h, rle.w, min_area, /*holes=*/true);
    const bool changed_islands = amg::remove_small_regions(mask, rle.h, rle.w, min_area, /*holes=*/false);
    // Score 1 for unchanged and 0 for changed masks, so NMS prefers the former.
    const bool unchanged = !changed_holes && !changed_islands;
    scores[static_cast<size_t>(i)] = unchanged ? 1.f : 0.f;
    new_boxes[static_cast<size_t>(i)] = amg::mask_to_box(mask.data(), rle.h, rle.w);
    if (!unchanged) new_rles[static_cast<size_t>(i)] = amg::mask_to_rle(mask.data(), rle.h, rle.w);
  });
  std::vector<BoxF> boxes(n);
  for (size_t i = 0; i < n; ++i) boxes[i] = to_float(new_boxes[i]);
  const std::vector<int64_t> keep = amg::batched_nms(boxes, scores, nms_thresh);
  // Only recalculate RLEs (and boxes) for masks that have changed.
  for (int64_t k : keep) {
    const size_t i = static_cast<size_t>(k);
    if (scores[i] == 0.f) {
      masks[i].rle = std::move(new_rles[i]);
      masks[i].box = new_boxes[i];
    }
  }
  filter(masks, keep);
}

}  // namespace sam
