#include "sam/serve/image_store.h"

#include <fmt/format.h>

namespace sam::serve {

ImageStore::ImageStore(size_t max_images, size_t max_logits)
    : max_images_(max_images < 1 ? 1 : max_images), max_logits_(max_logits < 1 ? 1 : max_logits) {}

ImagePtr ImageStore::find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(id);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);  // most recently used
  return *it->second;
}

void ImageStore::insert_locked(ImagePtr image) {
  const auto it = index_.find(image->id);
  if (it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(std::move(image));
  index_[lru_.front()->id] = lru_.begin();
  while (lru_.size() > max_images_) {  // evict the least recently used
    index_.erase(lru_.back()->id);
    lru_.pop_back();
  }
}

ImagePtr ImageStore::find_or_make(const std::string& id, const std::function<ImagePtr()>& make, bool* fresh) {
  *fresh = false;
  std::promise<ImagePtr> promise;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto it = index_.find(id);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return *it->second;
    }
    const auto pending = in_flight_.find(id);
    if (pending != in_flight_.end()) {
      std::shared_future<ImagePtr> f = pending->second;
      lock.unlock();
      return f.get();  // another request is encoding these bytes: share its result
    }
    in_flight_.emplace(id, promise.get_future().share());
  }
  ImagePtr made;
  try {
    made = make();
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    promise.set_exception(std::current_exception());
    in_flight_.erase(id);
    throw;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  insert_locked(made);
  promise.set_value(made);
  in_flight_.erase(id);
  *fresh = true;
  return made;
}

bool ImageStore::erase(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(id);
  if (it == index_.end()) return false;
  lru_.erase(it->second);
  index_.erase(it);
  for (auto l = logits_lru_.begin(); l != logits_lru_.end();) {  // its logits go with it
    if (l->second.image_id == id) {
      logits_index_.erase(l->first);
      l = logits_lru_.erase(l);
    } else {
      ++l;
    }
  }
  return true;
}

size_t ImageStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

std::vector<std::string> ImageStore::ids() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const ImagePtr& p : lru_) out.push_back(p->id);
  return out;
}

size_t ImageStore::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const ImagePtr& p : lru_) n += p->embedding.nbytes() + p->file_bytes.size();
  for (const auto& l : logits_lru_) n += l.second.logits.nbytes();
  return n;
}

std::string ImageStore::put_logits(const std::string& image_id, engine::Tensor logits) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string id = fmt::format("L{}", ++next_logits_);
  logits_lru_.emplace_front(id, LogitsEntry{image_id, std::move(logits)});
  logits_index_[id] = logits_lru_.begin();
  while (logits_lru_.size() > max_logits_) {
    logits_index_.erase(logits_lru_.back().first);
    logits_lru_.pop_back();
  }
  return id;
}

engine::Tensor ImageStore::find_logits(const std::string& image_id, const std::string& logits_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = logits_index_.find(logits_id);
  if (it == logits_index_.end() || it->second->second.image_id != image_id) return engine::Tensor();
  logits_lru_.splice(logits_lru_.begin(), logits_lru_, it->second);
  return it->second->second.logits;
}

size_t ImageStore::logits_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return logits_lru_.size();
}

}  // namespace sam::serve
