// sam everything: automatic mask generation on an image or a folder of images,
// with the options and the output layout of the official scripts/amg.py:
//   binary masks:     OUTPUT/<stem>/{0.png, 1.png, ..., metadata.csv}   (+ overlay.png)
//   --convert-to-rle: OUTPUT/<stem>.json (COCO RLE records)              (+ <stem>_overlay.png)
// metadata.csv and the JSON are written byte for byte as amg.py writes them
// (Python's str / json.dump of the same values).
//
// Dataset runs (any of --manifest, --shard, --resume, --log; docs/cluster.md,
// sam/dataset/dataset_run.h): the images of a folder or a manifest, this
// process's shard of them only; an image whose results are all in place is
// skipped (resume), an unreadable image fails alone; a JSON-lines log
// (OUTPUT/logs/shard-I-of-N.jsonl) and exit code 3 when some image failed. The
// output folder is shared by the shards (one process per shard).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "cli/output_dir.h"
#include "cli/overlay.h"
#include "engine/error.h"
#include "engine/text.h"
#include "engine/io/atomic_file.h"
#include "engine/io/output_guard.h"
#include "engine/ops.h"
#include "engine/thread_pool.h"
#include "sam/amg/automatic_mask_generator.h"
#include "sam/dataset/dataset_run.h"

