// 8-bit RGB images on the host, and their file I/O (JPEG: libjpeg-turbo, as PIL
// and OpenCV; PNG: stb_image after its chunks are checked; BMP: bmp_decoder.cpp;
// writing: stb_image_write).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sam {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;            // 3 (RGB) or 1 (grey, for masks)
  std::vector<uint8_t> pixels;  // [height, width, channels], row-major

  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * channels; }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * channels; }
};

// Pixel limit for images, checked on the header's dimensions before decoding
// (the memory this bounds is worked out in docs/bad_inputs.md).
constexpr int64_t kMaxImagePixels = 100'000'000;

// What to do with a JPEG's EXIF Orientation tag.
enum class ExifOrientation {
  kApply,   // rotate / flip to the displayed picture (as viewers, PIL's exif_transpose, cv2.imread)
  kIgnore,  // keep the stored pixels (`--ignore-exif`)
};

// Loads a PNG, JPEG or BMP as 8-bit RGB (grey, grey+alpha, RGBA, palette and
// 16-bit inputs are converted; alpha is dropped). Other formats are refused.
// Throws engine::Error on a missing, unreadable, truncated, empty or oversized
// image: every format's data must be all there (a BMP's rows, a PNG's chunks
// with their CRCs and IEND, a JPEG's scans), and a header that claims more
// pixels than the file's bytes can hold is refused before the image's memory is
// allocated.
Image load_image(const std::string& path, ExifOrientation exif = ExifOrientation::kApply);
// The same from bytes in memory; `name` is used in error messages. (A lower
// `max_pixels` keeps the fuzzer fast.)
Image decode_image(const void* data, size_t size, const std::string& name, int64_t max_pixels = kMaxImagePixels,
                   ExifOrientation exif = ExifOrientation::kApply);

// Writes an 8-bit PNG (1 or 3 channels) atomically (temporary name + rename).
void write_png(const std::string& path, const Image& image);

}  // namespace sam
