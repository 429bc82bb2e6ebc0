#include "sam/io/model_file.h"

#include <cstring>

#include "engine/error.h"
#include "engine/io/file_kind.h"
#include "engine/io/mapped_file.h"
#include "sam/modeling/weight_schema.h"

namespace sam {

namespace {

// A file that is not a model at all is named for what it is (a PNG, a pickle),
// not for what the safetensors parser found in it: a safetensors file is an
// 8-byte header length and a JSON header that starts with '{'.
void refuse_other_formats(const std::string& path) {
  const auto f = engine::MappedFile::open(path);
  const size_t n = f->size();
  engine::check(n > 0, "{}: empty file", path);
  if (n >= 4 && std::memcmp(f->data(), "PK\x03\x04", 4) == 0)
    engine::fail("{}: a PyTorch checkpoint; convert it first: sam-convert {} MODEL.safetensors", path, path);
  if (n >= 9 && static_cast<char>(f->data()[8]) == '{') return;  // the safetensors parser takes over
  const std::string kind = engine::file_kind(f->data(), n);
  if (!kind.empty()) engine::fail("{}: is {}, not a model file (.safetensors from sam-convert)", path, kind);
  engine::fail("{}: not a model file (.safetensors from sam-convert): it starts with {}", path,
               engine::hex_head(f->data(), n));
}

}  // namespace

ModelFile ModelFile::open(const std::string& path) {
  refuse_other_formats(path);
  ModelFile m{engine::SafetensorsFile::open(path), nullptr};
  const auto& meta = m.file.metadata();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& e : m.file.entries()) {
    engine::check(engine::is_floating(e.dtype), "{}: tensor '{}' has dtype {}; expected f32, f16 or bf16", path,
                  e.name, engine::dtype_name(e.dtype));
    shapes[e.name] = e.shape.to_vector();
  }
  const SamConfig& detected = engine::with_context(path, [&]() -> const SamConfig& { return detect_variant(shapes); });
  if (auto it = meta.find("variant"); it != meta.end())
    engine::check(it->second == detected.name, "{}: metadata says variant {} but the tensors are {}", path, it->second,
                  detected.name);
  const SchemaReport report = check_weights(detected, shapes);
  engine::check(report.ok(), "{}: does not match the SAM {} layout: {}", path, detected.name, report.summary());
  m.config = &detected;
  return m;
}

int64_t ModelFile::parameter_count() const {
  int64_t n = 0;
  for (const auto& e : file.entries()) n += e.shape.numel();
  return n;
}

std::map<std::string, uint64_t> ModelFile::bytes_by_dtype() const {
  std::map<std::string, uint64_t> out;
  for (const auto& e : file.entries()) out[std::string(engine::dtype_name(e.dtype))] += e.end - e.begin;
  return out;
}

}  // namespace sam
