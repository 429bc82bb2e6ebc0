// sam serve -m MODEL [--host 127.0.0.1] [--port 8080] [--threads N] [--max-images N] [--max-upload-mb N]:
// the HTTP API and web page of sam/serve/ (docs/serve.md).
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/graceful_stop.h"
#include "engine/io/cleanup_registry.h"
#include "engine/text.h"
#include "sam/serve/server.h"

namespace sam::cli {

Command add_serve_command(CLI::App& app) {
  struct Args {
    serve::ServeOptions serve;
    int threads = 0;
    std::string precision;
  };
  auto a = std::make_shared<Args>();
  serve::ServeOptions& o = a->serve;
  CLI::App* sub = app.add_subcommand("serve", "HTTP API and web page: encode an image once, answer clicks in ms");
  sub->add_option("-m,--model", o.model_path, "converted model (.safetensors from sam-convert)")->required();
  sub->add_option("--host", o.host, "address to listen on (default 127.0.0.1: this machine only)");
  sub->add_option("--port", o.port, "TCP port (default 8080; 0: any free port, printed on stdout)")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--threads", a->threads, "compute threads (default: all cores)")->check(CLI::Range(1, 1024));
  add_precision_option(sub, a->precision);
  sub->add_option("--max-images", o.max_images, "image embeddings kept in memory, least recently used dropped (default 8)")
      ->check(CLI::Range(1, 4096));
  sub->add_option("--max-upload-mb", o.max_upload_mb, "largest request body in MiB; larger: 413 (default 32)")
      ->check(CLI::Range(1, 2048));
  sub->add_option("--max-image-pixels", o.max_image_pixels, "largest image (width x height) accepted (default 50000000)")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  sub->add_option("--max-logits", o.max_logits, "low-res logits kept for mask_input refinement (default 64)")
      ->check(CLI::Range(1, 65536));
  sub->add_option("--decoders", o.decoders, "predict requests decoded at once (default 2)")->check(CLI::Range(1, 256));
  sub->add_option("--encode-queue", o.encode_queue, "uploads that may wait for the encoder; more get 503 (default 4)")
      ->check(CLI::Range(0, 1024));
  sub->add_option("--http-threads", o.http_threads, "connections served at once (default 16)")
      ->check(CLI::Range(1, 1024));
  sub->add_option("--request-timeout", o.request_timeout_s,
                  "seconds for socket reads / writes, queue waits and one /everything run (default 60)")
      ->check(CLI::Range(1, 86400));
  sub->add_option("--mmap-threshold-kb", o.mmap_threshold_kb,
                  "allocations from this size are returned to the OS when freed: lower keeps memory flat, "
                  "higher saves page faults (default 256)")
      ->check(CLI::Range(64, 32768));
  sub->add_flag("--quiet", o.quiet, "no access log on stderr");
  return {sub, [a] {
            set_runtime(a->threads, a->precision);
            serve::run_server(a->serve, [](std::function<void()> stop) { set_graceful_stop(std::move(stop)); });
            if (const int sig = graceful_stop_signal())
              engine::print_line(stderr, fmt::format("sam serve: stopped ({}); the requests in flight were answered",
                                                     engine::cleanup::signal_name(sig)));
            return 0;
          }};
}

}  // namespace sam::cli
