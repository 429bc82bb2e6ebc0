#include "sam/serve/server.h"

#include <httplib.h>
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/io/sha256.h"
#include "engine/text.h"
#include "engine/thread_pool.h"
#include "sam/amg/automatic_mask_generator.h"
#include "sam/io/embedding_cache.h"
#include "sam/serve/api.h"
#include "sam/serve/http_error.h"
#include "sam/serve/image_store.h"
#include "sam/serve/web_assets.h"
#include "sam/serve/work_limits.h"

namespace sam::serve {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void send_json(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  // Invalid UTF-8 in a message (an id echoed back) is replaced, never thrown.
  // Moved in, not copied (set_content copies: a predict answer is ~100 KB per mask).
  res.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  res.set_header("Content-Type", "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, {{"error", engine::printable(message)}}, status);
}

// What a file's first bytes say it is: "png", "jpeg", "bmp" or "" (unsupported).
std::string sniff_image(const std::string& bytes) {
  if (bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0) return "png";
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF)
    return "jpeg";
  if (bytes.rfind("BM", 0) == 0) return "bmp";
  return "";
}

// The request body, at most `limit` bytes (413 above). Read through the
// content reader (not httplib's own body handling, which refuses form-encoded
// bodies over 8 KB: what `curl -d` and `curl --data-binary` send by default).
// A multipart form gives its first part.
std::string read_body(const httplib::Request& req, const httplib::ContentReader& reader, size_t limit) {
  const auto too_large = [&] { http_fail(413, "request body too large: the limit is {} bytes (--max-upload-mb)", limit); };
  if (req.has_header("Content-Length") && req.get_header_value<uint64_t>("Content-Length") > limit) too_large();
  std::string body;
  const auto append = [&](const char* data, size_t n) {
    if (body.size() + n > limit) return false;
    body.append(data, n);
    return true;
  };
  int part = 0;
  const bool ok = req.is_multipart_form_data()
                      ? reader([&](const httplib::MultipartFormData&) { return ++part >= 1; },
                               [&](const char* data, size_t n) { return part > 1 || append(data, n); })
                      : reader(append);
  if (!ok) {
    if (body.size() + 1 >= limit) too_large();
    http_fail(400, "the request body could not be read (cut short or malformed)");
  }
  require(!req.is_multipart_form_data() || part >= 1, "multipart upload without a file part");
  return body;
}

class Service {
 public:
  explicit Service(const ServeOptions& o)
      : options_(o),
        model_(SamModel::load(o.model_path)),
        model_id_(model_identity(model_->weights())),
        store_(static_cast<size_t>(o.max_images), static_cast<size_t>(o.max_logits)),
        encoder_gate_(1, o.encode_queue),
        decoders_(model_, o.decoders),
        timeout_(std::chrono::seconds(o.request_timeout_s)),
        max_body_(static_cast<size_t>(o.max_upload_mb) << 20) {}

  void install(httplib::Server& http);

 private:
  // Runs a handler: HttpError -> its status, out of memory -> 503, any other
  // exception -> 500; every error answered as {"error": ...}. Adds the
  // handler's time as a Server-Timing header (the access log prints it).
  template <typename Fn>
  void guarded(httplib::Response& res, Fn&& fn) {
    const auto start = Clock::now();
    try {
      fn();
    } catch (const HttpError& e) {
      send_error(res, e.status(), e.what());
    } catch (const std::bad_alloc&) {
      send_error(res, 503, "out of memory while handling the request; retry later");
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    }
    res.set_header("Server-Timing", fmt::format("app;dur={:.2f}", ms_since(start)));
  }

  ImagePtr image_or_404(const std::string& id) {
    ImagePtr p = store_.find(id);
    if (!p) http_fail(404, "unknown image id '{}' (never uploaded, deleted, or evicted from the cache)", id);
    return p;
  }

  Image decode(const std::string& bytes, bool ignore_exif) const {
    try {
      return decode_image(bytes.data(), bytes.size(), "uploaded image", options_.max_image_pixels,
                          ignore_exif ? ExifOrientation::kIgnore : ExifOrientation::kApply);
    } catch (const engine::Error& e) {
      http_fail(400, "{}", e.what());
    }
  }