namespace sam::cli {
namespace {
namespace fs = std::filesystem;

struct EverythingArgs {
  std::string model, input, output;
  std::string manifest, shard, log;  // dataset runs
  bool resume = false;
  bool dataset_run() const { return !manifest.empty() || !shard.empty() || !log.empty() || resume; }
  AmgOptions amg;
  bool convert_to_rle = false, overwrite = false;
  bool ignore_exif = false;
  int threads = 0;
  std::string precision;  // --precision: "" keeps the runtime's (f32 or SAM_PRECISION)
};

// One-line progress bar on stderr, drawn only when stderr is a terminal.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { clear(); }
  void show(double fraction, const std::string& label) {
    if (!enabled_) return;
    constexpr int kWidth = 30;
    const int filled = std::clamp(static_cast<int>(fraction * kWidth), 0, kWidth);
    std::fprintf(stderr, "\r[%.*s%*s] %3d%% %-40.40s", filled, "##############################", kWidth - filled, "",
                 static_cast<int>(fraction * 100), engine::printable(label).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void clear() {
    if (!enabled_ || !drawn_) return;
    std::fprintf(stderr, "\r%*s\r", 80, "");
    std::fflush(stderr);
    drawn_ = false;
  }

 private:
  bool enabled_;
  bool drawn_ = false;
};

void write_text(const std::string& path, const std::string& text) {
  engine::AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

// str(x) / json.dumps(x) of the record values.
std::string py_float(double v) { return amg::python_float_repr(v); }
std::string json_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return amg::python_float_repr(v);
}
// An int64 box coordinate, or the same value after torch promoted the tensor to float32.
std::string py_coord(int v, bool as_float) { return as_float ? py_float(static_cast<float>(v)) : std::to_string(v); }

std::string join4(const std::array<int, 4>& b, bool as_float, const char* sep) {
  return fmt::format("{}{}{}{}{}{}{}", py_coord(b[0], as_float), sep, py_coord(b[1], as_float), sep,
                     py_coord(b[2], as_float), sep, py_coord(b[3], as_float));
}

// scripts/amg.py: write_masks_to_folder's metadata.csv (lines joined by "\n", no final newline).
std::string metadata_csv(const AmgResult& r) {
  std::string s =
      "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
      "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h";
  for (size_t i = 0; i < r.masks.size(); ++i) {
    const AmgMask& m = r.masks[i];
    s += fmt::format("\n{},{},{},{},{},{},{},{}", i, m.area(), join4(m.bbox_xywh(), r.boxes_are_float, ","),
                     py_float(m.point[0]), py_float(m.point[1]), py_float(m.predicted_iou),
                     py_float(m.stability_score), join4(m.crop_box_xywh(), r.crop_boxes_are_float, ","));
  }
  return s;
}

// json.dump(masks) of generate(output_mode="coco_rle").
std::string coco_json(const AmgResult& r) {
  std::string s = "[";
  for (size_t i = 0; i < r.masks.size(); ++i) {
    const AmgMask& m = r.masks[i];
    std::string counts;
    for (char c : amg::coco_encode_counts(m.rle.counts)) {
      if (c == '\\' || c == '"') counts += '\\';
      counts += c;
    }
    if (i) s += ", ";
    s += fmt::format(
        "{{\"segmentation\": {{\"size\": [{}, {}], \"counts\": \"{}\"}}, \"area\": {}, \"bbox\": [{}], "
        "\"predicted_iou\": {}, \"point_coords\": [[{}, {}]], \"stability_score\": {}, \"crop_box\": [{}]}}",
        m.rle.h, m.rle.w, counts, m.area(), join4(m.bbox_xywh(), r.boxes_are_float, ", "),
        json_float(m.predicted_iou), json_float(m.point[0]), json_float(m.point[1]), json_float(m.stability_score),
        join4(m.crop_box_xywh(), r.crop_boxes_are_float, ", "));
  }
  return s + "]";
}

// Every mask blended in its own colour, the largest first (as the official
// notebooks' show_anns draws them), straight from the RLE runs.
Image overlay(const Image& image, const AmgResult& r) {
  Image out = image;
  std::vector<size_t> order(r.masks.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return r.masks[a].area() > r.masks[b].area(); });
  const int H = image.height, W = image.width;
  for (size_t k = 0; k < order.size(); ++k) {
    const amg::Rle& rle = r.masks[order[k]].rle;
    const auto c = palette_color(static_cast<int>(k));
    int x = 0, y = 0;  // column-major position of the run start
    for (size_t i = 0; i < rle.counts.size(); ++i) {
      int64_t left = rle.counts[i];
      while (left > 0) {
        const int take = static_cast<int>(std::min<int64_t>(left, H - y));
        if (i & 1) {
          uint8_t* px = out.pixels.data() + (static_cast<size_t>(y) * W + x) * 3;
          for (int t = 0; t < take; ++t, px += static_cast<size_t>(W) * 3)
            for (int ch = 0; ch < 3; ++ch)
              px[ch] = static_cast<uint8_t>((px[ch] * 45 + c[static_cast<size_t>(ch)] * 55) / 100);
        }
        left -= take;
        y += take;
        if (y == H) {
          y = 0;
          ++x;
        }
      }
    }
  }
  return out;
}

void write_mask_png(const std::string& path, const amg::Rle& rle) {
  Image png;
  png.width = rle.w;
  png.height = rle.h;
  png.channels = 1;
  png.pixels.resize(static_cast<size_t>(rle.w) * rle.h);
  amg::rle_to_mask(rle, png.pixels.data());
  for (uint8_t& v : png.pixels) v = v ? 255 : 0;
  write_png(path, png);
}

// What --overwrite may replace: a result this command wrote, recognised by its
// layout (an empty reason), else why not.
std::string foreign_reason(const fs::path& path, bool folder) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(path, ec);
  if (!folder) {
    if (!fs::is_regular_file(st)) return fs::is_directory(st) ? "a folder" : "not a regular file";
    const bool png = path.extension() == ".png";
    return engine::starts_with_bytes(path.string(), png ? "\x89PNG\r\n\x1a\n" : "[") ? ""
           : png                                                                       ? "not a PNG image"
                                                                                        : "not a JSON list of masks";
  }
  if (!fs::is_directory(st)) return "not a folder";
  for (const auto& e : fs::directory_iterator(path, ec)) {
    const std::string n = e.path().filename().string();
    const bool mask = n.size() > 4 && n.compare(n.size() - 4, 4, ".png") == 0 &&
                      std::all_of(n.begin(), n.end() - 4, [](char c) { return c >= '0' && c <= '9'; });
    if (!(mask || n == "metadata.csv" || n == "overlay.png") || !e.is_regular_file(ec)) return "it holds " + n;
  }
  if (!engine::starts_with_bytes((path / "metadata.csv").string(), "id,area,bbox_x0,")) return "no metadata.csv";
  return "";
}

// The names of one image's result in the output folder.
std::vector<std::string> result_names(const EverythingArgs& a, const std::string& stem) {
  return a.convert_to_rle ? std::vector<std::string>{stem + ".json", stem + "_overlay.png"} : std::vector{stem};
}

// Before any work on the image: an existing result (replaced only with
// --overwrite, or in a dataset run where an unfinished one is redone; and only
// if it is ours), a result that would replace an input.
void check_result(const EverythingArgs& a, const std::string& stem, const std::vector<engine::InputFile>& inputs,
                  bool replace) {
  std::error_code ec;
  for (const std::string& name : result_names(a, stem)) {
    const fs::path result = fs::path(a.output) / name;
    if (!fs::exists(fs::symlink_status(result, ec))) continue;
    if (!replace) engine::fail("{}: already exists (use --overwrite to replace it)", result.string());
    const std::string reason = foreign_reason(result, !a.convert_to_rle);
    if (!reason.empty())
      engine::fail("{}: not a result of sam everything ({}); --overwrite replaces only such results",
                   result.string(), reason);
    engine::check_not_an_input("", result.string(), inputs);
    if (!a.convert_to_rle)
      for (const auto& e : fs::directory_iterator(result, ec)) engine::check_not_an_input("", e.path().string(), inputs);
  }
}

// True if every file of the image's result is in place and ours (each image's
// result is moved into place at one commit: <stem>/ as one rename, <stem>.json
// before <stem>_overlay.png).
bool result_complete(const EverythingArgs& a, const std::string& stem) {
  std::error_code ec;
  for (const std::string& name : result_names(a, stem)) {
    const fs::path result = fs::path(a.output) / name;
    if (!fs::exists(fs::symlink_status(result, ec)) || !foreign_reason(result, !a.convert_to_rle).empty()) return false;
  }
  return true;
}

// Over the whole dataset (every shard sees the same list, so all agree): two
// inputs with one stem, an image whose result would be the log folder.
void check_stems(const EverythingArgs& a, const sam::dataset::Dataset& data, bool default_log) {
  std::set<std::string> stems;
  for (const sam::dataset::Item& it : data.items) {
    const std::string stem = fs::path(it.path).stem().string();
    if (!stems.insert(stem).second)
      engine::fail("{}: two inputs named {}.* would write the same output", data.source, stem);
    if (default_log && !a.convert_to_rle && stem == "logs")
      engine::fail("{}: the result of {} would be the log folder {}; give --log FILE", data.source, it.key,
                   (fs::path(a.output) / "logs").string());
  }
}

// Option values, each with a one-line message that says what is wrong: CLI::Range
// reports a non-number as "not in range" and lets NaN through (every comparison
// with NaN is false).
CLI::Validator int_in(int lo, int hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        long long v = 0;
        const char* end = s.data() + s.size();
        const auto [p, ec] = std::from_chars(s.data(), end, v);
        if (s.empty() || p != end || (ec != std::errc() && ec != std::errc::result_out_of_range))
          return fmt::format("Value {} is not an integer", s);
        if (ec == std::errc::result_out_of_range || v < lo || v > hi)
          return fmt::format("Value {} not in range {} to {}", s, lo, hi);
        return {};
      },
      fmt::format("INT in [{} - {}]", lo, hi));
}

