// libFuzzer target: image decoding (format sniffing, header checks, stb_image's
// PNG decoder as built into sam/io/image.cpp, sam/io/bmp_decoder.cpp, libjpeg-turbo
// through sam/io/jpeg_decoder.cpp with EXIF orientation, sam/io/exif.cpp). The pixel limit is
// lowered to 4 M so that every input decodes in milliseconds; the limit check
// itself is the same code.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "sam/io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const sam::Image img = sam::decode_image(data, size, "fuzz", int64_t{1} << 22);
    if (img.pixels.size() != static_cast<size_t>(img.width) * img.height * 3) __builtin_trap();
    volatile uint8_t sink = img.pixels.back();
    (void)sink;
  } catch (const std::exception&) {
  }
  return 0;
}
