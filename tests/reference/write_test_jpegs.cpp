// Writes the generated JPEG test set: every subsampling, progressive, restart
// markers, arithmetic coding, grayscale, RGB, CMYK and YCCK, odd sizes,
// qualities 5..100. libjpeg's own encoder is used because PIL 9.4 cannot write
// 4:1:1, YCCK, restart intervals or arithmetic coding.
//   write_test_jpegs OUT_DIR
// writes OUT_DIR/<name>.jpg and OUT_DIR/manifest.txt (one name per line);
// tests/reference/decode_test_jpegs.py then decodes each with PIL (and cv2).
#include <cstdio>
#include <jpeglib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct Case {
  std::string name;
  int width, height;
  J_COLOR_SPACE in_space;   // JCS_RGB, JCS_GRAYSCALE or JCS_CMYK
  J_COLOR_SPACE jpeg_space;  // colour space stored in the file
  int h_samp, v_samp;        // luma sampling factors (chroma 1x1)
  int quality;
  bool progressive = false;
  bool arithmetic = false;
  bool optimize = false;
  int restart_interval = 0;  // in MCUs
  int restart_rows = 0;      // in MCU rows
};

// Gradients, a sinusoid, noise and hard edges: every frequency band gets energy.
std::vector<uint8_t> make_pixels(int w, int h, int comps, uint32_t seed) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * comps);
  uint32_t state = seed * 2654435761u + 1;
  auto noise = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<int>((state >> 24) % 51) - 25;
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double base[4] = {255.0 * x / std::max(w - 1, 1), 255.0 * y / std::max(h - 1, 1),
                              127.5 + 127.5 * std::sin(x / 7.0 + y / 11.0), 127.5 + 100 * std::cos(x / 5.0 - y / 3.0)};
      const bool dark = ((x / 37 + y / 29) % 2) == 0;
      for (int c = 0; c < comps; ++c) {
        double v = base[(c + (comps == 1 ? 2 : 0)) % 4] + noise();
        if (dark) v *= 0.5;
        px[(static_cast<size_t>(y) * w + x) * comps + c] = static_cast<uint8_t>(std::clamp(v + 0.5, 0.0, 255.0));
      }
    }
  return px;
}

bool write_jpeg(const Case& c, const std::string& path, uint32_t seed) {
  const int comps = c.in_space == JCS_GRAYSCALE ? 1 : c.in_space == JCS_CMYK ? 4 : 3;
  const std::vector<uint8_t> px = make_pixels(c.width, c.height, comps, seed);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);  // errors here are bugs in this writer: libjpeg exits
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = c.width;
  cinfo.image_height = c.height;
  cinfo.input_components = comps;
  cinfo.in_color_space = c.in_space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, c.jpeg_space);
  jpeg_set_quality(&cinfo, c.quality, TRUE);
  if (c.jpeg_space == JCS_YCbCr || c.jpeg_space == JCS_YCCK) {
    cinfo.comp_info[0].h_samp_factor = c.h_samp;
    cinfo.comp_info[0].v_samp_factor = c.v_samp;
    if (c.jpeg_space == JCS_YCCK) {  // K at full resolution, as Photoshop writes it
      cinfo.comp_info[3].h_samp_factor = c.h_samp;
      cinfo.comp_info[3].v_samp_factor = c.v_samp;
    }
  }
  if (c.progressive) jpeg_simple_progression(&cinfo);
  cinfo.arith_code = c.arithmetic ? TRUE : FALSE;
  cinfo.optimize_coding = c.optimize ? TRUE : FALSE;
  cinfo.restart_interval = c.restart_interval;
  cinfo.restart_in_rows = c.restart_rows;
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = static_cast<size_t>(c.width) * comps;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(px.data() + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return std::fclose(f) == 0;
}