CLI::Validator real_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size()) return fmt::format("Value {} is not a number", s);
        if (!std::isfinite(v)) return fmt::format("Value {} is not a finite number", s);
        if (std::isinf(hi) && v < lo) return fmt::format("Value {} is below {}", s, lo);
        if (v < lo || v > hi) return fmt::format("Value {} not in range {} to {}", s, lo, hi);
        return {};
      },
      std::isinf(hi) ? fmt::format("FLOAT >= {}", lo) : fmt::format("FLOAT in [{} - {}]", lo, hi));
}

// Options that are valid one by one but not together: refused as usage errors
// (exit 2) before anything is read, and the work per image is bounded.
void check_option_combination(const AmgOptions& o) {
  const int64_t n = AutomaticMaskGenerator::prompts_per_image(o);
  if (n == 0) {
    int layer = 0;  // the first layer without points
    while (layer < o.crop_n_layers &&
           std::trunc(o.points_per_side / std::pow(static_cast<double>(o.crop_n_points_downscale_factor), layer)) > 0)
      ++layer;
    throw CLI::ValidationError(fmt::format(
        "crop layer {} would have no points: --points-per-side {} / --crop-n-points-downscale-factor {}^{} < 1", layer,
        o.points_per_side, o.crop_n_points_downscale_factor, layer));
  }
  if (n > AutomaticMaskGenerator::kMaxPrompts)
    throw CLI::ValidationError(fmt::format(
        "{} prompt points per image (--points-per-side {}, --crop-n-layers {}, --crop-n-points-downscale-factor {}) "
        "exceed the limit of {}",
        n, o.points_per_side, o.crop_n_layers, o.crop_n_points_downscale_factor, AutomaticMaskGenerator::kMaxPrompts));
}

