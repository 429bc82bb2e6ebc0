#include "engine/thread_pool.h"

#include <algorithm>
#include <memory>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include "engine/error.h"

namespace engine {
namespace {
thread_local bool t_inside_pool_job = false;

// Polls `done` with a CPU pause for ~0.1 ms (a few thousand pauses); true if it
// became true meanwhile.
template <class F>
bool spin_until(const F& done) {
  for (int i = 0; i < 4096; ++i) {
    if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  return done();
}
}  // namespace

int default_num_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int n_threads) {
  n_threads_ = n_threads > 0 ? n_threads : default_num_threads();
  check(n_threads_ <= 1024, "thread pool: {} threads requested (at most 1024)", n_threads_);
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int, int)>* job = nullptr;
    int threads = 0;
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stopping_) return;
      seen = generation_.load(std::memory_order_relaxed);
      job = job_;
      threads = job_threads_;
    }
    if (index < threads) {
      t_inside_pool_job = true;
      try {
        (*job)(index, threads);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      t_inside_pool_job = false;
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // (the caller checks pending_ under the mutex before it sleeps)
      done_.notify_one();
    }
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (t_inside_pool_job || n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  std::lock_guard<std::mutex> serial(run_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_threads_ = n_threads_;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    error_ = nullptr;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  std::exception_ptr own_error;
  t_inside_pool_job = true;
  try {
    fn(0, n_threads_);
  } catch (...) {
    own_error = std::current_exception();
  }
  t_inside_pool_job = false;
  std::exception_ptr worker_error;
  spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; });
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    job_ = nullptr;
    worker_error = error_;
    error_ = nullptr;
  }
  if (own_error) std::rethrow_exception(own_error);
  if (worker_error) std::rethrow_exception(worker_error);
}

void ThreadPool::parallel_for(int64_t begin, int64_t end, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  const int64_t n = end - begin;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_chunks = std::max<int64_t>(n / grain, 1);  // every chunk keeps at least `grain` items
  const int64_t chunks = std::min<int64_t>(max_chunks, t_inside_pool_job ? 1 : n_threads_);
  if (chunks <= 1) {
    fn(begin, end);
    return;
  }
  run([&](int index, int) {
    if (index >= chunks) return;
    const int64_t lo = begin + n * index / chunks;
    const int64_t hi = begin + n * (index + 1) / chunks;
    if (lo < hi) fn(lo, hi);
  });
}

bool ThreadPool::pin_threads() {
#if defined(__linux__)
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return false;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.empty()) return false;
  std::atomic<bool> ok{true};
  run([&](int index, int) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[static_cast<size_t>(index) % cpus.size()], &one);
    if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0) ok = false;
  });
  return ok;
#else
  return false;
#endif
}

namespace {
std::unique_ptr<ThreadPool>& global_pool() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
std::mutex g_pool_mutex;
}  // namespace

ThreadPool& thread_pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  auto& pool = global_pool();
  if (!pool) pool = std::make_unique<ThreadPool>(0);
  return *pool;
}

void set_num_threads(int n_threads) {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  auto& pool = global_pool();
  const int n = n_threads > 0 ? n_threads : default_num_threads();
  if (pool && pool->num_threads() == n) return;
  pool = std::make_unique<ThreadPool>(n);
}

}  // namespace engine