std::vector<Case> cases() {
  struct Sampling {
    const char* name;
    int h, v;
  };
  const Sampling samplings[] = {{"444", 1, 1}, {"422", 2, 1}, {"420", 2, 2}, {"411", 4, 1}, {"440", 1, 2}};
  const int sizes[][2] = {{1, 1}, {7, 5}, {33, 17}, {97, 300}, {257, 129}, {640, 427}};
  const int qualities[] = {5, 25, 50, 75, 90, 95, 100};
  std::vector<Case> out;
  int k = 0;
  auto size_of = [&](int i) { return sizes[i % std::size(sizes)]; };
  // Every subsampling x quality, sizes rotating.
  for (const Sampling& s : samplings)
    for (int q : qualities) {
      const int* wh = size_of(k++);
      out.push_back({std::string("ycc_") + s.name + "_q" + std::to_string(q) + "_" + std::to_string(wh[0]) + "x" +
                         std::to_string(wh[1]),
                     wh[0], wh[1], JCS_RGB, JCS_YCbCr, s.h, s.v, q});
    }
  // Progressive, arithmetic, optimised Huffman tables, restart markers: per subsampling.
  for (const Sampling& s : samplings) {
    const std::string sn = s.name;
    Case p{"progressive_" + sn + "_257x129", 257, 129, JCS_RGB, JCS_YCbCr, s.h, s.v, 85};
    p.progressive = true;
    out.push_back(p);
    Case a{"arithmetic_" + sn + "_97x300", 97, 300, JCS_RGB, JCS_YCbCr, s.h, s.v, 80};
    a.arithmetic = true;
    out.push_back(a);
    Case r{"restart1_" + sn + "_33x17", 33, 17, JCS_RGB, JCS_YCbCr, s.h, s.v, 90};
    r.restart_interval = 1;
    out.push_back(r);
    Case rr{"restart_rows_" + sn + "_640x427", 640, 427, JCS_RGB, JCS_YCbCr, s.h, s.v, 75};
    rr.restart_rows = 2;
    rr.optimize = true;
    out.push_back(rr);
  }
  Case pa{"progressive_arithmetic_420_257x129", 257, 129, JCS_RGB, JCS_YCbCr, 2, 2, 70};
  pa.progressive = pa.arithmetic = true;
  out.push_back(pa);
  Case pr{"progressive_restart7_420_640x427", 640, 427, JCS_RGB, JCS_YCbCr, 2, 2, 60};
  pr.progressive = true;
  pr.restart_interval = 7;
  out.push_back(pr);
  // Grayscale, RGB-coded, CMYK and YCCK.
  for (int q : {5, 50, 100}) {
    const int* wh = size_of(k++);
    const std::string sz = std::to_string(wh[0]) + "x" + std::to_string(wh[1]);
    out.push_back({"gray_q" + std::to_string(q) + "_" + sz, wh[0], wh[1], JCS_GRAYSCALE, JCS_GRAYSCALE, 1, 1, q});
    out.push_back({"rgb_q" + std::to_string(q) + "_" + sz, wh[0], wh[1], JCS_RGB, JCS_RGB, 1, 1, q});
    out.push_back({"cmyk_q" + std::to_string(q) + "_" + sz, wh[0], wh[1], JCS_CMYK, JCS_CMYK, 1, 1, q});
    out.push_back({"ycck_420_q" + std::to_string(q) + "_" + sz, wh[0], wh[1], JCS_CMYK, JCS_YCCK, 2, 2, q});
  }
  Case gp{"gray_progressive_257x129", 257, 129, JCS_GRAYSCALE, JCS_GRAYSCALE, 1, 1, 80};
  gp.progressive = true;
  out.push_back(gp);
  Case cp{"ycck_progressive_422_97x300", 97, 300, JCS_CMYK, JCS_YCCK, 2, 1, 80};
  cp.progressive = true;
  out.push_back(cp);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_test_jpegs OUT_DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  std::ofstream manifest(dir + "/manifest.txt");
  uint32_t seed = 0;
  for (const Case& c : cases()) {
    if (!write_jpeg(c, dir + "/" + c.name + ".jpg", seed++)) {
      std::cerr << "write_test_jpegs: cannot write " << dir << "/" << c.name << ".jpg\n";
      return 1;
    }
    manifest << c.name << "\n";
  }
  manifest.close();
  if (!manifest) {
    std::cerr << "write_test_jpegs: cannot write " << dir << "/manifest.txt\n";
    return 1;
  }
  std::cout << "wrote " << cases().size() << " JPEGs to " << dir << "\n";
  return 0;
}
