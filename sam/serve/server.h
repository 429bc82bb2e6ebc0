// `sam serve`: an HTTP server (cpp-httplib) over one shared, immutable
// SamModel. Uploaded images are encoded once and their embeddings kept in an
// LRU cache; each predict request borrows a decoder session (Predictor) from a
// bounded pool, so a click is answered by the prompt encoder and mask decoder
// only. API: docs/serve.md, docs/openapi.yaml; the page at / is sam/serve/web/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace sam::serve {

struct ServeOptions {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (printed on stdout)
  int max_images = 8;          // embeddings kept (LRU)
  int max_logits = 64;         // low-res logits kept for mask_input (LRU)
  int max_upload_mb = 32;      // request bodies above this: 413
  int64_t max_image_pixels = 50'000'000;
  int http_threads = 16;       // connections served at once
  int decoders = 2;            // decoder sessions (predict requests decoding at once)
  int encode_queue = 4;        // encodes that may wait behind the running one; more: 503
  int request_timeout_s = 60;  // socket reads / writes, queue waits, one /everything run
  int mmap_threshold_kb = 256; // glibc mmap threshold: larger blocks go back to the OS when freed
  bool quiet = false;          // no access log on stderr
};

// Loads the model, binds, prints "sam serve: listening on http://HOST:PORT"
// on stdout and serves until stopped. Throws engine::Error if the model cannot
// be loaded or the address cannot be bound.
//
// on_listening (optional) is called once the port is bound with a `stop`
// function, callable from any thread (a signal watcher): the server then stops
// accepting, finishes the requests in flight and run_server returns. It is
// called again with an empty function before run_server returns.
void run_server(const ServeOptions& options,
                const std::function<void(std::function<void()> stop)>& on_listening = {});

}  // namespace sam::serve
