// Concurrent use: one loaded model (shared_ptr<const Weights>) shared by several
// Predictors on several threads gives bit for bit the results of sequential
// runs. Self-contained (a seeded random tiny model written in-process), so it
// runs with the unit tests and, in the tsan preset, under ThreadSanitizer:
//   ./build/tsan/tests/unit_tests "[concurrency]"
//
// What makes this hold: Weights is immutable after load; each Predictor owns its
// encoder arena and decoder state; the process-wide engine::thread_pool() runs one
// job at a time (ThreadPool::run serialises callers on run_mutex_; a call from
// inside a job runs inline), so a job is split the same way whoever calls it;
// OpenBLAS's process-wide thread count is switched by a reference-counted guard
// around the image encoder's attention (sam/modeling/image_encoder.cpp: SingleThreadedBlas).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "engine/thread_pool.h"
#include "random_checkpoint.h"
#include "sam/modeling/config.h"
#include "sam/amg/automatic_mask_generator.h"
#include "sam/predictor.h"
#include "test_util.h"

namespace {

struct Job {
  sam::Image image;
  std::vector<sam::PromptSet> prompts;
  bool multimask = true;
};

struct Result {
  engine::Tensor embedding, masks, iou, low_res;
};

sam::Image make_image(int w, int h, int seed) {
  sam::Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  uint32_t s = 2463534242u + static_cast<uint32_t>(seed) * 7919u;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      s ^= s << 13;
      s ^= s >> 17;
      s ^= s << 5;
      uint8_t* p = img.row(y) + x * 3;
      const bool inside = (x - w / 2) * (x - w / 2) + (y - h / 3) * (y - h / 3) < (w * h) / 8;
      p[0] = static_cast<uint8_t>(inside ? 200 : (x * 255) / w);
      p[1] = static_cast<uint8_t>((y * 255) / h);
      p[2] = static_cast<uint8_t>(s & 0x3F);
    }
  return img;
}

std::vector<Job> make_jobs() {
  std::vector<Job> jobs;
  const int sizes[][2] = {{320, 240}, {97, 211}, {256, 256}, {640, 120}, {50, 50}, {300, 301}};
  for (int i = 0; i < 6; ++i) {
    Job j;
    j.image = make_image(sizes[i][0], sizes[i][1], i);
    const float w = static_cast<float>(j.image.width), h = static_cast<float>(j.image.height);
    sam::PromptSet a;
    a.points = {{w * 0.5f, h * 0.4f}, {w * 0.1f, h * 0.9f}};
    a.labels = {1, i % 2};
    if (i % 3 == 1) {
      a.box = std::array<float, 4>{w * 0.2f, h * 0.1f, w * 0.8f, h * 0.7f};
      sam::PromptSet b = a;
      b.box = std::array<float, 4>{0.f, 0.f, w * 0.5f, h * 0.5f};
      j.prompts = {a, b};
    } else {
      j.prompts = {a};
    }
    j.multimask = i % 2 == 0;
    jobs.push_back(std::move(j));
  }
  return jobs;
}

Result run_job(sam::Predictor& p, const Job& job) {
  p.set_image(job.image);
  sam::Prediction pred = p.predict(job.prompts, job.multimask);
  return {p.embedding().contiguous(), pred.masks, pred.iou_predictions, pred.low_res_logits};
}

bool same_bits(const engine::Tensor& a, const engine::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

std::shared_ptr<const sam::SamModel> random_tiny(const test_util::TempDir& dir) {
  const std::string path = dir.file("tiny_random.safetensors");
  weights_tools::write_random_checkpoint(*sam::find_config("tiny"), 3, path, engine::DType::F32, false);
  return sam::SamModel::load(path);
}

}  // namespace

