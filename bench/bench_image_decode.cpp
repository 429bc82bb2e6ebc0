// JPEG decoding: sam-engine's decoder (libjpeg-turbo, sam/io/jpeg_decoder.cpp) against
// stb_image 2.27's (the decoder sam-engine used before, the usual choice of C++
// SAM ports), timed in alternating rounds on the same in-memory file, one thread.
// Also prints how many decoded bytes differ between the two: stb's IDCT and
// chroma upsampling are not libjpeg's, so its pixels are not the official pipeline's.
//   bench_image_decode IMAGE.jpg... [--runs N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#include <stb_image.h>

#include "bench_common.h"
#include "sam/io/image.h"

namespace {

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "bench_image_decode: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

static int bench_main(int argc, char** argv) {
  int runs = 15;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atoi(argv[++i]);
    else files.push_back(argv[i]);
  }
  if (files.empty() || runs < 1) {
    std::fprintf(stderr, "usage: bench_image_decode IMAGE.jpg... [--runs N]\n");
    return 2;
  }
  std::printf("%-28s %9s %11s %11s %9s %9s %8s %14s\n", "image", "pixels", "libjpeg ms", "stb ms", "libjpeg",
              "stb", "speed-up", "bytes differ");
  std::printf("%-28s %9s %11s %11s %9s %9s %8s %14s\n", "", "", "(median)", "(median)", "MP/s", "MP/s", "", "(max diff)");
  for (const std::string& path : files) {
    const std::vector<unsigned char> data = read_file(path);
    const sam::Image ours = sam::decode_image(data.data(), data.size(), path);
    int w = 0, h = 0, c = 0;
    unsigned char* stb = stbi_load_from_memory(data.data(), static_cast<int>(data.size()), &w, &h, &c, 3);
    if (!stb || w != ours.width || h != ours.height) {
      std::fprintf(stderr, "bench_image_decode: stb_image cannot decode %s\n", path.c_str());
      return 1;
    }
    size_t differ = 0;
    int max_diff = 0;
    for (size_t i = 0; i < ours.pixels.size(); ++i) {
      const int d = std::abs(int{ours.pixels[i]} - int{stb[i]});
      differ += d != 0;
      max_diff = std::max(max_diff, d);
    }
    stbi_image_free(stb);
    volatile size_t sink = 0;
    const auto [t_ours, t_stb] = bench::median_seconds_paired(
        runs,
        [&] { sink = sink + sam::decode_image(data.data(), data.size(), path).pixels.size(); },
        [&] {
          int ww, hh, cc;
          unsigned char* p = stbi_load_from_memory(data.data(), static_cast<int>(data.size()), &ww, &hh, &cc, 3);
          sink = sink + (p ? p[0] : 0);
          stbi_image_free(p);
        });
    const double mp = double(ours.width) * ours.height / 1e6;
    const std::string name = path.substr(path.find_last_of('/') + 1);
    std::printf("%-28s %4dx%-4d %11.2f %11.2f %9.1f %9.1f %7.2fx %7.2f%% (%d)\n", name.c_str(), ours.width,
                ours.height, t_ours * 1e3, t_stb * 1e3, mp / t_ours, mp / t_stb, t_stb / t_ours,
                100.0 * double(differ) / double(ours.pixels.size()), max_diff);
  }
  return 0;
}

int main(int argc, char** argv) {
  return bench::guarded_main(argc, argv, {{"--runs N"}, {}, {}, true}, bench_main);
}