  void upload(const httplib::Request& req, const std::string& bytes, httplib::Response& res);
  void predict(const httplib::Request& req, const std::string& body, httplib::Response& res);
  void everything(const httplib::Request& req, const std::string& body, httplib::Response& res);
  void embedding(const httplib::Request& req, httplib::Response& res);
  void describe_model(httplib::Response& res);

  const ServeOptions options_;
  const std::shared_ptr<const SamModel> model_;
  const std::string model_id_;
  ImageStore store_;
  EncoderGate encoder_gate_;
  PredictorPool decoders_;
  const std::chrono::milliseconds timeout_;
  const size_t max_body_;
};

void Service::upload(const httplib::Request& req, const std::string& body, httplib::Response& res) {
  const std::string* bytes = &body;
  require(!bytes->empty(), "empty upload: send the image file as the request body");
  const std::string format = sniff_image(*bytes);
  if (format.empty()) http_fail(415, "unsupported image format: expected PNG, JPEG or BMP");
  const bool ignore_exif = req.get_param_value("exif") == "ignore";
  // Keyed by the bytes (and the EXIF choice, which changes the pixels).
  const std::string key = ignore_exif ? *bytes + std::string("\0exif=ignore", 12) : *bytes;
  const std::string id = engine::sha256_bytes(key.data(), key.size()).substr(0, 16);
  double encode_ms = 0;
  bool fresh = false;
  const ImagePtr image = store_.find_or_make(
      id,
      [&] {
        const EncoderGate::Slot slot = encoder_gate_.enter(timeout_);
        const Image decoded = decode(*bytes, ignore_exif);
        const auto start = Clock::now();
        Predictor encoder(model_);
        encoder.set_release_scratch(true);  // activations back to the OS: memory stays model + cache
        try {
          encoder.set_image(decoded);
        } catch (const engine::Error& e) {  // e.g. an image too elongated for the model input
          http_fail(400, "cannot encode the image: {}", e.what());
        }
        auto out = std::make_shared<StoredImage>();
        out->id = id;
        out->width = decoded.width;
        out->height = decoded.height;
        out->embedding = encoder.embedding().clone();  // not a view into the encoder's workspace
        out->file_bytes = *bytes;
        out->ignore_exif = ignore_exif;
        encode_ms = ms_since(start);
        out->encode_ms = encode_ms;
        malloc_trim(0);  // the encode's freed temporaries back to the OS
        return ImagePtr(out);
      },
      &fresh);
  send_json(res,
            {{"image_id", image->id},
             {"width", image->width},
             {"height", image->height},
             {"encode_ms", fresh ? encode_ms : 0.0},
             {"cached", !fresh}},
            fresh ? 201 : 200);
}

void Service::predict(const httplib::Request& req, const std::string& body, httplib::Response& res) {
  const ImagePtr image = image_or_404(req.matches[1]);
  const PredictRequest r = parse_predict_request(parse_json_object(body), image->width, image->height);
  std::vector<PromptSet> sets = r.sets;
  if (!r.mask_input.empty()) {
    const engine::Tensor logits = store_.find_logits(image->id, r.mask_input);
    if (!logits.defined() || logits.numel() == 0)
      http_fail(404, "unknown logits id '{}' for image {} (not from this image, or evicted)", r.mask_input, image->id);
    for (PromptSet& s : sets) s.mask_input = logits;
  }
  // The session is held until the answer is encoded: its mask buffer is reused
  // by the next request (pred.masks is a view of it).
  PredictorPool::Lease session = decoders_.acquire(image->id, timeout_);
  const auto start = Clock::now();
  if (session->image_id != image->id) {
    session->image_id.clear();
    session->predictor->set_embedding(image->embedding, image->height, image->width);
    session->image_id = image->id;
  }
  Predictor& predictor = *session->predictor;
  Prediction pred = predictor.predict_low_res(sets, r.multimask);
  pred.masks = session->masks_for(pred.low_res_logits.dim(0), pred.low_res_logits.dim(1), image->height, image->width);
  predictor.binary_masks_into(pred.low_res_logits, pred.masks);
  const double decode_ms = ms_since(start);
  const auto encode_start = Clock::now();
  const int64_t N = pred.low_res_logits.dim(0), C = pred.low_res_logits.dim(1);
  std::vector<std::string> logits_ids;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      logits_ids.push_back(store_.put_logits(
          image->id, pred.low_res_logits.slice(0, n, n + 1).slice(1, c, c + 1).clone()));
  json masks = encode_prediction(pred, image->width, image->height, logits_ids, r.format);
  send_json(res, {{"image_id", image->id},
                  {"width", image->width},
                  {"height", image->height},
                  {"multimask", r.multimask},
                  {"decode_ms", decode_ms},
                  {"encode_ms", ms_since(encode_start)},
                  {"masks", std::move(masks)}});
}

void Service::everything(const httplib::Request& req, const std::string& body, httplib::Response& res) {
  const ImagePtr image = image_or_404(req.matches[1]);
  const EverythingRequest r = parse_everything_request(parse_json_object(body));
  const auto start = Clock::now();
  const auto deadline = start + timeout_;
  AmgResult result;
  {
    const EncoderGate::Slot slot = encoder_gate_.enter(timeout_);
    const Image decoded = decode(image->file_bytes, image->ignore_exif);  // as at upload
    AutomaticMaskGenerator generator(model_, r.options);
    try {
      generator.check_image(decoded.height, decoded.width);
    } catch (const engine::Error& e) {
      http_fail(400, "{}", e.what());
    }
    result = generator.generate(decoded, [&](int64_t done, int64_t total) {
      if (Clock::now() > deadline)
        http_fail(503, "everything stopped after {} of {} prompts: over the {} s request time limit", done, total,
                  options_.request_timeout_s);
    });
  }
  malloc_trim(0);
  const AmgResult::Stats& s = result.stats;
  send_json(res, {{"image_id", image->id},
                  {"width", image->width},
                  {"height", image->height},
                  {"masks", encode_everything(result, r.format)},
                  {"timing",
                   {{"encoder_ms", s.encoder_ms},
                    {"decoder_ms", s.decoder_ms},
                    {"masks_ms", s.masks_ms},
                    {"nms_ms", s.nms_ms},
                    {"total_ms", ms_since(start)}}}});
}

void Service::embedding(const httplib::Request& req, httplib::Response& res) {
  const ImagePtr image = image_or_404(req.matches[1]);
  res.set_header("Content-Disposition", fmt::format("attachment; filename=\"{}.npy\"", image->id));
  res.set_header("X-Image-Size", fmt::format("{}x{}", image->width, image->height));
  res.set_content(npy_bytes(image->embedding), "application/octet-stream");
}

void Service::describe_model(httplib::Response& res) {
  const SamConfig& c = model_->config();
  const int D = c.prompt_embed_dim, G = c.embedding_grid();
  send_json(res, {{"variant", c.name},
                  {"model", options_.model_path},
                  {"model_id", model_id_},
                  {"image_size", c.img_size},
                  {"embedding_shape", {1, D, G, G}},
                  {"low_res_logits_shape", {1, 1, 4 * G, 4 * G}},
                  {"threads", engine::thread_pool().num_threads()},
                  {"max_images", store_.max_images()},
                  {"images_cached", store_.ids()},
                  {"logits_cached", store_.logits_count()},
                  {"cache_bytes", store_.bytes()},
                  {"decoders", decoders_.size()},
                  {"encoder_running", encoder_gate_.running()},
                  {"encoder_waiting", encoder_gate_.waiting()},
                  {"max_upload_bytes", static_cast<int64_t>(options_.max_upload_mb) << 20},
                  {"polygons", polygons_available()}});
}

void Service::install(httplib::Server& http) {
  const std::string id = "/v1/images/([^/]+)";
  http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] { send_json(res, {{"status", "ok"}}); });
  });
  http.Get("/v1/model", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] { describe_model(res); });
  });
  http.Post("/v1/images", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    guarded(res, [&] { upload(req, read_body(req, reader, max_body_), res); });
  });
  http.Get("/v1/images", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] {
      json list = json::array();
      for (const std::string& i : store_.ids())
        if (const ImagePtr p = store_.find(i)) list.push_back({{"image_id", i}, {"width", p->width}, {"height", p->height}});
      send_json(res, {{"images", list}});
    });
  });
  http.Get(id, [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      const ImagePtr p = image_or_404(req.matches[1]);
      send_json(res, {{"image_id", p->id}, {"width", p->width}, {"height", p->height}, {"encode_ms", p->encode_ms}});
    });
  });
  http.Delete(id, [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      if (!store_.erase(req.matches[1])) http_fail(404, "unknown image id '{}'", std::string(req.matches[1]));
      send_json(res, {{"image_id", std::string(req.matches[1])}, {"deleted", true}});
    });
  });
  http.Post(id + "/predict", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    guarded(res, [&] { predict(req, read_body(req, reader, max_body_), res); });
  });
  http.Post(id + "/everything", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    guarded(res, [&] { everything(req, read_body(req, reader, max_body_), res); });
  });
  http.Get(id + "/embedding", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { embedding(req, res); });
  });
  http.Get("(/|/[A-Za-z0-9_.-]+)", [](const httplib::Request& req, httplib::Response& res) {
    const WebAsset* a = find_web_asset(req.path == "/" ? "/index.html" : req.path);
    if (!a) return send_error(res, 404, "no such page: " + req.path);
    res.set_content(a->data.data(), a->data.size(), std::string(a->content_type).c_str());
  });
}

}  // namespace

