#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/thread_pool.h"

using engine::ThreadPool;

namespace {

struct Chunk {
  int64_t lo, hi;
};

// Runs parallel_for and checks every documented property of the split.
void check_parallel_for(ThreadPool& pool, int64_t begin, int64_t end, int64_t grain) {
  INFO("threads " << pool.num_threads() << " range [" << begin << ", " << end << ") grain " << grain);
  const int64_t n = std::max<int64_t>(end - begin, 0);
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  for (auto& h : hits) h = 0;
  std::mutex m;
  std::vector<Chunk> chunks;
  std::atomic<int> out_of_range{0};
  pool.parallel_for(begin, end, grain, [&](int64_t lo, int64_t hi) {
    {
      std::lock_guard<std::mutex> lock(m);
      chunks.push_back({lo, hi});
    }
    if (lo < begin || hi > end || lo >= hi) {
      ++out_of_range;
      return;
    }
    for (int64_t i = lo; i < hi; ++i) ++hits[static_cast<size_t>(i - begin)];
  });
  REQUIRE(out_of_range == 0);
  for (int64_t i = 0; i < n; ++i) REQUIRE(hits[static_cast<size_t>(i)] == 1);
  if (n == 0) {
    CHECK(chunks.empty());
    return;
  }
  CHECK(chunks.size() >= 1);
  CHECK(chunks.size() <= static_cast<size_t>(pool.num_threads()));
  // Contiguous, ordered blocks that tile the range.
  std::sort(chunks.begin(), chunks.end(), [](const Chunk& a, const Chunk& b) { return a.lo < b.lo; });
  CHECK(chunks.front().lo == begin);
  CHECK(chunks.back().hi == end);
  for (size_t i = 1; i < chunks.size(); ++i) CHECK(chunks[i].lo == chunks[i - 1].hi);
  // Each chunk has at least `grain` items (unless the whole range is smaller).
  const int64_t min_size = std::min(std::max<int64_t>(grain, 1), n);
  for (const Chunk& c : chunks) CHECK(c.hi - c.lo >= min_size);
}

}  // namespace

TEST_CASE("parallel_for covers every index exactly once", "[thread_pool]") {
  for (int threads : {1, 2, 3, 7}) {
    ThreadPool pool(threads);
    REQUIRE(pool.num_threads() == threads);
    for (int64_t begin : {int64_t{0}, int64_t{5}, int64_t{-3}, int64_t{1} << 40}) {
      for (int64_t n : {0, 1, 2, 3, 5, 6, 7, 8, 13, 64, 101, 1000}) {
        for (int64_t grain : {-1, 0, 1, 2, 3, 7, 16, 1000, 5000}) check_parallel_for(pool, begin, begin + n, grain);
      }
      // Reversed ranges do nothing.
      check_parallel_for(pool, begin + 10, begin, 1);
    }
  }
}

TEST_CASE("parallel_for uses several threads when the range allows it", "[thread_pool]") {
  ThreadPool pool(3);
  std::mutex m;
  std::set<std::thread::id> ids;
  std::atomic<int> calls{0};
  pool.parallel_for(0, 3000, 1, [&](int64_t, int64_t) {
    ++calls;
    std::lock_guard<std::mutex> lock(m);
    ids.insert(std::this_thread::get_id());
  });
  CHECK(calls == 3);
  CHECK(ids.size() == 3);
  // A grain as large as the range means one inline call on the caller.
  ids.clear();
  calls = 0;
  pool.parallel_for(0, 10, 10, [&](int64_t lo, int64_t hi) {
    ++calls;
    CHECK(lo == 0);
    CHECK(hi == 10);
    std::lock_guard<std::mutex> lock(m);
    ids.insert(std::this_thread::get_id());
  });
  CHECK(calls == 1);
  CHECK(ids == std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST_CASE("run calls every thread index once, each on its own thread", "[thread_pool]") {
  for (int threads : {1, 2, 3, 7}) {
    ThreadPool pool(threads);
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(threads));
      for (auto& h : hits) h = 0;
      std::mutex m;
      std::set<std::thread::id> ids;
      std::thread::id index0;
      std::atomic<int> bad{0};
      pool.run([&](int index, int count) {
        if (count != threads || index < 0 || index >= threads) {
          ++bad;
          return;
        }
        ++hits[static_cast<size_t>(index)];
        std::lock_guard<std::mutex> lock(m);
        ids.insert(std::this_thread::get_id());
        if (index == 0) index0 = std::this_thread::get_id();
      });
      REQUIRE(bad == 0);
      for (int i = 0; i < threads; ++i) REQUIRE(hits[static_cast<size_t>(i)] == 1);
      REQUIRE(ids.size() == static_cast<size_t>(threads));
      REQUIRE(index0 == std::this_thread::get_id());  // the caller is worker 0
    }
  }
}

