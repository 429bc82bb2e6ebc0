#include "engine/io/npy.h"

#include <cctype>
#include <cstring>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/mapped_file.h"

namespace engine {
namespace {

// Minimal parser for the Python dict literal NumPy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view s) : s_(s) {}

  void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape, std::string& comment) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = parse_bool();
        have_fortran = true;
      } else if (key == "shape") {
        shape = parse_tuple();
        have_shape = true;
      } else {
        fail("unexpected key '{}' in .npy header", key);
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_ws();
      check(peek() == '}', ".npy header: expected ',' or '}}' at {}", pos_);
    }
    check(have_descr && have_fortran && have_shape, ".npy header lacks descr, fortran_order or shape");
    ++pos_;  // '}'
    skip_ws();
    if (peek() == '#') {
      const size_t end = s_.find('\n', pos_);
      comment = std::string(s_.substr(pos_ + 1, (end == std::string_view::npos ? s_.size() : end) - pos_ - 1));
      while (!comment.empty() && comment.back() == ' ') comment.pop_back();
      if (!comment.empty() && comment.front() == ' ') comment.erase(0, 1);
    }
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_ws();
    check(peek() == c, ".npy header: expected '{}' at offset {}", c, pos_);
    ++pos_;
  }
  std::string parse_string() {
    skip_ws();
    const char q = peek();
    check(q == '\'' || q == '"', ".npy header: expected a string at offset {}", pos_);
    const size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != q) ++pos_;
    check(pos_ < s_.size(), ".npy header: unterminated string");
    return std::string(s_.substr(start, pos_++ - start));
  }
  bool parse_bool() {
    skip_ws();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail(".npy header: expected True or False at offset {}", pos_);
  }
  std::vector<int64_t> parse_tuple() {
    expect('(');
    std::vector<int64_t> dims;
    for (;;) {
      skip_ws();
      if (peek() == ')') {
        ++pos_;
        break;
      }
      check(std::isdigit(static_cast<unsigned char>(peek())), ".npy header: bad shape at offset {}", pos_);
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        v = checked_add(checked_mul(v, 10), peek() - '0');
        ++pos_;
      }
      dims.push_back(v);
      check(dims.size() <= static_cast<size_t>(kMaxDims), ".npy shape has more than {} dimensions", kMaxDims);
      skip_ws();
      if (peek() == ',') ++pos_;
    }
    return dims;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

size_t item_size_of(const std::string& descr) {
  check(descr.size() >= 3, "unsupported .npy dtype '{}'", descr);
  const char order = descr[0];
  check(order == '<' || order == '|' || order == '=', "big-endian .npy dtype '{}' is not supported", descr);
  const char kind = descr[1];
  check(kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b', "unsupported .npy dtype '{}'", descr);
  size_t size = 0;
  for (size_t i = 2; i < descr.size(); ++i) {
    check(std::isdigit(static_cast<unsigned char>(descr[i])), "unsupported .npy dtype '{}'", descr);
    size = size * 10 + static_cast<size_t>(descr[i] - '0');
    check(size <= 16, "unsupported .npy dtype '{}'", descr);
  }
  check(size == 1 || size == 2 || size == 4 || size == 8, "unsupported .npy dtype '{}'", descr);
  return size;
}

}  // namespace

