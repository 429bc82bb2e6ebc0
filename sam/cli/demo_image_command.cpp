// sam demo-image OUT.png: a deterministic synthetic photo-like picture (sky,
// ground, a few solid shapes) so that the README's main command needs no files.
#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "cli/commands.h"
#include "engine/io/output_guard.h"
#include "engine/text.h"
#include "sam/io/image.h"

namespace sam::cli {
namespace {

struct DemoArgs {
  std::string output;
  int width = 1200, height = 800;
  bool overwrite = false;
};

Image make_demo_image(int W, int H) {
  Image img;
  img.width = W;
  img.height = H;
  img.pixels.resize(static_cast<size_t>(W) * H * 3);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      uint8_t* p = img.row(y) + x * 3;
      const float fy = static_cast<float>(y) / H, fx = static_cast<float>(x) / W;
      float r, g, b;
      if (fy < 0.55f) {  // sky
        r = 120 + 80 * fy;
        g = 170 + 60 * fy;
        b = 235 - 20 * fy;
      } else {  // ground with stripes
        const float s = 0.5f + 0.5f * std::sin(fx * 60.f + fy * 20.f);
        r = 90 + 30 * s;
        g = 140 + 40 * s;
        b = 70 + 10 * s;
      }
      // a sun, a red box ("a car") and a dark disc ("a wheel")
      const float dx = fx - 0.8f, dy = fy - 0.18f;
      if (dx * dx * W * W + dy * dy * H * H < (0.07f * H) * (0.07f * H)) r = 250, g = 220, b = 80;
      if (fx > 0.25f && fx < 0.6f && fy > 0.45f && fy < 0.7f) r = 200, g = 40, b = 40;
      for (float cx : {0.32f, 0.53f}) {
        const float ex = (fx - cx) * W, ey = (fy - 0.72f) * H;
        if (ex * ex + ey * ey < (0.06f * H) * (0.06f * H)) r = 30, g = 30, b = 35;
      }
      p[0] = static_cast<uint8_t>(r);
      p[1] = static_cast<uint8_t>(g);
      p[2] = static_cast<uint8_t>(b);
    }
  return img;
}

}  // namespace

Command add_demo_image_command(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* sub = app.add_subcommand("demo-image", "Write a synthetic test picture (for demos without files)");
  sub->add_option("output", a->output, "PNG to write")->required();
  sub->add_option("--width", a->width, "width in pixels")->check(CLI::Range(16, 8192));
  sub->add_option("--height", a->height, "height in pixels")->check(CLI::Range(16, 8192));
  sub->add_flag("--overwrite", a->overwrite, "replace an existing OUT.png (only a PNG image)");
  return {sub, [a] {
            engine::check_replaceable_file(a->output, a->overwrite, "sam demo-image", [](const std::string& p) {
              return engine::starts_with_bytes(p, "\x89PNG\r\n\x1a\n") ? std::string() : std::string("not a PNG image");
            });
            write_png(a->output, make_demo_image(a->width, a->height));
            fmt::print("wrote {} ({}x{})\n", engine::printable(a->output), a->width, a->height);
            return 0;
          }};
}

}  // namespace sam::cli