TEST_CASE("exceptions thrown in workers reach the caller", "[thread_pool]") {
  for (int threads : {1, 2, 3, 7}) {
    ThreadPool pool(threads);
    for (int thrower = 0; thrower < threads; ++thrower) {
      INFO("threads " << threads << " thrower " << thrower);
      std::atomic<int> finished{0};
      try {
        pool.run([&](int index, int) {
          if (index == thrower) throw engine::Error("worker " + std::to_string(index) + " failed");
          ++finished;
        });
        FAIL("exception swallowed");
      } catch (const engine::Error& e) {
        CHECK(std::string(e.what()) == "worker " + std::to_string(thrower) + " failed");
      }
      // The other threads completed before run() returned.
      CHECK(finished == threads - 1);
    }
    // Every thread throws: exactly one exception arrives.
    CHECK_THROWS_AS(pool.run([](int, int) { throw std::runtime_error("all"); }), std::runtime_error);
    // parallel_for propagates too, for any chunk.
    CHECK_THROWS_AS(pool.parallel_for(0, 100, 1,
                                      [](int64_t lo, int64_t hi) {
                                        if (hi == 100) throw std::out_of_range("last chunk");
                                      }),
                    std::out_of_range);
    // The pool is still usable afterwards.
    std::atomic<int64_t> sum{0};
    pool.parallel_for(0, 1000, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) sum += i;
    });
    CHECK(sum == 999 * 1000 / 2);
  }
}

TEST_CASE("nested parallel work inside a job runs inline", "[thread_pool]") {
  for (int threads : {2, 3, 7}) {
    ThreadPool pool(threads);
    ThreadPool other(2);
    std::vector<std::atomic<int>> hits(static_cast<size_t>(threads * 100));
    for (auto& h : hits) h = 0;
    std::atomic<int> bad{0};
    auto job = [&] {
      pool.run([&](int index, int) {
        const std::thread::id me = std::this_thread::get_id();
        // Nested parallel_for on the same pool: one call, on this thread.
        int calls = 0;
        pool.parallel_for(index * 100, index * 100 + 100, 1, [&](int64_t lo, int64_t hi) {
          ++calls;
          if (std::this_thread::get_id() != me) ++bad;
          for (int64_t i = lo; i < hi; ++i) ++hits[static_cast<size_t>(i)];
        });
        if (calls != 1) ++bad;
        // Nested run: fn(0, 1) inline.
        int nested = 0;
        pool.run([&](int i, int n) {
          if (i != 0 || n != 1 || std::this_thread::get_id() != me) ++bad;
          ++nested;
        });
        if (nested != 1) ++bad;
        // Another pool used from inside a job also runs inline.
        int other_calls = 0;
        other.parallel_for(0, 50, 1, [&](int64_t lo, int64_t hi) {
          ++other_calls;
          if (lo != 0 || hi != 50 || std::this_thread::get_id() != me) ++bad;
        });
        if (other_calls != 1) ++bad;
      });
    };
    // Run on a helper thread so that a deadlock fails the test instead of hanging it.
    auto done = std::async(std::launch::async, job);
    REQUIRE(done.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    done.get();
    CHECK(bad == 0);
    for (auto& h : hits) REQUIRE(h == 1);
    // Outside the job the pools are parallel again.
    std::set<std::thread::id> ids;
    std::mutex m;
    pool.run([&](int, int) {
      std::lock_guard<std::mutex> lock(m);
      ids.insert(std::this_thread::get_id());
    });
    CHECK(ids.size() == static_cast<size_t>(threads));
  }
}

TEST_CASE("concurrent callers of one pool are serialised", "[thread_pool]") {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  auto caller = [&] {
    for (int rep = 0; rep < 200; ++rep) {
      pool.parallel_for(0, 97, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) total += i;
      });
    }
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  CHECK(total == int64_t{2} * 200 * (96 * 97 / 2));
}

TEST_CASE("the global pool follows set_num_threads", "[thread_pool]") {
  CHECK(engine::default_num_threads() >= 1);
  const unsigned hw = std::thread::hardware_concurrency();
  CHECK(engine::default_num_threads() == (hw == 0 ? 1 : static_cast<int>(hw)));
  for (int n : {3, 1, 7, 2}) {
    engine::set_num_threads(n);
    REQUIRE(engine::thread_pool().num_threads() == n);
    std::atomic<int> calls{0};
    engine::thread_pool().run([&](int, int count) {
      if (count == n) ++calls;
    });
    CHECK(calls == n);
  }
  // Same size again keeps the same pool object.
  ThreadPool* before = &engine::thread_pool();
  engine::set_num_threads(2);
  CHECK(&engine::thread_pool() == before);
  engine::set_num_threads(0);
  CHECK(engine::thread_pool().num_threads() == engine::default_num_threads());
  ThreadPool def(0);
  CHECK(def.num_threads() == engine::default_num_threads());
  ThreadPool negative(-5);
  CHECK(negative.num_threads() == engine::default_num_threads());
  CHECK_THROWS_AS(ThreadPool(5000), engine::Error);
}
