// BMP decoding, pixel for pixel as PIL's `Image.open(path).convert("RGB")`
// (tests/sam/test_bmp_decoder.cpp compares against PIL-decoded arrays).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sam/io/image.h"

namespace sam {

// Decodes an uncompressed BMP to 8-bit RGB:
//   * headers: OS/2 core (12 bytes), BITMAPINFOHEADER (40) and its successors
//     (52, 56, 64, 108, 124 bytes);
//   * BI_RGB at 1, 4, 8 bits (palette), 16 (5-5-5), 24 and 32 bits (BGRX: the
//     fourth byte is ignored, as PIL does);
//   * BI_BITFIELDS with the layouts PIL reads: 16-bit 5-6-5 and 5-5-5, 24-bit
//     BGR, 32-bit BGRX / XBGR / ABGR / RGBA / BGRA (alpha dropped);
//   * rows bottom-up (positive height) or top-down (negative height).
// Palette indices beyond the palette read as grey (i, i, i), as in PIL.
// Refused with engine::Error naming `name`, before any pixel memory is
// allocated: w x h over `max_pixels`, no pixels, pixel data that the file does
// not hold in full (offset + rows x padded stride), a truncated header or
// palette, RLE / JPEG / PNG compression and other depths or bitfield layouts
// (each named in the message).
Image decode_bmp(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels);

}  // namespace sam
