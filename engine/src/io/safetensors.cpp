#include "engine/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/error.h"

namespace engine {
namespace {

using json = nlohmann::json;

uint64_t read_le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

// Parses the header, rejecting duplicate keys at any level (nlohmann would
// silently keep the last one).
json parse_header(const char* text, size_t size) {
  std::vector<std::set<std::string>> key_stack;
  bool duplicate = false;
  std::string duplicate_name;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    // A header nests three levels (header, entry, shape); deep nesting would only
    // cost memory (hundreds of MB for a 16 MiB header of brackets).
    check(depth <= 8, "header nests deeper than 8 levels");
    switch (event) {
      case json::parse_event_t::object_start: key_stack.emplace_back(); break;
      case json::parse_event_t::object_end: key_stack.pop_back(); break;
      case json::parse_event_t::key:
        if (!key_stack.empty() && !key_stack.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
          duplicate_name = parsed.get<std::string>();
        }
        break;
      default: break;
    }
    return true;
  };
  json j = json::parse(text, text + size, callback, /*allow_exceptions=*/false);
  check(!j.is_discarded(), "header is not valid JSON");
  check(!duplicate, "header names '{}' twice", duplicate_name);
  return j;
}

int64_t json_to_nonneg_int(const json& v, const std::string& what) {
  check(v.is_number_integer() || v.is_number_unsigned(), "{} is not an integer", what);
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    check(u <= static_cast<uint64_t>(INT64_MAX), "{} is too large", what);
    return static_cast<int64_t>(u);
  }
  const int64_t i = v.get<int64_t>();
  check(i >= 0, "{} is negative ({})", what, i);
  return i;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.file_ = MappedFile::open(path);
  with_context(path, [&] {
    const size_t file_size = f.file_->size();
    check(file_size >= 8, "not a safetensors file: {} bytes, too short for the 8-byte header length", file_size);
    const uint64_t header_len = read_le64(f.file_->data());
    check(header_len <= kMaxSafetensorsHeader, "safetensors header length {} exceeds the limit of {} bytes",
          header_len, kMaxSafetensorsHeader);
    check(header_len <= file_size - 8, "safetensors header length {} runs past the end of the file ({} bytes)",
          header_len, file_size);
    const char* text = reinterpret_cast<const char*>(f.file_->data() + 8);
    check(header_len >= 2 && text[0] == '{', "not a safetensors file: header does not start with '{{'");
    const json header = parse_header(text, header_len);
    check(header.is_object(), "safetensors header is not a JSON object");
    f.data_ = f.file_->data() + 8 + header_len;
    f.data_size_ = file_size - 8 - header_len;

    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const json& v = it.value();
      if (name == "__metadata__") {
        check(v.is_object(), "__metadata__ is not an object");
        for (auto m = v.begin(); m != v.end(); ++m) {
          check(m.value().is_string(), "__metadata__ value for '{}' is not a string", m.key());
          f.metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      const std::string where = "tensor '" + name + "'";
      check(v.is_object(), "{}: entry is not an object", where);
      check(v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
            "{}: entry lacks dtype, shape or data_offsets", where);
      check(v["dtype"].is_string(), "{}: dtype is not a string", where);
      const auto dtype = dtype_from_safetensors(v["dtype"].get<std::string>());
      check(dtype.has_value(), "{}: unsupported dtype '{}'", where, v["dtype"].get<std::string>());
      const json& shape = v["shape"];
      check(shape.is_array() && shape.size() <= static_cast<size_t>(kMaxDims), "{}: shape is not an array of at most {} extents",
            where, kMaxDims);
      std::vector<int64_t> dims;
      for (const json& d : shape) dims.push_back(json_to_nonneg_int(d, where + " shape extent"));
      const json& offs = v["data_offsets"];
      check(offs.is_array() && offs.size() == 2, "{}: data_offsets is not a pair", where);
      const int64_t begin = json_to_nonneg_int(offs[0], where + " begin offset");
      const int64_t end = json_to_nonneg_int(offs[1], where + " end offset");
      check(begin <= end, "{}: data_offsets [{}, {}] are reversed", where, begin, end);
      check(static_cast<uint64_t>(end) <= f.data_size_, "{}: data_offsets [{}, {}] lie outside the {} data bytes",
            where, begin, end, f.data_size_);
      SafetensorsEntry e;
      e.name = name;
      e.dtype = *dtype;
      e.shape = Shape(dims);
      e.begin = static_cast<size_t>(begin);
      e.end = static_cast<size_t>(end);
      const int64_t expected = checked_mul(e.shape.numel(), static_cast<int64_t>(dtype_size(e.dtype)));
      if (!(expected == end - begin)) fail("{}: {} bytes of data for shape {} {} (expected {})", where, end - begin,
            e.shape.str(), dtype_name(e.dtype), expected);
      f.entries_.push_back(std::move(e));
    }
    std::sort(f.entries_.begin(), f.entries_.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    size_t cursor = 0;
    for (const SafetensorsEntry& e : f.entries_) {
      check(e.begin >= cursor, "tensor '{}' [{}, {}] overlaps the previous tensor (which ends at {})", e.name,
            e.begin, e.end, cursor);
      check(e.begin == cursor, "hole in the data before tensor '{}' (bytes {}..{} are unused)", e.name, cursor,
            e.begin);
      cursor = e.end;
    }
    check(cursor == f.data_size_, "{} bytes of data after the last tensor are unused", f.data_size_ - cursor);
    for (size_t i = 0; i < f.entries_.size(); ++i) f.index_[f.entries_[i].name] = i;
  });
  return f;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  check(e != nullptr, "{}: no tensor named '{}'", path(), name);
  return tensor(*e);
}

Tensor SafetensorsFile::tensor(const SafetensorsEntry& e) const {
  // The mapping is read-only; tensors from it must not be written to.
  void* p = const_cast<std::byte*>(data_ + e.begin);
  return Tensor::from_blob(p, e.dtype, e.shape, std::static_pointer_cast<const void>(file_));
}

// --------------------------------------------------------------------------
// Writer
// --------------------------------------------------------------------------

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<SafetensorsSpec> specs,
                                     const std::map<std::string, std::string>& metadata)
    : file_(path), specs_(std::move(specs)) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  size_t offset = 0;
  for (const SafetensorsSpec& s : specs_) {
    check(s.name != "__metadata__" && names.insert(s.name).second, "{}: tensor name '{}' repeated or reserved",
          path, s.name);
    const size_t bytes = static_cast<size_t>(checked_mul(s.shape.numel(), static_cast<int64_t>(dtype_size(s.dtype))));
    header[s.name] = {{"dtype", std::string(safetensors_dtype_name(s.dtype))},
                      {"shape", s.shape.to_vector()},
                      {"data_offsets", {offset, offset + bytes}}};
    sizes_.push_back(bytes);
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // e.g. a name or metadata value that is not UTF-8
    fail("{}: cannot write the safetensors header: {}", path, e.what());
  }
  // Pad with spaces so that the data section starts 64-byte aligned.
  const size_t total = 8 + text.size();
  text.append((64 - total % 64) % 64, ' ');
  unsigned char len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  file_.write(len, 8);
  file_.write(text.data(), text.size());
  while (current_ < sizes_.size() && sizes_[current_] == 0) ++current_;
}

