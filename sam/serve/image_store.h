// The server's memory of images: each uploaded image's embedding, kept in a
// least-recently-used cache of at most `max_images` entries and keyed by the
// SHA-256 of the uploaded bytes (so uploading the same file again costs
// nothing), plus the low-res logits of recent predictions (so a later request
// can feed one back as mask_input), in a second LRU cache.
//
// Thread-safe. Entries are immutable and handed out as shared_ptr: a request
// that holds one keeps using it even if the cache evicts it meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/tensor.h"

namespace sam::serve {

struct StoredImage {
  std::string id;             // hex prefix of the SHA-256 of the uploaded bytes
  int width = 0, height = 0;  // after the EXIF rotation
  double encode_ms = 0;
  engine::Tensor embedding;   // [1, D, G, G] f32 (the official layout)
  std::string file_bytes;     // the uploaded file, for /everything (which encodes again, per crop)
  bool ignore_exif = false;   // uploaded with ?exif=ignore
};
using ImagePtr = std::shared_ptr<const StoredImage>;

class ImageStore {
 public:
  ImageStore(size_t max_images, size_t max_logits);

  // The image with this id (marked as most recently used), or null.
  ImagePtr find(const std::string& id);
  // The cached image with this id, or the result of make() stored under it.
  // Concurrent calls for one id run make() once: the others wait for it and
  // share its result (or its exception). `*fresh` tells whether make() ran here.
  ImagePtr find_or_make(const std::string& id, const std::function<ImagePtr()>& make, bool* fresh);
  bool erase(const std::string& id);
  size_t size() const;
  size_t max_images() const { return max_images_; }
  // Ids, most recently used first.
  std::vector<std::string> ids() const;
  // Bytes held by the embeddings and kept files.
  size_t bytes() const;

  // Keeps one mask's low-res logits [1, 1, 4G, 4G] of image `image_id`; returns its id.
  std::string put_logits(const std::string& image_id, engine::Tensor logits);
  // The logits with this id if they belong to `image_id` (null tensor otherwise).
  engine::Tensor find_logits(const std::string& image_id, const std::string& logits_id);
  size_t logits_count() const;

 private:
  void insert_locked(ImagePtr image);
  struct LogitsEntry {
    std::string image_id;
    engine::Tensor logits;
  };
  const size_t max_images_, max_logits_;
  mutable std::mutex mutex_;
  std::list<ImagePtr> lru_;  // most recent first
  std::unordered_map<std::string, std::list<ImagePtr>::iterator> index_;
  std::map<std::string, std::shared_future<ImagePtr>> in_flight_;
  std::list<std::pair<std::string, LogitsEntry>> logits_lru_;  // most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, LogitsEntry>>::iterator> logits_index_;
  uint64_t next_logits_ = 0;
};

}  // namespace sam::serve
