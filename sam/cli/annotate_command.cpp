// sam annotate: detector boxes -> SAM masks -> segmentation labels, the
// auto-annotation of Ultralytics' auto_annotate(data, det_model, sam_model,
// output_dir) with the detector's boxes read from files (sam/annotate/boxes.h).
//
// Per image: one encode, all of its boxes through the decoder as one batch, one
// mask per box (multimask_output=False). Outputs (--format, several allowed):
//   yolo-seg  OUT/<stem>.txt   `class x1 y1 x2 y2 ...` normalised, exactly as
//             auto_annotate writes it (images without boxes get no file)
//   labelme   OUT/<stem>.json  LabelMe polygons
//   png       OUT/<stem>_<k>.png  box k's mask, 0 / 255
//   coco      OUT/coco_parts/<stem>.json per image, assembled at the end of each
//             run into OUT/instances.json (every part present: after the last
//             shard of a split run finishes, a rerun of any shard, all skipped,
//             rebuilds it whole)
// Always a dataset run (sam/dataset/dataset_run.h): --images is a folder, a
// manifest or one image; --shard I/N; images recorded done in OUT/logs/*.jsonl
// are skipped (resume; --overwrite redoes them); each image's files appear at
// once (staged, renamed); exit 3 when some image failed. The next image is
// decoded (and its boxes read) on a second thread while the current one runs
// through the model.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "cli/commands.h"
#include "cli/output_dir.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/text.h"
#include "sam/annotate/boxes.h"
#include "sam/annotate/labels.h"
#include "sam/dataset/dataset_run.h"
#include "sam/predictor.h"

namespace sam::cli {
namespace {
namespace fs = std::filesystem;
namespace ds = sam::dataset;
using namespace sam::annotate;

struct AnnotateArgs {
  std::string model, images, boxes, output, names_file, shard, log;
  std::vector<std::string> formats{"yolo-seg"};
  std::vector<int> classes;
  int64_t min_area = 0;
  double simplify = 0;
  float conf = 0.f;
  std::string coco_segmentation = "rle";
  bool overwrite = false, ignore_exif = false;
  int threads = 0;
  std::string precision;
  bool wants(const char* f) const { return std::find(formats.begin(), formats.end(), f) != formats.end(); }
};

// Boxes per decoder call: an image's boxes go through the decoder as one batch up to this many.
constexpr size_t kMaxBatch = 64;

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

void write_text(const std::string& path, const std::string& text) {
  engine::AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

// Ultralytics' default: <data>_auto_annotate_labels beside the data.
std::string default_output(const std::string& images) {
  fs::path data(images);
  while (data.has_relative_path() && data.filename().empty()) data = data.parent_path();  // "dir/" -> "dir"
  return (data.parent_path() / (data.stem().string() + "_auto_annotate_labels")).string();
}

// --names FILE: one class name per line, line i (0-based) names class i.
std::map<int, std::string> read_names(const std::string& path) {
  std::ifstream f(path);
  if (!f) engine::fail("--names {}: cannot open", path);
  std::map<int, std::string> names;
  std::string line;
  for (int i = 0; std::getline(f, line); ++i) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names[i] = line;
  }
  if (names.empty()) engine::fail("--names {}: no names in it", path);
  return names;
}

// The names of one image's outputs in OUT.
std::vector<std::string> output_names(const AnnotateArgs& a, const std::string& stem, size_t masks) {
  std::vector<std::string> names;
  if (a.wants("yolo-seg")) names.push_back(stem + ".txt");
  if (a.wants("labelme")) names.push_back(stem + ".json");
  if (a.wants("coco")) names.push_back("coco_parts/" + stem + ".json");
  if (a.wants("png"))
    for (size_t k = 0; k < masks; ++k) names.push_back(fmt::format("{}_{}.png", stem, k));
  return names;
}

// Over the whole dataset (every shard agrees): two images with one stem.
void check_stems(const AnnotateArgs& a, const ds::Dataset& data) {
  std::map<std::string, std::string> stems;
  for (const ds::Item& it : data.items) {
    const std::string stem = fs::path(it.path).stem().string();
    const auto [at, fresh] = stems.emplace(stem, it.key);
    if (!fresh)
      engine::fail("{}: {} and {} would write the same label file {}.*", data.source, at->second, it.key, stem);
    if (a.wants("labelme") && a.wants("coco") && stem == "instances")
      engine::fail("{}: the LabelMe file of {} would be the COCO file instances.json", data.source, it.key);
  }
}

// An image decoded (and its boxes read) ahead, on its own thread.
struct Loaded {
  Image image;
  std::vector<DetectionBox> boxes;
  double decode_ms = 0;
};

class AnnotateRun {
 public:
  // items: this shard's images; all_items: the whole dataset listing (the same in every shard).
  AnnotateRun(const AnnotateArgs& a, OutputDir& out, const BoxSource& boxes, std::map<int, std::string> names,
              Predictor& predictor, const std::vector<ds::Item>& items, const std::vector<ds::Item>& all_items,
              std::set<std::string> completed)
      : a_(a), out_(out), boxes_(boxes), names_(std::move(names)), predictor_(predictor), items_(items),
        completed_(std::move(completed)) {
    for (size_t i = 0; i < items_.size(); ++i) position_[items_[i].key] = i;
    for (size_t i = 0; i < all_items.size(); ++i) dataset_index_[all_items[i].key] = i;
    filter_.classes = a.classes;
    filter_.min_score = a.conf;
  }
  ~AnnotateRun() {
    if (ahead_.valid()) ahead_.wait();
  }

