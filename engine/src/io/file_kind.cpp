#include "engine/io/file_kind.h"

#include <fmt/format.h>
#include <string_view>

namespace engine {

std::string file_kind(const std::byte* head, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(head), size);
  const auto starts = [&](std::string_view magic, size_t at = 0) {
    return s.size() >= at + magic.size() && s.substr(at, magic.size()) == magic;
  };
  using namespace std::string_view_literals;
  struct Magic {
    std::string_view bytes;
    size_t at;
    const char* kind;
  };
  static constexpr Magic kMagics[] = {
      {"\x89PNG\r\n\x1a\n"sv, 0, "a PNG image"},
      {"\xff\xd8\xff"sv, 0, "a JPEG image"},
      {"GIF87a"sv, 0, "a GIF image"},
      {"GIF89a"sv, 0, "a GIF image"},
      {"WEBP"sv, 8, "a WebP image"},
      {"II*\0"sv, 0, "a TIFF image"},
      {"MM\0*"sv, 0, "a TIFF image"},
      {"PK\x03\x04"sv, 0, "a zip archive"},
      {"\x1f\x8b"sv, 0, "a gzip file"},
      {"7z\xbc\xaf\x27\x1c"sv, 0, "a 7-zip archive"},
      {"ustar"sv, 257, "a tar archive"},
      {"\x93NUMPY"sv, 0, "a NumPy .npy array"},
      {"\x89HDF\r\n\x1a\n"sv, 0, "an HDF5 file"},
      {"GGUF"sv, 0, "a GGUF model"},
      {"%PDF-"sv, 0, "a PDF document"},
      {"\x7f" "ELF"sv, 0, "an executable (ELF)"},
  };
  for (const Magic& m : kMagics)
    if (starts(m.bytes, m.at)) return m.kind;
  if (starts("BM") && s.size() >= 18) {  // BMP: "BM", then a DIB header size of 12, 40, 52, 56, 64, 108 or 124
    const auto b = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(s[i])); };
    const unsigned dib = b(14) | (b(15) << 8) | (b(16) << 16) | (b(17) << 24);
    if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124)
      return "a BMP image";
  }
  // Pickle protocol 2..5 (torch.save before torch 1.6 wrote a bare pickle).
  if (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0x80 && s[1] >= 2 && s[1] <= 5) return "a Python pickle";
  return "";
}

std::string hex_head(const std::byte* head, size_t size, size_t count) {
  std::string out;
  for (size_t i = 0; i < size && i < count; ++i)
    out += fmt::format("{}{:02x}", i ? " " : "", static_cast<unsigned>(head[i]));
  return out;
}

}  // namespace engine
