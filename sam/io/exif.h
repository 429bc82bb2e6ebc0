// EXIF orientation of JPEG photos: the Orientation tag (0x0112) of the APP1
// "Exif" segment, and the rotation / flip that turns the stored pixels into the
// picture every viewer shows (as cv2.imread and PIL's ImageOps.exif_transpose).
#pragma once

#include <cstddef>
#include <cstdint>

#include "sam/io/image.h"

namespace sam {

// The Orientation value (1..8) of an APP1 segment's payload (the bytes after the
// marker's length field, starting "Exif\0\0"), read from IFD0 of its TIFF
// structure in either byte order. Every offset is bounds-checked; a missing tag,
// a value outside 1..8, a wrong type or garbage anywhere gives 1 (as stored),
// never an error.
int exif_orientation(const uint8_t* payload, size_t size);

// Turns `image` (stored orientation) into the displayed one for `orientation`
// (EXIF: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise,
// 7 transverse, 8 rotate 90 counter-clockwise; others leave it as it is).
// 2..4 work in place; 5..8 swap width and height through a second buffer.
void apply_exif_orientation(Image& image, int orientation);

}  // namespace sam