  bool is_complete(const ds::Item& it) const { return completed_.count(it.key) > 0; }

  std::vector<std::string> process(const ds::Item& it) {
    const size_t pos = position_.at(it.key);
    Loaded in;
    if (ahead_.valid() && ahead_index_ == pos) {
      in = ahead_.get();  // rethrows the image's decode / box error
    } else {
      if (ahead_.valid()) ahead_.wait();
      in = load(it);
    }
    prefetch_after(pos);
    return annotate(it, in);
  }

 private:
  Loaded load(const ds::Item& it) const {
    const auto t0 = Clock::now();
    Loaded l;
    for (DetectionBox& b : boxes_.boxes_for(it.key, it.path))
      if (filter_.keeps(b)) l.boxes.push_back(std::move(b));
    l.image = load_image(it.path, a_.ignore_exif ? ExifOrientation::kIgnore : ExifOrientation::kApply);
    l.decode_ms = ms_since(t0);
    return l;
  }

  void prefetch_after(size_t pos) {
    size_t next = pos + 1;
    while (next < items_.size() && is_complete(items_[next])) ++next;
    if (next >= items_.size()) return;
    ahead_index_ = next;
    ahead_ = std::async(std::launch::async, [this, next] { return load(items_[next]); });
  }

  std::vector<std::string> annotate(const ds::Item& it, const Loaded& in) {
    const std::string stem = fs::path(it.path).stem().string();
    const int W = in.image.width, H = in.image.height;
    std::vector<Instance> inst(in.boxes.size());
    std::vector<PromptSet> prompts(in.boxes.size());
    for (size_t k = 0; k < in.boxes.size(); ++k) {
      inst[k].class_id = in.boxes[k].class_id;
      inst[k].score = in.boxes[k].score;
      inst[k].has_score = in.boxes[k].has_score;
      inst[k].box = box_in_pixels(in.boxes[k], W, H);  // an engine::Error: this image fails
      prompts[k].box = inst[k].box;
    }
    const auto t0 = Clock::now();
    const size_t plane = static_cast<size_t>(W) * static_cast<size_t>(H);
    std::vector<uint8_t> masks(prompts.size() * plane);  // [N, H, W] 0/1
    double encode_ms = 0;
    if (!prompts.empty()) {
      predictor_.set_image(in.image);
      encode_ms = ms_since(t0);
      // One decoder batch (up to kMaxBatch boxes: bounded memory for detectors' 300 boxes).
      for (size_t first = 0; first < prompts.size(); first += kMaxBatch) {
        const size_t n = std::min(kMaxBatch, prompts.size() - first);
        const std::vector<PromptSet> batch(prompts.begin() + static_cast<std::ptrdiff_t>(first),
                                           prompts.begin() + static_cast<std::ptrdiff_t>(first + n));
        const Prediction pred = predictor_.predict(batch, /*multimask_output=*/false);  // masks [n, 1, H, W]
        std::copy_n(pred.masks.data<uint8_t>(), n * plane, masks.data() + first * plane);
        for (size_t k = 0; k < n; ++k) inst[first + k].mask_score = pred.iou_predictions.data<float>()[k];
      }
    }
    const double model_ms = ms_since(t0);
    const auto t1 = Clock::now();
    std::vector<Instance> kept;
    std::vector<size_t> kept_index;
    for (size_t k = 0; k < inst.size(); ++k) {
      inst[k].mask = masks.data() + k * plane;
      describe_mask(inst[k], H, W, a_.simplify);
      if (inst[k].area < a_.min_area) continue;
      kept.push_back(inst[k]);
      kept_index.push_back(k);
    }
    try {
      const std::vector<std::string> written = write_outputs(it, stem, in, kept, kept_index);
      fmt::print("{}: {} box(es), {} mask(s) -> {} file(s) ({:.0f} ms: encoder {:.0f}, decoder {:.0f}, labels {:.0f}; "
                 "decode {:.0f} ahead)\n",
                 engine::printable(it.key), inst.size(), kept.size(), written.size(), model_ms + ms_since(t1),
                 encode_ms, model_ms - encode_ms, ms_since(t1), in.decode_ms);
      std::fflush(stdout);
      return written;
    } catch (const engine::Error& e) {  // not the image's fault (a full disk): the run ends
      throw ds::Fatal(e.what());
    }
  }

