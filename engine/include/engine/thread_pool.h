// A fixed pool of worker threads. The calling thread takes part as worker 0,
// so a pool of N threads starts N-1 OS threads. Work is split statically
// (one contiguous block per thread), which is what dense kernels want.
// Between jobs a worker spins briefly (~0.1 ms) before it sleeps, and so does
// the caller waiting for the workers: a forward pass is a run of short
// parallel regions, and waking a sleeping thread (a halted vCPU on a VM) can
// take longer than a region; with a static split that delay is the region's.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace engine {

class ThreadPool {
 public:
  // n_threads <= 0 means one per hardware thread.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return n_threads_; }

  // Calls fn(thread_index, num_threads) once on every thread of the pool and
  // returns when all calls are done. The first exception thrown is rethrown
  // here. A call from inside a pool job runs inline on the calling thread
  // (fn(0, 1)) instead of deadlocking.
  void run(const std::function<void(int, int)>& fn);

  // Splits [begin, end) into at most num_threads() contiguous chunks of at
  // least `grain` items and calls fn(chunk_begin, chunk_end) for each.
  void parallel_for(int64_t begin, int64_t end, int64_t grain,
                    const std::function<void(int64_t, int64_t)>& fn);

  // Pins thread i of the pool (0: the caller) to the i-th CPU this process may
  // run on (modulo their count). Opt-in, for benchmarks: with a second thread
  // pool in the process (OpenBLAS's, spinning after each call) the scheduler
  // can wake a worker on the caller's CPU, and the static split then runs one
  // part after the other. Returns false where the OS refuses or cannot pin.
  bool pin_threads();

 private:
  void worker_loop(int index);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int, int)>* job_ = nullptr;
  int job_threads_ = 0;
  std::atomic<uint64_t> generation_{0};  // written under mutex_, read by spinning workers
  std::atomic<int> pending_{0};          // workers still in the current job
  bool stopping_ = false;
  std::exception_ptr error_;
  std::mutex run_mutex_;  // one job at a time
};

// The process-wide pool used by the kernels. set_num_threads() replaces it
// (call it between forward passes, not during one).
ThreadPool& thread_pool();
void set_num_threads(int n_threads);
int default_num_threads();

}  // namespace engine
