#include "sam/io/jpeg_decoder.h"

// libjpeg's headers need size_t and FILE declared first.
#include <cstdio>
#include <jerror.h>
#include <jpeglib.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "sam/io/exif.h"

namespace sam {
namespace {

// libjpeg reports errors through a callback that must not return. It leaves by
// longjmp to the phase function that called into libjpeg; those functions keep
// only trivially destructible locals, so no destructor is skipped (the decoder
// state and the output vector live in their callers).
struct ErrorState {
  jpeg_error_mgr pub;  // first: libjpeg's pointer to it is our pointer to the whole
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
  bool truncated;  // the failure was data that ends or breaks off early
};

void fail_to_phase(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorState*>(cinfo->err);
  std::longjmp(e->jump, 1);
}

void on_error_exit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorState*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  fail_to_phase(cinfo);
}

// Warnings (level -1) that mean pixels would be invented end the decode at once;
// the others, and trace messages (level >= 0), are dropped silently.
void on_message(j_common_ptr cinfo, int level) {
  if (level != -1) return;
  const int code = cinfo->err->msg_code;
  if (code != JWRN_JPEG_EOF && code != JWRN_HIT_MARKER && code != JWRN_HUFF_BAD_CODE) return;
  auto* e = reinterpret_cast<ErrorState*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  e->truncated = code != JWRN_HUFF_BAD_CODE;
  fail_to_phase(cinfo);
}

// Called by libjpeg between passes over the data: the scan counter of a
// progressive file is checked here, before the scan is decoded.
void on_progress(j_common_ptr common) {
  auto* cinfo = reinterpret_cast<j_decompress_ptr>(common);
  if (cinfo->input_scan_number <= kMaxJpegScans) return;
  auto* e = reinterpret_cast<ErrorState*>(common->err);
  std::snprintf(e->message, sizeof e->message, "more than %d progressive scans", kMaxJpegScans);
  fail_to_phase(common);
}

// The decoder and its callbacks. Created and destroyed by JpegDecoder (RAII);
// jpeg_destroy_decompress frees every libjpeg allocation whatever state a
// longjmp left the decoder in.
struct DecoderState {
  jpeg_decompress_struct cinfo;
  ErrorState err;
  jpeg_progress_mgr progress;
};

class JpegDecoder {
 public:
  JpegDecoder() {
    std::memset(&s_, 0, sizeof s_);
    s_.cinfo.err = jpeg_std_error(&s_.err.pub);
    s_.err.pub.error_exit = on_error_exit;
    s_.err.pub.emit_message = on_message;
    s_.progress.progress_monitor = on_progress;
  }
  ~JpegDecoder() {
    if (created_) jpeg_destroy_decompress(&s_.cinfo);
  }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  DecoderState& state() { return s_; }
  void set_created() { created_ = true; }