  std::vector<std::string> write_outputs(const ds::Item& it, const std::string& stem, const Loaded& in,
                                         const std::vector<Instance>& kept, const std::vector<size_t>& kept_index) {
    const int W = in.image.width, H = in.image.height;
    std::vector<std::string> written;
    const bool any_box = !in.boxes.empty();
    if (a_.wants("yolo-seg") && any_box) {
      write_text(out_.staged(stem + ".txt"), yolo_seg_text(kept, H, W));
      written.push_back(stem + ".txt");
    }
    if (a_.wants("labelme") && any_box) {
      const fs::path image_abs = fs::absolute(it.path), out_abs = fs::absolute(a_.output);
      const std::string rel = image_abs.lexically_normal().lexically_relative(out_abs.lexically_normal()).string();
      write_text(out_.staged(stem + ".json"), labelme_json(kept, rel.empty() ? it.path : rel, H, W, names_));
      written.push_back(stem + ".json");
    }
    if (a_.wants("coco")) {
      std::error_code ec;
      fs::create_directories(fs::path(out_.staging()) / "coco_parts", ec);
      const std::optional<long long> id = boxes_.image_id(it.key, it.path);
      const auto seg = a_.coco_segmentation == "polygon" ? CocoSegmentation::kPolygon : CocoSegmentation::kRle;
      write_text(out_.staged("coco_parts/" + stem + ".json"),
                 coco_part_json(kept, id ? *id : static_cast<long long>(dataset_index_.at(it.key)), it.key, H, W, seg));
      written.push_back("coco_parts/" + stem + ".json");
    }
    if (a_.wants("png"))
      for (size_t j = 0; j < kept.size(); ++j) {
        Image png;
        png.width = W;
        png.height = H;
        png.channels = 1;
        png.pixels.resize(static_cast<size_t>(W) * H);
        for (size_t p = 0; p < png.pixels.size(); ++p) png.pixels[p] = kept[j].mask[p] ? 255 : 0;
        const std::string name = fmt::format("{}_{}.png", stem, kept_index[j]);
        write_png(out_.staged(name), png);
        written.push_back(name);
      }
    // Old files of this image (an unlogged earlier result, or --overwrite) move out as the new ones move in.
    std::error_code ec;
    for (const std::string& name : output_names(a_, stem, in.boxes.size()))
      if (fs::exists(fs::symlink_status(fs::path(a_.output) / name, ec))) out_.replace_on_commit(name);
    out_.commit();
    return written;
  }

