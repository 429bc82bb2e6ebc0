// JPEG decoding through libjpeg-turbo, pixel for pixel as the official pipeline's
// readers decode: PIL's `Image.open(path).convert("RGB")` (and cv2.imread, BGR
// aside) link the same library with the same settings (ISLOW integer IDCT, fancy
// upsampling), so the decoded RGB bytes are identical, not merely close.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sam/io/image.h"

namespace sam {

// Most scans a progressive JPEG may have. Each scan walks every coefficient
// block, so a hostile file with thousands of near-empty scans would cost
// thousands of passes over the image; real encoders write about 10 (mozjpeg
// up to ~60). Over the limit the file is refused.
constexpr int kMaxJpegScans = 256;

// Decodes a JPEG (baseline, extended, progressive or arithmetic-coded; 1, 3 or
// 4 components; any subsampling; restart markers) to 8-bit RGB:
//   * grayscale: Y replicated into R, G, B (PIL: "L" -> "RGB");
//   * YCbCr / RGB: libjpeg's own conversion (PIL: "RGB");
//   * CMYK / YCCK (Adobe): libjpeg's CMYK, inverted as PIL's "CMYK;I" raw mode
//     assumes, then PIL's CMYK -> RGB formula.
// Refused with engine::Error naming `name`: w x h over `max_pixels` (from the
// header, before any pixel memory), a header libjpeg rejects, other component
// counts or precisions, more than kMaxJpegScans scans, and data that ends early
// or is corrupt where pixels would have to be invented (libjpeg's premature end
// of file, a marker inside entropy-coded data, an impossible Huffman code):
// a truncated JPEG is an error, never a partly grey picture. Other libjpeg
// warnings (extraneous bytes before a marker, ...) are benign and ignored, as
// PIL ignores them. A Huffman-coded file whose data after the header is too short
// for the first scan of a w x h image (at least one bit per 8x8 block) is refused
// as truncated before any pixel memory is allocated, so a header that lies about
// the size costs no more memory than the file's bytes justify.
// With `use_exif_orientation`, the EXIF Orientation (2..8) of the first APP1
// "Exif" segment is applied (exif.h): the result is the displayed picture, as
// PIL's ImageOps.exif_transpose and cv2.imread give it.
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels,
                  bool use_exif_orientation = true);

}  // namespace sam
