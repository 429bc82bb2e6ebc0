#include "prompt_args.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/error.h"
#include "engine/io/mapped_file.h"
#include "engine/io/npy.h"
#include "engine/ops.h"

namespace sam::cli {
namespace {

// Comma-separated numbers. strtod's ERANGE is not a parse error: a value too
// small for a double (1e-320, 1e-999) is a coordinate of about 0 and is kept,
// one too large (1e999, or 1e39 beyond float) is infinite, and is refused as
// "inf" and "nan" are, with the same message.
std::vector<float> parse_numbers(const std::string& text, const char* option) {
  std::vector<float> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    engine::check(!item.empty() && end == item.c_str() + item.size(), "{} '{}': '{}' is not a number", option, text,
                  item);
    const float f = static_cast<float>(v);
    engine::check(std::isfinite(f), "{} '{}': coordinates must be finite", option, text);
    out.push_back(f);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

void PromptArgs::add_to(CLI::App* sub) {
  sub->add_option("-p,--point", points, "point prompt X,Y[,LABEL] in image pixels; LABEL 1 = foreground (default), "
                                        "0 = background; repeatable");
  sub->add_option("-b,--box", boxes, "box prompt X0,Y0,X1,Y1 in image pixels; repeatable (one mask set per box)");
  sub->add_option("--mask-input", mask_input, "low-res mask logits .npy from an earlier --save-logits (one mask)");
  sub->add_flag("--single-mask", single_mask, "one mask per prompt set instead of three (multimask_output=False)");
}

std::vector<PromptSet> PromptArgs::build(int image_w, int image_h, int grid) const {
  engine::check(!points.empty() || !boxes.empty() || !mask_input.empty(),
                "no prompt given: use -p X,Y[,LABEL], -b X0,Y0,X1,Y1 or --mask-input FILE.npy");
  engine::check(points.size() <= kMaxPoints, "too many points: {} (at most {})", points.size(), kMaxPoints);
  engine::check(boxes.size() <= kMaxBoxes, "too many boxes: {} (at most {})", boxes.size(), kMaxBoxes);
  const float W = static_cast<float>(image_w), H = static_cast<float>(image_h);
  PromptSet base;
  for (const std::string& p : points) {
    const std::vector<float> v = parse_numbers(p, "--point");
    engine::check(v.size() == 2 || v.size() == 3, "--point '{}': expected X,Y or X,Y,LABEL", p);
    engine::check(v[0] >= 0 && v[0] <= W && v[1] >= 0 && v[1] <= H, "--point '{}' lies outside the {}x{} image", p,
                  image_w, image_h);
    int label = 1;
    if (v.size() == 3) {
      engine::check(v[2] == 0.f || v[2] == 1.f, "--point '{}': LABEL must be 1 (foreground) or 0 (background)", p);
      label = static_cast<int>(v[2]);
    }
    base.points.push_back({v[0], v[1]});
    base.labels.push_back(label);
  }
  if (!mask_input.empty()) {
    const size_t bytes = engine::check_regular_file(mask_input);
    engine::check(bytes <= kMaxMaskInputBytes, "{}: mask input of {} bytes; low-res logits take at most {}",
                  mask_input, bytes, kMaxMaskInputBytes);
    const engine::NpyArray raw = engine::read_npy_raw(mask_input);
    engine::check(raw.descr == "<f4" || raw.descr == "=f4",
                  "{}: mask input of dtype '{}'; expected float32 logits ('<f4', as --save-logits writes)", mask_input,
                  raw.descr);
    engine::Tensor m = engine::Tensor::empty(engine::DType::F32, raw.shape);
    if (!raw.data.empty()) std::memcpy(m.raw_data(), raw.data.data(), raw.data.size());
    const int64_t side = 4 * grid;
    const bool ok = m.numel() == side * side && m.dim(-1) == side && m.dim(-2) == side && m.rank() <= 4;
    engine::check(ok, "{}: mask input of shape {}; expected [1, 1, {}, {}] low-res logits (one mask, e.g. from "
                      "--save-logits with --single-mask)",
                  mask_input, m.shape().str(), side, side);
    const int64_t bad = engine::ops::find_nonfinite(m);
    if (bad >= 0) {
      const float v = m.data<float>()[bad];
      engine::fail("{}: mask input holds {} at index {}; the logits must be finite", mask_input,
                   std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf", bad);
    }
    base.mask_input = m.reshape({1, 1, side, side});
  }
  std::vector<PromptSet> sets;
  if (boxes.empty()) {
    sets.push_back(base);
    return sets;
  }
  for (const std::string& b : boxes) {
    const std::vector<float> v = parse_numbers(b, "--box");
    engine::check(v.size() == 4, "--box '{}': expected X0,Y0,X1,Y1", b);
    engine::check(v[2] > v[0] && v[3] > v[1], "--box '{}': needs X1 > X0 and Y1 > Y0", b);
    engine::check(v[0] >= 0 && v[1] >= 0 && v[2] <= W && v[3] <= H, "--box '{}' lies outside the {}x{} image", b,
                  image_w, image_h);
    PromptSet s = base;
    s.box = std::array<float, 4>{v[0], v[1], v[2], v[3]};
    sets.push_back(std::move(s));
  }
  return sets;
}

}  // namespace sam::cli
