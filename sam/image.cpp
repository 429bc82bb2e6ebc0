#include "image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <memory>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/mapped_file.h"

namespace sam {

Image load_image(const std::string& path) {
  engine::check_regular_file(path);
  auto file = engine::MappedFile::open(path);
  engine::check(file->size() > 0, "{}: empty file", path);
  engine::check(file->size() <= static_cast<size_t>(INT32_MAX), "{}: file too large", path);
  const auto* bytes = reinterpret_cast<const stbi_uc*>(file->data());
  const int len = static_cast<int>(file->size());
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(bytes, len, &w, &h, &c))
    engine::fail("{}: not a readable image ({})", path, stbi_failure_reason());
  engine::check(w > 0 && h > 0, "{}: image has no pixels ({}x{})", path, w, h);
  engine::check(static_cast<int64_t>(w) * h <= kMaxImagePixels, "{}: image of {}x{} exceeds the limit of {} pixels",
                path, w, h, kMaxImagePixels);
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load_from_memory(bytes, len, &w, &h, &c, 3), stbi_image_free);
  if (!data) engine::fail("{}: cannot decode image ({})", path, stbi_failure_reason());
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.assign(data.get(), data.get() + static_cast<size_t>(w) * h * 3);
  return img;
}

void write_png(const std::string& path, const Image& image) {
  engine::check(image.channels == 1 || image.channels == 3, "write_png: {} channels", image.channels);
  engine::AtomicFile out(path);
  struct Sink {
    engine::AtomicFile* file;
    std::string error;
  } sink{&out, {}};
  auto write_fn = [](void* ctx, void* data, int size) {
    auto* s = static_cast<Sink*>(ctx);
    if (!s->error.empty()) return;
    try {
      s->file->write(data, static_cast<size_t>(size));
    } catch (const std::exception& e) {
      s->error = e.what();
    }
  };
  const int ok = stbi_write_png_to_func(write_fn, &sink, image.width, image.height, image.channels,
                                        image.pixels.data(), image.width * image.channels);
  if (!sink.error.empty()) throw engine::Error(sink.error);
  engine::check(ok != 0, "{}: PNG encoding failed", path);
  out.commit();
}

}  // namespace sam
