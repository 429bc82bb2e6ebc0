// Bounds on concurrent work, so that load cannot grow the server's memory or
// queue without limit:
//   EncoderGate  - image encodes (uploads, /everything) run at most `running`
//                  at a time with at most `waiting` more queued; a request that
//                  finds the queue full, or waits longer than its time limit,
//                  is refused with 503 (HttpError) instead of queueing.
//   PredictorPool - at most `size` decoder sessions (Predictor) exist; each
//                  keeps the embedding it last decoded, and a request prefers
//                  one that already holds its image (set_embedding is skipped).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sam/modeling/sam_model.h"
#include "sam/predictor.h"

namespace sam::serve {

class EncoderGate {
 public:
  EncoderGate(int running, int waiting) : max_running_(running < 1 ? 1 : running), max_waiting_(waiting) {}

  // Held for the length of one encode.
  class Slot {
   public:
    explicit Slot(EncoderGate* gate) : gate_(gate) {}
    Slot(Slot&& o) noexcept : gate_(o.gate_) { o.gate_ = nullptr; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    EncoderGate* gate_;
  };
  // Throws HttpError 503 when `waiting` requests already wait, or after `timeout`.
  Slot enter(std::chrono::milliseconds timeout);
  int running() const;
  int waiting() const;

 private:
  const int max_running_, max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  int running_ = 0, waiting_ = 0;
};

class PredictorPool {
 public:
  PredictorPool(std::shared_ptr<const SamModel> model, int size) : model_(std::move(model)), size_(size < 1 ? 1 : size) {}

  struct Session {
    std::unique_ptr<Predictor> predictor;
    std::string image_id;  // the embedding it holds ("" if none)
    // Full-size masks of the last predict, reused by the next (fresh pages for
    // every answer cost ~10% of the throughput under load); see masks_for().
    engine::Tensor masks;
    // A contiguous u8 [N, C, H, W] view of `masks`, grown when too small; a
    // request over 16 MiB gets a buffer of its own, freed after it.
    engine::Tensor masks_for(int64_t n, int64_t c, int64_t h, int64_t w);
  };
  class Lease {
   public:
    Lease(PredictorPool* pool, std::unique_ptr<Session> s) : pool_(pool), session_(std::move(s)) {}
    Lease(Lease&&) noexcept = default;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Session& operator*() { return *session_; }
    Session* operator->() { return session_.get(); }

   private:
    PredictorPool* pool_;
    std::unique_ptr<Session> session_;
  };
  // A session, preferably one holding `image_id`; waits for a free one up to
  // `timeout` (then HttpError 503).
  Lease acquire(const std::string& image_id, std::chrono::milliseconds timeout);
  int size() const { return size_; }
  // Activation memory the idle sessions hold.
  size_t idle_workspace_bytes() const;

 private:
  std::shared_ptr<const SamModel> model_;
  const int size_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Session>> idle_;
  int created_ = 0;
};

}  // namespace sam::serve