NpyArray read_npy_raw(const std::string& path) {
  auto file = MappedFile::open(path);
  NpyArray a;
  with_context(path, [&] {
    const auto* p = reinterpret_cast<const unsigned char*>(file->data());
    const size_t size = file->size();
    check(size >= 10 && std::memcmp(p, "\x93NUMPY", 6) == 0, "not a .npy file (bad magic)");
    const int major = p[6];
    check(major >= 1 && major <= 3, "unsupported .npy format version {}.{}", major, p[7]);
    size_t header_len = 0, prefix = 0;
    if (major == 1) {
      header_len = p[8] | (static_cast<size_t>(p[9]) << 8);
      prefix = 10;
    } else {
      check(size >= 12, "truncated .npy header");
      header_len = p[8] | (static_cast<size_t>(p[9]) << 8) | (static_cast<size_t>(p[10]) << 16) |
                   (static_cast<size_t>(p[11]) << 24);
      prefix = 12;
    }
    check(header_len <= kMaxNpyHeader, ".npy header of {} bytes exceeds the limit", header_len);
    check(header_len <= size - prefix, "truncated .npy header");
    std::string descr;
    bool fortran = false;
    std::vector<int64_t> dims;
    HeaderParser(std::string_view(reinterpret_cast<const char*>(p + prefix), header_len)).parse(descr, fortran, dims, a.comment);
    check(!fortran, "Fortran-ordered .npy arrays are not supported");
    a.descr = descr;
    a.item_size = item_size_of(descr);
    a.shape = Shape(dims);
    const int64_t bytes = checked_mul(a.shape.numel(), static_cast<int64_t>(a.item_size));
    const size_t data_start = prefix + header_len;
    check(static_cast<uint64_t>(bytes) == size - data_start, ".npy data is {} bytes, expected {} for shape {} {}",
          size - data_start, bytes, a.shape.str(), descr);
    a.data.resize(static_cast<size_t>(bytes));
    if (bytes > 0) std::memcpy(a.data.data(), p + data_start, static_cast<size_t>(bytes));
  });
  return a;
}

Tensor read_npy(const std::string& path) { return read_npy(path, nullptr); }

Tensor read_npy(const std::string& path, std::string* comment) {
  NpyArray a = read_npy_raw(path);
  if (comment) *comment = a.comment;
  DType dtype;
  const std::string d = a.descr.substr(1);
  if (d == "f4") dtype = DType::F32;
  else if (d == "f2") dtype = DType::F16;
  else if (d == "i4") dtype = DType::I32;
  else if (d == "u1" || d == "b1") dtype = DType::U8;
  else fail("{}: .npy dtype '{}' has no engine tensor type (f4, f2, i4, u1, b1 are supported)", path, a.descr);
  Tensor t = Tensor::empty(dtype, a.shape);
  if (!a.data.empty()) std::memcpy(t.raw_data(), a.data.data(), a.data.size());
  return t;
}

void write_npy_raw(const std::string& path, const std::string& descr, const Shape& shape, const void* data,
                   size_t bytes, const std::string& comment) {
  check(comment.find('\n') == std::string::npos, "{}: .npy header comment must be one line", path);
  // NumPy's tuple syntax: () for rank 0, (n,) for rank 1, (a, b) otherwise.
  std::string dims;
  for (int i = 0; i < shape.rank(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.rank() == 1) dims += ",";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  if (!comment.empty()) header += " # " + comment;
  // Pad so that magic + version + length + header + '\n' is a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  check(header.size() <= 65535, "{}: .npy header too long", path);
  AtomicFile out(path);
  const unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                    static_cast<unsigned char>(header.size() & 0xFF),
                                    static_cast<unsigned char>(header.size() >> 8)};
  out.write(prefix, sizeof prefix);
  out.write(header.data(), header.size());
  out.write(data, bytes);
  out.commit();
}

void write_npy(const std::string& path, const Tensor& tensor, const std::string& comment) {
  std::string descr;
  switch (tensor.dtype()) {
    case DType::F32: descr = "<f4"; break;
    case DType::F16: descr = "<f2"; break;
    case DType::I32: descr = "<i4"; break;
    case DType::U8: descr = "|u1"; break;
    case DType::BF16: fail("{}: bf16 has no NumPy dtype; convert the tensor to f32 first", path);
  }
  const Tensor c = tensor.contiguous();
  write_npy_raw(path, descr, c.shape(), c.raw_data(), c.nbytes(), comment);
}

}  // namespace engine
