// Memory of sessions sharing one model: loads a model once, opens N Predictor
// sessions on it, encodes an image in each (sessions on their own threads when
// --parallel), and prints the peak RSS with the model's and the sessions' shares.
//   bench_sessions MODEL.safetensors [--sessions N] [--parallel] [--threads T]
// Run it with --sessions 1 and 2 and compare the peaks (bench/RESULTS.md).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime.h"
#include "sam/io/image.h"
#include "sam/predictor.h"
#include "bench_common.h"

namespace {

double rss_mb() {  // current resident set, from /proc
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * 4096.0 / (1 << 20);
}

double peak_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

sam::Image synthetic(int w, int h) {
  sam::Image img;
  img.width = w;
  img.height = h;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + x * 3;
      p[0] = static_cast<uint8_t>(x * 255 / w);
      p[1] = static_cast<uint8_t>(y * 255 / h);
      p[2] = static_cast<uint8_t>(((x / 60 + y / 40) % 2) * 200 + 30);
    }
  return img;
}

}  // namespace

static int bench_main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_sessions MODEL [--sessions N] [--parallel] [--threads T]\n");
    return 2;
  }
  int sessions = 1, threads = 0;
  bool parallel = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--sessions") && i + 1 < argc) sessions = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--parallel")) parallel = true;
  }
  engine::RuntimeOptions o = engine::runtime_options();
  o.threads = threads;
  engine::set_runtime_options(o);
  const double base = rss_mb();
  auto model = sam::SamModel::load(argv[1]);
  const double with_model = rss_mb();
  const sam::Image image = synthetic(1800, 1200);
  std::vector<std::unique_ptr<sam::Predictor>> s;
  for (int i = 0; i < sessions; ++i) s.push_back(std::make_unique<sam::Predictor>(model));
  const auto t0 = std::chrono::steady_clock::now();
  if (parallel) {
    std::vector<std::thread> th;
    for (auto& p : s) th.emplace_back([&p, &image] { p->set_image(image); });
    for (auto& t : th) t.join();
  } else {
    for (auto& p : s) p->set_image(image);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t ws = 0;
  for (auto& p : s) ws += p->workspace_bytes();
  std::printf("%s: %d session(s)%s, %s: model %.0f MB resident after load, sessions' workspaces %.0f MB, "
              "encode %.2f s, peak RSS %.0f MB\n",
              model->config().name.c_str(), sessions, parallel ? " in parallel" : "", o.str().c_str(),
              with_model - base, static_cast<double>(ws) / (1 << 20), secs, peak_mb());
  return 0;
}

int main(int argc, char** argv) {
  return bench::guarded_main(
      argc, argv, {{"--sessions N", "--threads N"}, {"--parallel"}, {"MODEL.safetensors"}}, bench_main);
}