  const AnnotateArgs& a_;
  OutputDir& out_;
  const BoxSource& boxes_;
  std::map<int, std::string> names_;
  Predictor& predictor_;
  const std::vector<ds::Item>& items_;
  std::set<std::string> completed_;
  std::unordered_map<std::string, size_t> position_;
  // Position in the whole dataset listing (the same in every shard): the COCO image id of YOLO-label boxes.
  std::unordered_map<std::string, size_t> dataset_index_;
  BoxFilter filter_;
  std::future<Loaded> ahead_;
  size_t ahead_index_ = 0;
};

// OUT/instances.json from every part in OUT/coco_parts (all shards').
void assemble_coco_file(const AnnotateArgs& a, OutputDir& out, const std::map<int, std::string>& names) {
  std::vector<std::string> parts;
  std::error_code ec;
  const fs::path dir = fs::path(a.output) / "coco_parts";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    parts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string doc;
  try {
    doc = assemble_coco(parts, names);
  } catch (const std::exception& e) {
    engine::fail("{}: a part is not valid: {}", dir.string(), e.what());
  }
  write_text(out.staged("instances.json"), doc);
  if (fs::exists(fs::path(a.output) / "instances.json", ec)) out.replace_on_commit("instances.json");
  out.commit();
  fmt::print("{}: {} image(s)\n", engine::printable((fs::path(a.output) / "instances.json").string()), files.size());
}

// A folder that is neither new, empty, nor one sam annotate wrote (it has logs/) is refused without --overwrite.
// Accepted, OUT/logs/ is created before anything else is written into OUT: the shards of an array job start
// together, and each must see OUT as absent, empty or with logs/, never with another shard's staging alone.
void claim_output_folder(const AnnotateArgs& a) {
  std::error_code ec;
  const fs::path logs = fs::path(a.output) / "logs";
  if (fs::exists(a.output, ec)) {
    if (!fs::is_directory(a.output, ec)) engine::fail("{}: exists and is not a folder", a.output);
    // Emptiness before logs/: a shard creates logs/ before anything else, so a folder seen not empty because of
    // a shard starting beside us is then seen with logs/.
    if (!a.overwrite && !fs::is_empty(a.output, ec) && !fs::is_directory(logs, ec))
      engine::fail("{}: not empty and not an output folder of sam annotate (no logs/ in it); use --overwrite to "
                   "write into it anyway",
                   a.output);
  }
  fs::create_directories(logs, ec);
  if (ec && !fs::is_directory(logs)) engine::fail("{}: cannot create output folder: {}", logs.string(), ec.message());
}

int run_annotate(AnnotateArgs a) {
  set_runtime(a.threads, a.precision);
  const ds::Shard shard = ds::parse_shard(a.shard);
  const ds::Dataset data = ds::open_dataset(a.images, ds::InputKind::kAuto);
  if (data.items.empty()) engine::fail("{}: no files to process", data.source);
  for (const std::string& w : data.warnings) engine::print_line(stderr, "sam: warning: " + w);
  if (a.output.empty()) a.output = default_output(a.images);
  check_stems(a, data);
  const std::unique_ptr<BoxSource> boxes = open_box_source(a.boxes);
  std::map<int, std::string> names = a.names_file.empty() ? boxes->categories() : read_names(a.names_file);
  claim_output_folder(a);
  OutputDir out(a.output, Sharing::kShared);
  const std::string log_path = a.log.empty() ? ds::default_log_path(a.output, shard) : a.log;
  std::set<std::string> completed;
  if (!a.overwrite) {
    completed = ds::completed_images((fs::path(a.output) / "logs").string());
    if (!a.log.empty())
      for (const std::string& k : ds::completed_images(a.log)) completed.insert(k);
  }
  ds::ShardLog log(log_path, shard);
  const std::vector<ds::Item> mine = ds::select_shard(data.items, shard);

  const auto weights = Weights::load(a.model);
  Predictor predictor(std::make_shared<const SamModel>(weights));
  const bool single_file = data.kind == ds::InputKind::kFile;
  AnnotateRun job(a, out, *boxes, names, predictor, mine, data.items, completed);
  ds::Callbacks cb;
  cb.is_complete = [&](const ds::Item& it) { return job.is_complete(it); };
  cb.process = [&](const ds::Item& it) {
    if (!single_file) return job.process(it);
    try {
      return job.process(it);
    } catch (const engine::Error& e) {  // one image: its error ends the run
      throw ds::Fatal(e.what());
    }
  };
  cb.on_failure = [&](const ds::Item&, const std::string& message) {
    engine::print_line(stderr, "sam: warning: skipping " + message);
  };
  const ds::Summary s = ds::run(mine, shard, &log, cb);
  if (a.wants("coco")) assemble_coco_file(a, out, names);
  if (weights->metadata().count("source_format") && weights->metadata().at("source_format") == "random")
    fmt::print("note: random-weight model: the masks are meaningless\n");
  fmt::print("{}\n", ds::summary_text(s));
  return ds::exit_code(s);
}

}  // namespace

Command add_annotate_command(CLI::App& app) {
  auto a = std::make_shared<AnnotateArgs>();
  CLI::App* sub = app.add_subcommand(
      "annotate", "Detector boxes -> SAM masks -> segmentation labels (Ultralytics auto_annotate with box files)");
  sub->add_option("-m,--model", a->model, "converted model (.safetensors from sam-convert)")->required();
  sub->add_option("--images", a->images, "a folder of images, a manifest (.txt/.lst/.list of paths) or one image")
      ->required();
  sub->add_option("--boxes", a->boxes,
                  "a YOLO labels folder (<stem>.txt: class cx cy w h [conf], normalised) or a COCO JSON "
                  "(images + annotations, or a detections list)")
      ->required();
  sub->add_option("-o,--output", a->output, "output folder (default <images>_auto_annotate_labels beside the images)");
  sub->add_option("--format", a->formats, "yolo-seg (default), coco, labelme, png; several: --format yolo-seg,coco")
      ->delimiter(',')
      ->check(CLI::IsMember({"yolo-seg", "coco", "labelme", "png"}));
  sub->add_option("--classes", a->classes, "only boxes of these class ids, e.g. --classes 0,2")->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--conf", a->conf, "only boxes with a score >= T (boxes without a score are kept)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--min-area", a->min_area, "drop masks of fewer than N pixels (default 0)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_option("--simplify", a->simplify,
                  "simplify polygons: drop points within EPS pixels (Douglas-Peucker; default 0: exact contours)")
      ->check(CLI::Range(0.0, 1e6));
  sub->add_option("--names", a->names_file, "class names, one per line (line i: class i), for COCO and LabelMe");
  sub->add_option("--coco-segmentation", a->coco_segmentation, "rle (default) or polygon")
      ->check(CLI::IsMember({"rle", "polygon"}));
  sub->add_option("--shard", a->shard,
                  "I/N: do only shard I (0-based) of N, split by a hash of the image path "
                  "(--shard $SLURM_ARRAY_TASK_ID/N; docs/cluster.md)");
  sub->add_option("--log", a->log, "JSON-lines log (default OUTPUT/logs/shard-I-of-N.jsonl)");
  sub->add_flag("--overwrite", a->overwrite, "redo images already done (and write into a foreign folder)");
  sub->add_option("--threads", a->threads, "worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  add_precision_option(sub, a->precision);
  sub->add_flag("--ignore-exif", a->ignore_exif, "keep JPEGs' stored orientation (default: apply their EXIF rotation)");
  sub->callback([a] {  // during parsing: usage errors
    try {
      sam::dataset::parse_shard(a->shard);
    } catch (const engine::Error& e) {
      throw CLI::ValidationError(e.what());
    }
  });
  return {sub, [a] { return run_annotate(*a); }};
}

}  // namespace sam::cli