// Decodes one image and checks it fits the generator (the messages start with the path).
Image load_checked(const EverythingArgs& a, const AutomaticMaskGenerator& generator, const std::string& path) {
  Image image = load_image(path, a.ignore_exif ? ExifOrientation::kIgnore : ExifOrientation::kApply);
  try {
    generator.check_image(image.height, image.width);
  } catch (const engine::Error& e) {
    engine::fail("{}: {}", path, e.what());
  }
  return image;
}

// Stages the result of one image, moves it into place (an old result of it out)
// and returns its names in the output folder.
std::vector<std::string> write_result(const EverythingArgs& a, OutputDir& out, const std::string& stem,
                                      const Image& image, const AmgResult& r) {
  std::error_code ec;
  std::vector<std::string> written;
  if (a.convert_to_rle) {
    write_text(out.staged(stem + ".json"), coco_json(r));
    write_png(out.staged(stem + "_overlay.png"), overlay(image, r));
    written = {stem + ".json", stem + "_overlay.png"};
  } else {
    const std::string dir = out.staged(stem);
    fs::create_directory(dir, ec);
    if (ec) engine::fail("{}: cannot create {}: {}", a.output, stem, ec.message());
    for (size_t i = 0; i < r.masks.size(); ++i)
      write_mask_png((fs::path(dir) / fmt::format("{}.png", i)).string(), r.masks[i].rle);
    write_text((fs::path(dir) / "metadata.csv").string(), metadata_csv(r));
    write_png((fs::path(dir) / "overlay.png").string(), overlay(image, r));
    written = {stem + "/"};
  }
  // An old result (checked before) moves out when the new one moves in.
  for (const std::string& name : result_names(a, stem))
    if (fs::exists(fs::symlink_status(fs::path(a.output) / name, ec))) out.replace_on_commit(name);
  out.commit();
  return written;
}

// What one run over a dataset shares between its images.
struct EverythingRun {
  const EverythingArgs& a;
  OutputDir& out;
  AutomaticMaskGenerator& generator;
  Progress& bar;
  std::vector<engine::InputFile> inputs;  // outputs never replace these
  bool dataset = false;                   // a dataset run (see the top of the file)
  bool single_file = false;               // one image, not a dataset run: its errors end the run
  size_t count = 0, index = 0;            // for the progress bar

  // Does one image; an engine::Error from here is that image's failure.
  std::vector<std::string> process(const sam::dataset::Item& it) {
    const fs::path t(it.path);
    const std::string stem = t.stem().string();
    const double n = static_cast<double>(count), i = static_cast<double>(index++);
    const auto t0 = std::chrono::steady_clock::now();
    Image image;
    try {
      if (dataset) {
        std::vector<engine::InputFile> mine = inputs;
        mine.push_back({"--input", it.path});
        check_result(a, stem, mine, true);
      }
      image = load_checked(a, generator, it.path);
    } catch (const engine::Error& e) {
      if (single_file) throw sam::dataset::Fatal(e.what());
      throw;
    }
    try {
      bar.show(i / n, t.filename().string());
      const AmgResult r = generator.generate(image, [&](int64_t done, int64_t total) {
        bar.show((i + static_cast<double>(done) / static_cast<double>(total)) / n, t.filename().string());
      });
      const auto t1 = std::chrono::steady_clock::now();
      const std::vector<std::string> written = write_result(a, out, stem, image, r);
      const double write_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
      const double gen_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
      bar.clear();
      const auto& s = r.stats;
      fmt::print(
          "{}: {} masks -> {} ({:.0f} ms: encoder {:.0f}, decoder {:.0f}, masks {:.0f}, nms {:.0f}, small regions "
          "{:.0f}, writing {:.0f}; {} prompts, {} masks upscaled)\n",
          engine::printable(t.string()), r.masks.size(), engine::printable((fs::path(a.output) / written[0]).string()),
          gen_ms + write_ms, s.encoder_ms, s.decoder_ms, s.masks_ms, s.nms_ms, s.small_regions_ms, write_ms, s.prompts,
          s.upscaled_masks);
      std::fflush(stdout);
      return written;
    } catch (const engine::Error& e) {  // not the image's fault (a full disk, a model changed): the run ends
      throw sam::dataset::Fatal(e.what());
    }
  }
};