 private:
  DecoderState s_;
  bool created_ = false;
};

// Phase 1: create the decoder, read the header and choose the output colour
// space. Returns false (message in s.err) where libjpeg refuses the file.
bool read_header(JpegDecoder& dec, const uint8_t* data, size_t size) {
  DecoderState& s = dec.state();
  if (setjmp(s.err.jump)) return false;
  jpeg_create_decompress(&s.cinfo);
  dec.set_created();
  s.cinfo.progress = &s.progress;
  jpeg_mem_src(&s.cinfo, data, static_cast<unsigned long>(size));
  jpeg_save_markers(&s.cinfo, JPEG_APP0 + 1, 0xFFFF);  // APP1: Exif (orientation)
  if (jpeg_read_header(&s.cinfo, TRUE) != JPEG_HEADER_OK) {
    std::snprintf(s.err.message, sizeof s.err.message, "no image in the file (tables only)");
    return false;
  }
  return true;
}

// PIL's CMYK -> RGB conversion (Convert.c, Pillow 9.4) on the values its "CMYK;I"
// raw mode produces from libjpeg's output (inverted: Adobe writes CMYK inverted,
// and PIL assumes every 4-component JPEG does). nk = 255 - K; each colour is
// nk - C * nk / 255, the division rounded as (t + (t >> 8)) >> 8 with t = C * nk + 128.
void cmyk_row_to_rgb(const uint8_t* in, uint8_t* out, size_t width) {
  for (size_t x = 0; x < width; ++x, in += 4, out += 3) {
    const int nk = in[3];  // 255 - K, K = 255 - libjpeg's value
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - in[c]) * nk + 128;  // C = 255 - libjpeg's value
      const int v = nk - (((t >> 8) + t) >> 8);
      out[c] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

// Phase 2: decode every row into `pixels` ([h, w, 3], capacity reserved by the
// caller, so rows are appended without reallocation: the memory touched grows
// with the rows decoded, and a file that lies about its size is refused after
// the rows its data really holds). Returns false with the message in s.err.
bool decode_rows(JpegDecoder& dec, std::vector<uint8_t>* pixels) {
  DecoderState& s = dec.state();
  if (setjmp(s.err.jump)) return false;
  j_decompress_ptr cinfo = &s.cinfo;
  jpeg_start_decompress(cinfo);  // a progressive file's scans are all read here
  const size_t width = cinfo->output_width, row_bytes = width * 3;
  const bool cmyk = cinfo->out_color_space == JCS_CMYK;
  JSAMPARRAY cmyk_rows = nullptr;  // libjpeg's pool: freed with the decoder
  constexpr int kBatch = 16;
  if (cmyk)
    cmyk_rows = (*cinfo->mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(cinfo), JPOOL_IMAGE,
                                            static_cast<JDIMENSION>(width * 4), kBatch);
  JSAMPROW rows[kBatch];
  while (cinfo->output_scanline < cinfo->output_height) {
    const int n = static_cast<int>(
        std::min<JDIMENSION>(kBatch, cinfo->output_height - cinfo->output_scanline));
    const size_t at = pixels->size();
    pixels->resize(at + row_bytes * n);  // within the reserved capacity
    for (int r = 0; r < n; ++r) rows[r] = cmyk ? cmyk_rows[r] : pixels->data() + at + row_bytes * r;
    const JDIMENSION got = jpeg_read_scanlines(cinfo, rows, static_cast<JDIMENSION>(n));
    if (cmyk)
      for (JDIMENSION r = 0; r < got; ++r) cmyk_row_to_rgb(cmyk_rows[r], pixels->data() + at + row_bytes * r, width);
    pixels->resize(at + row_bytes * got);
    if (got == 0) {  // a memory source never suspends; this would loop forever
      std::snprintf(s.err.message, sizeof s.err.message, "decoder stopped at row %u",
                    static_cast<unsigned>(cinfo->output_scanline));
      return false;
    }
  }
  // jpeg_finish_decompress is not called: everything after the last row (EOI,
  // trailing bytes) is not needed for the picture.
  return true;
}

// The Orientation of the first APP1 segment that starts "Exif\0" (the one PIL
// reads); 1 where there is none.
int orientation_of(const jpeg_decompress_struct& cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 5 && std::memcmp(m->data, "Exif\0", 5) == 0)
      return exif_orientation(m->data, m->data_length);
  return 1;
}

// The fewest bytes of entropy-coded data the first scan can take, or 0 where no
// bound is known. A Huffman code is at least 1 bit long, and every block of a
// sequential scan or of a progressive DC scan codes at least one symbol, so the
// scan needs at least one bit per block. (An arithmetic-coded scan or a
// progressive scan that starts with AC coefficients can code a run of empty
// blocks in less: no bound.)
uint64_t min_first_scan_bytes(const jpeg_decompress_struct& c) {
  if (c.arith_code || (c.progressive_mode && c.Ss != 0) || c.comps_in_scan < 1) return 0;
  uint64_t blocks = 0;
  if (c.comps_in_scan == 1) {
    blocks = uint64_t{c.cur_comp_info[0]->width_in_blocks} * c.cur_comp_info[0]->height_in_blocks;
  } else {  // interleaved: whole MCUs
    const uint64_t mcu_w = uint64_t{8} * c.max_h_samp_factor, mcu_h = uint64_t{8} * c.max_v_samp_factor;
    const uint64_t mcus = ((c.image_width + mcu_w - 1) / mcu_w) * ((c.image_height + mcu_h - 1) / mcu_h);
    uint64_t per_mcu = 0;
    for (int i = 0; i < c.comps_in_scan; ++i)
      per_mcu += uint64_t{static_cast<unsigned>(c.cur_comp_info[i]->h_samp_factor)} *
                 static_cast<unsigned>(c.cur_comp_info[i]->v_samp_factor);
    blocks = mcus * per_mcu;
  }
  return (blocks + 7) / 8;
}

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, int64_t max_pixels,
                  bool use_exif_orientation) {
  JpegDecoder dec;
  DecoderState& s = dec.state();
  if (!read_header(dec, data, size))
    engine::fail("{}: not a readable JPEG image ({})", name, s.err.message);
  jpeg_decompress_struct& cinfo = s.cinfo;
  const int64_t w = cinfo.image_width, h = cinfo.image_height;
  engine::check(w > 0 && h > 0, "{}: JPEG image has no pixels ({}x{})", name, w, h);
  engine::check(w <= max_pixels / h, "{}: JPEG image of {}x{} pixels exceeds the limit of {} pixels", name, w, h,
                max_pixels);
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
      cinfo.out_color_space = JCS_RGB;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo.out_color_space = JCS_CMYK;
      break;
    default:
      engine::fail("{}: cannot decode JPEG image: {} components of unknown colour space (1, 3 and 4 are supported)",
                   name, cinfo.num_components);
  }
  // libjpeg's defaults, spelled out: these are what PIL and OpenCV decode with.
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  cinfo.do_block_smoothing = TRUE;
  cinfo.scale_num = cinfo.scale_denom = 1;
  // A header that claims more pixels than the data can hold is refused before
  // any pixel or coefficient memory is allocated.
  const uint64_t least = min_first_scan_bytes(cinfo), held = cinfo.src->bytes_in_buffer;
  if (held < least)
    engine::fail("{}: cannot decode JPEG image: truncated ({}x{} pixels need at least {} bytes of coded data; "
                 "{} bytes follow the header)", name, w, h, least, held);
  const int orientation = use_exif_orientation ? orientation_of(cinfo) : 1;

  Image img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.channels = 3;
  img.pixels.reserve(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  if (!decode_rows(dec, &img.pixels)) {
    if (s.err.truncated)
      engine::fail("{}: cannot decode JPEG image: truncated ({})", name, s.err.message);
    engine::fail("{}: cannot decode JPEG image: corrupt ({})", name, s.err.message);
  }
  engine::check(static_cast<int64_t>(cinfo.output_width) == w && static_cast<int64_t>(cinfo.output_height) == h,
                "{}: JPEG image decodes to {}x{} but its header says {}x{}", name, cinfo.output_width,
                cinfo.output_height, w, h);
  apply_exif_orientation(img, orientation);
  return img;
}

}  // namespace sam
