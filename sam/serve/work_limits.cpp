#include "sam/serve/work_limits.h"

#include "sam/serve/http_error.h"

namespace sam::serve {

EncoderGate::Slot EncoderGate::enter(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (running_ >= max_running_) {
    if (waiting_ >= max_waiting_)
      http_fail(503, "the encoder queue is full ({} encoding, {} waiting); retry later", running_, waiting_);
    ++waiting_;
    const bool got = freed_.wait_for(lock, timeout, [&] { return running_ < max_running_; });
    --waiting_;
    if (!got) http_fail(503, "no encoder free within {} ms; retry later", timeout.count());
  }
  ++running_;
  return Slot(this);
}

EncoderGate::Slot::~Slot() {
  if (!gate_) return;
  {
    std::lock_guard<std::mutex> lock(gate_->mutex_);
    --gate_->running_;
  }
  gate_->freed_.notify_one();
}

int EncoderGate::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

int EncoderGate::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_;
}

PredictorPool::Lease PredictorPool::acquire(const std::string& image_id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  const bool got = freed_.wait_for(lock, timeout, [&] { return !idle_.empty() || created_ < size_; });
  if (!got) http_fail(503, "no decoder free within {} ms; retry later", timeout.count());
  if (idle_.empty()) {
    ++created_;
    lock.unlock();
    auto s = std::make_unique<Session>();
    try {
      s->predictor = std::make_unique<Predictor>(model_);
    } catch (...) {
      std::lock_guard<std::mutex> relock(mutex_);
      --created_;
      throw;
    }
    return Lease(this, std::move(s));
  }
  size_t pick = idle_.size() - 1;  // the most recently returned, unless one holds this image
  for (size_t i = 0; i < idle_.size(); ++i)
    if (idle_[i]->image_id == image_id) pick = i;
  std::unique_ptr<Session> s = std::move(idle_[pick]);
  idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(pick));
  return Lease(this, std::move(s));
}

PredictorPool::Lease::~Lease() {
  if (!pool_ || !session_) return;
  {
    std::lock_guard<std::mutex> lock(pool_->mutex_);
    pool_->idle_.push_back(std::move(session_));
  }
  pool_->freed_.notify_one();
}

engine::Tensor PredictorPool::Session::masks_for(int64_t n, int64_t c, int64_t h, int64_t w) {
  // Three masks of a 5-megapixel photo; larger answers get their own buffer.
  constexpr int64_t kReusedMaskBytes = int64_t{16} << 20;
  const engine::Shape shape{n, c, h, w};
  const int64_t bytes = shape.numel();
  if (bytes > kReusedMaskBytes) return engine::Tensor::empty(engine::DType::U8, shape);
  if (!masks.defined() || masks.numel() < bytes) {
    masks = engine::Tensor();  // the old buffer goes first
    masks = engine::Tensor::empty(engine::DType::U8, {bytes});
  }
  return engine::Tensor::from_blob(masks.raw_data(), engine::DType::U8, shape);
}

size_t PredictorPool::idle_workspace_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const auto& s : idle_) n += s->predictor->workspace_bytes() + (s->masks.defined() ? s->masks.nbytes() : 0);
  return n;
}

}  // namespace sam::serve
