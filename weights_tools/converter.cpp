#include "converter.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "engine/error.h"
#include "engine/io/file_kind.h"
#include "engine/io/mapped_file.h"
#include "engine/io/output_guard.h"
#include "engine/io/safetensors.h"
#include "hf_sam_mapping.h"
#include "progress_bar.h"
#include "sam/modeling/weight_schema.h"
#include "engine/io/sha256.h"
#include "torch_checkpoint.h"

namespace weights_tools {
namespace {

// One input tensor, whatever the container: its name, shape, dtype and a way
// to fetch its elements (one tensor in memory at a time).
struct SourceTensor {
  std::string name;
  std::vector<int64_t> shape;
  engine::DType dtype = engine::DType::F32;
  std::function<engine::Tensor()> load;
};

enum class InputFormat { PytorchZip, Safetensors };

// A PyTorch zip starts with a local file header ("PK\3\4"); a safetensors file
// with a u64 header length followed by '{'. Anything else is refused up front
// with a message that says what the file is not.
InputFormat sniff_format(const std::string& path) {
  auto f = engine::MappedFile::open(path);
  const auto* p = reinterpret_cast<const unsigned char*>(f->data());
  const size_t n = f->size();
  if (n >= 4 && std::memcmp(p, "PK\x03\x04", 4) == 0) return InputFormat::PytorchZip;
  const std::string kind = n >= 9 && p[8] == '{' ? "" : engine::file_kind(f->data(), n);
  if (!kind.empty() && kind != "a Python pickle")
    engine::fail("{}: is {}, not a PyTorch checkpoint (.pth) or a safetensors file", path, kind);
  if ((n >= 9 && p[8] == '{') || std::filesystem::path(path).extension() == ".safetensors")
    return InputFormat::Safetensors;
  if (n >= 2 && p[0] == 0x80 && p[1] <= 5)
    engine::fail("{}: a bare pickle (legacy torch.save format from before torch 1.6); re-save it with a current "
                 "torch.save, which writes the zip format",
                 path);
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(n, 8); ++i) head += fmt::format("{:02x} ", p[i]);
  engine::fail("{}: not a PyTorch checkpoint (zip) or a safetensors file (starts with {}...)", path, head);
}

// A Hugging Face SamModel file: its tensors renamed to the official keys, in
// the official order (hf_sam_mapping.h); the variant checked against config.json.
std::vector<SourceTensor> from_hf_layout(const std::string& input, const engine::SafetensorsFile& file,
                                         std::vector<SourceTensor> sources) {
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, const SourceTensor*> by_name;
  for (const SourceTensor& s : sources) {
    shapes[s.name] = s.shape;
    by_name[s.name] = &s;
  }
  return engine::with_context(input, [&] {
    const HfSamPlan plan = plan_hf_sam(input, shapes);
    check_tied_tables(plan, [&](const std::string& name) { return file.tensor(name); });
    std::vector<SourceTensor> out;
    for (const auto& [official, hf] : plan.official_to_hf) {
      out.push_back(*by_name.at(hf));
      out.back().name = official;
    }
    return out;
  });
}

// The input's tensors, whatever the container; the container stays open (the
// loaders point into it) as long as the OpenedInput lives.
struct OpenedInput {
  std::unique_ptr<TorchCheckpoint> pth;
  std::unique_ptr<engine::SafetensorsFile> st;
  std::vector<SourceTensor> sources;
  std::map<std::string, std::string> metadata;
};

// MobileSAM's state_dict (mobile_sam.pt, a TinyViT image encoder: image_encoder.layers.*)
// holds tensors no SAM module reads: TinyViT's ImageNet classifier (image_encoder.norm_head.*,
// image_encoder.head.*; TinyViT.forward never calls them) and BatchNorm's int64
// num_batches_tracked counters (used in training only). They are left out.
bool is_tinyvit_state_dict(const std::vector<TensorRecord>& records) {
  for (const TensorRecord& r : records)
    if (r.name.rfind("image_encoder.layers.", 0) == 0) return true;
  return false;
}

bool is_unused_tinyvit_tensor(const std::string& name) {
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name.rfind("image_encoder.norm_head.", 0) == 0 || name.rfind("image_encoder.head.", 0) == 0 ||
         (name.rfind("image_encoder.", 0) == 0 && ends_with(".num_batches_tracked"));
}

OpenedInput open_input(const std::string& input, ConvertSummary& summary) {
  OpenedInput in;
  if (sniff_format(input) == InputFormat::PytorchZip) {
    summary.source_format = "pytorch";
    in.pth = std::make_unique<TorchCheckpoint>(input);
    const bool tinyvit = is_tinyvit_state_dict(in.pth->tensors());
    for (const TensorRecord& r : in.pth->tensors()) {
      if (tinyvit && is_unused_tinyvit_tensor(r.name)) continue;
      const auto dtype = to_engine_dtype(r.dtype);
      engine::check(dtype.has_value(), "{}: tensor '{}' has dtype {}; SAM weights are float32 (or float16/bfloat16)",
                    input, r.name, torch_dtype_name(r.dtype));
      const TensorRecord* rec = &r;
      TorchCheckpoint* ck = in.pth.get();
      in.sources.push_back({r.name, r.shape, *dtype, [ck, rec] { return ck->read(*rec); }});
    }
    return in;
  }
  summary.source_format = "safetensors";
  in.st = std::make_unique<engine::SafetensorsFile>(engine::SafetensorsFile::open(input));
  in.metadata = in.st->metadata();
  std::vector<std::string> names;
  for (const engine::SafetensorsEntry& e : in.st->entries()) {
    engine::check(engine::is_floating(e.dtype), "{}: tensor '{}' has dtype {}; SAM weights are floating point", input,
                  e.name, engine::dtype_name(e.dtype));
    const engine::SafetensorsFile* file = in.st.get();
    const engine::SafetensorsEntry* entry = &e;
    in.sources.push_back({e.name, e.shape.to_vector(), e.dtype, [file, entry] { return file->tensor(*entry); }});
    names.push_back(e.name);
  }
  if (is_hf_sam_layout(names)) {
    summary.source_format = "hf-safetensors";
    in.sources = from_hf_layout(input, *in.st, std::move(in.sources));
  }
  return in;
}

}  // namespace