void run_server(const ServeOptions& o, const std::function<void(std::function<void()> stop)>& on_listening) {
  engine::check(o.max_images >= 1, "--max-images must be at least 1");
  // glibc raises its mmap threshold (up to 32 MB) after the first large free;
  // from then on the encoder's per-image temporaries (tens of MB) come from the
  // heap and stay there: a vit_b server grew ~35 MB per upload (measured). A
  // fixed threshold gives them back to the OS. 256 KiB (the default) also keeps
  // the cached logits (256 KiB each) from pinning freed heap between them: peak
  // RSS under load model + 122 MB vs + 240 MB at 4 MiB, for ~5 ms more per
  // predict (fresh pages for the masks). Fewer arenas bound what the request
  // threads keep. bench/RESULTS.md "sam serve".
  mallopt(M_MMAP_THRESHOLD, o.mmap_threshold_kb << 10);
  mallopt(M_ARENA_MAX, 4);
  Service service(o);
  httplib::Server http;
  const size_t http_threads = static_cast<size_t>(o.http_threads);
  http.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  http.set_payload_max_length(static_cast<size_t>(o.max_upload_mb) << 20);
  http.set_read_timeout(o.request_timeout_s, 0);
  http.set_write_timeout(o.request_timeout_s, 0);
  http.set_keep_alive_max_count(1000);
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second server
  // bind the same port and silently take half of the connections.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Errors raised by the HTTP layer itself (unknown route 404, body over the
  // limit 413, malformed request 400) get the same JSON body as ours.
  const httplib::Server::HandlerWithResponse on_error = [](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = fmt::format("HTTP status {}", res.status);
    if (res.status == 400) msg = "malformed request";
    if (res.status == 404) msg = "no such endpoint: " + req.method + " " + req.path;
    if (res.status == 413) msg = "request body too large (the limit is set by --max-upload-mb)";
    send_error(res, res.status, msg);
    return httplib::Server::HandlerResponse::Handled;
  };
  http.set_error_handler(on_error);
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal error");
  });
  if (!o.quiet) {
    auto log_mutex = std::make_shared<std::mutex>();
    http.set_logger([log_mutex](const httplib::Request& req, const httplib::Response& res) {
      std::lock_guard<std::mutex> lock(*log_mutex);
      engine::print_line(stderr, fmt::format("sam serve: {} {} {} {} bytes {}", req.method, req.path, res.status,
                                             res.body.size(), res.get_header_value("Server-Timing")));
      std::fflush(stderr);
    });
  }
  service.install(http);
  int port = o.port;
  if (port == 0) {
    port = http.bind_to_any_port(o.host);
    engine::check(port > 0, "cannot listen on {}: no free port", o.host);
  } else {
    engine::check(http.bind_to_port(o.host, port), "cannot listen on {}:{}: address in use or not permitted", o.host,
                  port);
  }
  // Cleared on every way out, before `http` goes.
  struct StopHandle {
    const std::function<void(std::function<void()>)>& hook;
    ~StopHandle() {
      if (hook) hook({});
    }
  } stop_handle{on_listening};
  if (on_listening) on_listening([&http] { http.stop(); });
  std::printf("sam serve: listening on http://%s:%d\n", o.host.c_str(), port);
  std::fflush(stdout);
  engine::check(http.listen_after_bind(), "the server on {}:{} stopped with an error", o.host, port);
}

}  // namespace sam::serve