int run_everything(const EverythingArgs& a) {
  namespace ds = sam::dataset;
  set_runtime(a.threads, a.precision);
  const bool dataset = a.dataset_run();
  const ds::Shard shard = ds::parse_shard(a.shard);
  std::error_code ec;
  if (a.manifest.empty() && !fs::exists(a.input, ec)) engine::fail("{}: no such file or folder", a.input);
  const ds::InputKind kind = !a.manifest.empty()        ? ds::InputKind::kManifest
                             : fs::is_directory(a.input, ec) ? ds::InputKind::kFolder
                                                             : ds::InputKind::kFile;  // (a .txt too: --manifest reads lists)
  const ds::Dataset data = ds::open_dataset(a.manifest.empty() ? a.input : a.manifest, kind);
  const bool is_dir = data.kind != ds::InputKind::kFile;
  if (data.items.empty()) engine::fail("{}: no files to process", data.source);
  for (const std::string& w : data.warnings) engine::print_line(stderr, "sam: warning: " + w);
  if (fs::exists(a.output, ec) && !fs::is_directory(a.output, ec))
    engine::fail("{}: exists and is not a folder", a.output);
  check_stems(a, data, dataset && a.log.empty());
  // One staging folder and one lock for the whole run (shared by the shards of
  // a dataset run); each image's result is committed on its own (completed
  // images stay if a later one fails or the run is interrupted).
  OutputDir out(a.output, dataset ? Sharing::kShared : Sharing::kExclusive);
  std::unique_ptr<ds::ShardLog> log;
  if (dataset) log = std::make_unique<ds::ShardLog>(a.log.empty() ? ds::default_log_path(a.output, shard) : a.log, shard);
  std::vector<engine::InputFile> inputs = {{"--model", a.model}};
  if (!a.manifest.empty()) inputs.push_back({"--manifest", a.manifest});
  if (!dataset) {  // before any work: every existing result
    for (const ds::Item& it : data.items) inputs.push_back({"--input", it.path});
    for (const ds::Item& it : data.items) check_result(a, fs::path(it.path).stem().string(), inputs, a.overwrite);
  }
  const std::vector<ds::Item> mine = ds::select_shard(data.items, shard);

  const auto weights = Weights::load(a.model);
  AutomaticMaskGenerator generator(std::make_shared<const SamModel>(weights), a.amg);
  const bool random_model =
      weights->metadata().count("source_format") && weights->metadata().at("source_format") == "random";
  Progress bar(true);  // on a terminal only
  EverythingRun job{a, out, generator, bar, inputs, dataset, !dataset && !is_dir, mine.size()};
  ds::Callbacks cb;
  if (dataset && !a.overwrite)
    cb.is_complete = [&](const ds::Item& it) { return result_complete(a, fs::path(it.path).stem().string()); };
  cb.process = [&](const ds::Item& it) { return job.process(it); };
  cb.on_failure = [&](const ds::Item&, const std::string& message) {
    bar.clear();
    engine::print_line(stderr, "sam: warning: skipping " + message);
  };
  const ds::Summary s = ds::run(mine, shard, log.get(), cb);
  bar.clear();
  if (dataset) {
    if (random_model && s.done) fmt::print("note: random-weight model: the masks are meaningless\n");
    fmt::print("{}\n", ds::summary_text(s));
    return ds::exit_code(s);
  }
  if (s.done == 0) engine::fail("{}: none of its {} file(s) could be processed", data.source, s.failed);
  if (is_dir) fmt::print("{} image(s) processed, {} skipped\n", s.done, s.failed);
  if (random_model) fmt::print("note: random-weight model: the masks are meaningless\n");
  return 0;
}

}  // namespace