void SafetensorsWriter::write(const void* data, size_t bytes) {
  const auto* p = static_cast<const std::byte*>(data);
  while (bytes > 0) {
    check(current_ < specs_.size(), "{}: more data written than declared", file_.path());
    const size_t take = std::min(bytes, sizes_[current_] - written_in_current_);
    file_.write(p, take);
    p += take;
    bytes -= take;
    written_in_current_ += take;
    if (written_in_current_ == sizes_[current_]) {
      ++current_;
      written_in_current_ = 0;
      while (current_ < sizes_.size() && sizes_[current_] == 0) ++current_;
    }
  }
}

void SafetensorsWriter::finish() {
  check(current_ == specs_.size(), "{}: tensor '{}' not fully written", file_.path(),
        current_ < specs_.size() ? specs_[current_].name : "");
  file_.commit();
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Larger elements first: with the data section 64-byte aligned, every tensor
  // then starts at a multiple of its element size (zero-copy views stay aligned).
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
  });
  std::vector<SafetensorsSpec> specs;
  for (size_t i : order) specs.push_back({tensors[i].first, tensors[i].second.dtype(), tensors[i].second.shape()});
  SafetensorsWriter w(path, std::move(specs), metadata);
  for (size_t i : order) {
    const Tensor c = tensors[i].second.contiguous();
    w.write(c.raw_data(), c.nbytes());
  }
  w.finish();
}

}  // namespace engine