TEST_CASE("one SamModel shared by predictors on several threads equals sequential runs", "[concurrency]") {
  test_util::TempDir dir;
  const auto weights = random_tiny(dir);  // one model: weights and packed panels exist once
  const std::vector<Job> jobs = make_jobs();

  std::vector<Result> sequential;
  {
    sam::Predictor p(weights);
    for (const Job& j : jobs) sequential.push_back(run_job(p, j));
  }
  // A fresh predictor per job gives the same as one reused predictor.
  {
    sam::Predictor p(weights);
    const Result r = run_job(p, jobs[3]);
    REQUIRE(same_bits(r.masks, sequential[3].masks));
  }

  // Each thread has its own predictor and runs every job, starting at a different
  // one, twice (so that predictors are reused across images while others run).
  const int n_threads = 4;
  std::vector<std::vector<Result>> got(n_threads, std::vector<Result>(jobs.size()));
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t)
    threads.emplace_back([&, t] {
      try {
        sam::Predictor p(weights);
        if (&p.model() != weights.get()) ++errors;  // a session never copies the model
        for (int round = 0; round < 2; ++round)
          for (size_t k = 0; k < jobs.size(); ++k) {
            const size_t i = (k + static_cast<size_t>(t)) % jobs.size();
            got[static_cast<size_t>(t)][i] = run_job(p, jobs[i]);
          }
      } catch (...) {
        ++errors;
      }
    });
  for (auto& th : threads) th.join();
  REQUIRE(errors == 0);
  for (int t = 0; t < n_threads; ++t)
    for (size_t i = 0; i < jobs.size(); ++i) {
      INFO("thread " << t << " job " << i);
      const Result& a = got[static_cast<size_t>(t)][i];
      const Result& b = sequential[i];
      CHECK(same_bits(a.embedding, b.embedding));
      CHECK(same_bits(a.low_res, b.low_res));
      CHECK(same_bits(a.iou, b.iou));
      CHECK(same_bits(a.masks, b.masks));
    }
}

TEST_CASE("an automatic mask generator and predictors run on one model at once", "[concurrency]") {
  test_util::TempDir dir;
  const auto model = random_tiny(dir);
  const std::vector<Job> jobs = make_jobs();
  sam::AmgOptions o;
  o.points_per_side = 4;
  o.pred_iou_thresh = 0;
  o.stability_score_thresh = 0;
  const sam::Image image = jobs[0].image;
  sam::AmgResult alone;
  {
    sam::AutomaticMaskGenerator gen(model, o);
    alone = gen.generate(image);
  }
  Result predicted_alone;
  {
    sam::Predictor p(model);
    predicted_alone = run_job(p, jobs[1]);
  }
  sam::AmgResult together;
  std::vector<Result> predicted(3);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    try {
      sam::AutomaticMaskGenerator gen(model, o);
      together = gen.generate(image);
    } catch (...) {
      ++errors;
    }
  });
  for (size_t t = 0; t < predicted.size(); ++t)
    threads.emplace_back([&, t] {
      try {
        sam::Predictor p(model);
        predicted[t] = run_job(p, jobs[1]);
      } catch (...) {
        ++errors;
      }
    });
  for (auto& th : threads) th.join();
  REQUIRE(errors == 0);
  REQUIRE(together.masks.size() == alone.masks.size());
  for (size_t i = 0; i < alone.masks.size(); ++i) {
    CHECK(together.masks[i].rle.counts == alone.masks[i].rle.counts);
    CHECK(together.masks[i].predicted_iou == alone.masks[i].predicted_iou);
  }
  for (const Result& r : predicted) {
    CHECK(same_bits(r.low_res, predicted_alone.low_res));
    CHECK(same_bits(r.masks, predicted_alone.masks));
  }
}

TEST_CASE("the global thread pool serves concurrent callers and nested calls", "[concurrency]") {
  const int n_threads = 4, rounds = 50;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        std::vector<int64_t> v(1000 + static_cast<size_t>(t) * 37, 0);
        engine::thread_pool().parallel_for(0, static_cast<int64_t>(v.size()), 16, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) {
            // A nested call runs inline on the calling worker.
            int64_t inner = 0;
            engine::thread_pool().parallel_for(0, 4, 1, [&](int64_t a, int64_t b) { inner += b - a; });
            v[static_cast<size_t>(i)] = i * 3 + t + inner - 4;
          }
        });
        for (size_t i = 0; i < v.size(); ++i)
          if (v[i] != static_cast<int64_t>(i) * 3 + t) ++errors;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(errors == 0);
}