Command add_everything_command(CLI::App& app) {
  auto a = std::make_shared<EverythingArgs>();
  CLI::App* sub = app.add_subcommand(
      "everything", "Automatic mask generation (segment everything), as the official scripts/amg.py");
  sub->add_option("-m,--model", a->model, "converted model (.safetensors from sam-convert)")->required();
  CLI::Option* input = sub->add_option("--input", a->input, "an image, or a folder of images");
  sub->add_option("--manifest", a->manifest,
                  "a text file of image paths, one per line (# comments; relative to the file's folder); "
                  "instead of --input")
      ->excludes(input);
  sub->add_option("--shard", a->shard,
                  "I/N: do only shard I (0-based, 0..N-1) of N; the shards split the images by a hash of their "
                  "path, e.g. --shard $SLURM_ARRAY_TASK_ID/4 with --array=0-3 (docs/cluster.md)");
  sub->add_flag("--resume", a->resume,
                "a dataset run even without --manifest/--shard: skip images whose results are complete");
  sub->add_option("--log", a->log, "JSON-lines log of a dataset run (default OUTPUT/logs/shard-I-of-N.jsonl)");
  sub->add_option("--output", a->output,
                  "output folder: per image <stem>/ (N.png, metadata.csv, overlay.png), or with "
                  "--convert-to-rle <stem>.json and <stem>_overlay.png")
      ->required();
  sub->add_flag("--convert-to-rle", a->convert_to_rle, "write COCO RLE records to <stem>.json instead of PNGs");
  AmgOptions& o = a->amg;
  sub->add_option("--points-per-side", o.points_per_side, "points sampled along one side of the image (default 32)")
      ->check(int_in(1, 256));
  sub->add_option("--points-per-batch", o.points_per_batch, "points run through the model at once (default 64)")
      ->check(int_in(1, 4096));
  sub->add_option("--pred-iou-thresh", o.pred_iou_thresh, "drop masks with a predicted IoU below this (default 0.88)")
      ->check(real_in(0.0, 1.0));
  sub->add_option("--stability-score-thresh", o.stability_score_thresh,
                  "drop masks with a stability score below this (default 0.95)")
      ->check(real_in(0.0, 1.0));
  sub->add_option("--stability-score-offset", o.stability_score_offset,
                  "logit offset for the stability score (default 1.0)")
      ->check(real_in(0.0, std::numeric_limits<double>::infinity()));
  sub->add_option("--box-nms-thresh", o.box_nms_thresh, "box IoU cutoff for duplicate masks (default 0.7)")
      ->check(real_in(0.0, 1.0));
  sub->add_option("--crop-n-layers", o.crop_n_layers, "run again on crops, this many layers (default 0)")
      ->check(int_in(0, 6));
  sub->add_option("--crop-nms-thresh", o.crop_nms_thresh, "box IoU cutoff between crops (default 0.7)")
      ->check(real_in(0.0, 1.0));
  sub->add_option("--crop-overlap-ratio", o.crop_overlap_ratio, "overlap of the crops (default 512/1500)")
      ->check(real_in(0.0, 0.999));
  sub->add_option("--crop-n-points-downscale-factor", o.crop_n_points_downscale_factor,
                  "points per side divided by this per crop layer (default 1)")
      ->check(int_in(1, 1024));
  sub->add_option("--min-mask-region-area", o.min_mask_region_area,
                  "remove islands and fill holes smaller than this many pixels (default 0: off)")
      ->check(int_in(0, 1 << 30));
  sub->add_option("--threads", a->threads, "worker threads (default: all cores)")->check(int_in(1, 1024));
  add_precision_option(sub, a->precision);
  sub->add_flag("--overwrite", a->overwrite, "replace existing results in the output folder");
  sub->add_flag("--ignore-exif", a->ignore_exif, "keep JPEGs' stored orientation (default: apply their EXIF rotation)");
  sub->callback([a] {  // during parsing: usage errors
    if (a->input.empty() && a->manifest.empty()) throw CLI::RequiredError("--input");
    if (a->resume && a->overwrite) throw CLI::ValidationError("--resume and --overwrite exclude each other");
    try {
      sam::dataset::parse_shard(a->shard);
    } catch (const engine::Error& e) {
      throw CLI::ValidationError(e.what());
    }
    check_option_combination(a->amg);
  });
  return {sub, [a] { return run_everything(*a); }};
}

}  // namespace sam::cli