void check_output(const std::string& output, bool overwrite) {
  engine::check_replaceable_file(output, overwrite, "sam-convert", [](const std::string& path) -> std::string {
    std::ifstream f(path, std::ios::binary);
    char head[9] = {};
    return f.read(head, 9) && head[8] == '{' ? "" : "not a safetensors file";
  });
}

void write_tensors(const std::string& path, const std::vector<engine::SafetensorsSpec>& specs,
                   const std::map<std::string, std::string>& metadata,
                   const std::function<engine::Tensor(size_t)>& load, const char* progress_label,
                   bool show_progress, ConvertSummary& summary) {
  engine::SafetensorsWriter writer(path, specs, metadata);
  ProgressBar bar(progress_label, specs.size(), show_progress);
  for (size_t i = 0; i < specs.size(); ++i) {
    engine::Tensor t = load(i);
    if (t.dtype() != specs[i].dtype) t = t.to(specs[i].dtype);
    writer.write(t.raw_data(), t.nbytes());
    summary.tensors++;
    if (specs[i].dtype != engine::DType::F32) summary.tensors_16bit++;
    summary.parameters += t.numel();
    bar.update(i + 1);
  }
  writer.finish();
  bar.finish();
  summary.output_bytes = writer.total_bytes();
}

ConvertSummary convert_checkpoint(const ConvertOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  ConvertSummary summary;
  summary.input_bytes = engine::check_regular_file(o.input);
  engine::check(summary.input_bytes > 0, "{}: empty file", o.input);
  engine::check(engine::is_floating(o.dtype), "--dtype must be f32, f16 or bf16");
  {
    std::error_code ec;
    if (std::filesystem::equivalent(o.input, o.output, ec))
      engine::fail("{}: output would overwrite the input", o.output);
  }
  check_output(o.output, o.overwrite);

  const OpenedInput in = open_input(o.input, summary);
  const std::vector<SourceTensor>& sources = in.sources;
  std::map<std::string, std::string> input_metadata = in.metadata;

  std::map<std::string, std::vector<int64_t>> shapes;
  for (const SourceTensor& s : sources) shapes[s.name] = s.shape;
  const sam::SamConfig& config =
      engine::with_context(o.input, [&]() -> const sam::SamConfig& { return sam::detect_variant(shapes); });
  const sam::SchemaReport report = sam::check_weights(config, shapes);
  engine::check(report.ok(), "{}: does not match the SAM {} layout: {}", o.input, config.name, report.summary());
  summary.variant = config.name;

  // Output order: f32 tensors first, then 16-bit ones, so that every tensor is
  // naturally aligned in the file (the data section starts 64-byte aligned).
  std::vector<const SourceTensor*> order;
  std::map<const SourceTensor*, engine::DType> out_dtype;
  for (const SourceTensor& s : sources) {
    const bool narrow = o.dtype != engine::DType::F32 && sam::is_large_matrix(s.name, s.shape.size());
    out_dtype[&s] = narrow ? o.dtype : engine::DType::F32;
  }
  for (int pass = 0; pass < 2; ++pass)
    for (const SourceTensor& s : sources)
      if ((out_dtype[&s] == engine::DType::F32) == (pass == 0)) order.push_back(&s);

  summary.source_sha256 = engine::sha256_file(o.input);
  std::map<std::string, std::string> metadata = {
      {"format", "sam-engine"},
      {"format_version", "1"},
      {"variant", config.name},
      {"dtype", std::string(engine::dtype_name(o.dtype))},
      {"converter", std::string("sam-convert ") + kConverterVersion},
      {"source_file", std::filesystem::path(o.input).filename().string()},
      {"source_format", summary.source_format},
      {"source_sha256", summary.source_sha256},
  };
  if (auto it = input_metadata.find("source_sha256"); it != input_metadata.end())
    metadata["origin_sha256"] = input_metadata.count("origin_sha256") ? input_metadata["origin_sha256"] : it->second;

  std::vector<engine::SafetensorsSpec> specs;
  for (const SourceTensor* s : order)
    specs.push_back({s->name, out_dtype[s], engine::Shape{std::span<const int64_t>(s->shape)}});
  write_tensors(
      o.output, specs, metadata,
      [&](size_t i) {
        return engine::with_context(o.input + ": tensor '" + order[i]->name + "'", [&] { return order[i]->load(); });
      },
      "converting", o.show_progress, summary);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace weights_tools
