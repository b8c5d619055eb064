#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "status.h"

namespace dc {

namespace {

// DITCACHE_THREADS when it is an integer in [1, kMaxThreads]; else the hardware's thread count.
int initial_threads() {
  int n = int(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("DITCACHE_THREADS")) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(env, &end, 10);
    if (errno == 0 && end != env && *end == '\0' && v >= 1 && v <= kMaxThreads) n = int(v);
  }
  return std::clamp(n, 1, kMaxThreads);
}

class ThreadPool {
 public:
  // Starts what the system allows: a pool that could start fewer workers runs with fewer.
  ThreadPool() {
    std::string ignored;
    start(initial_threads(), &ignored);
  }

  ~ThreadPool() { stop_workers(); }

  int size() const { return size_.load(); }

  // Returns how many threads the pool has now (the caller's included); `failure` says why it
  // has fewer than `n`.
  int resize(int n, std::string* failure) {
    std::lock_guard<std::mutex> region(region_mu_);
    stop_workers();
    return start(n, failure);
  }

  void run(int64_t n, int64_t min_chunk, RangeFn fn, void* ctx) {
    if (n <= 0) return;
    int64_t chunks = std::min<int64_t>(size_.load(), (n + std::max<int64_t>(min_chunk, 1) - 1) /
                                                         std::max<int64_t>(min_chunk, 1));
    std::unique_lock<std::mutex> region(region_mu_, std::try_to_lock);
    if (chunks <= 1 || in_worker_ || !region.owns_lock()) {
      fn(ctx, 0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = {fn, ctx, n, chunks};
      error_ = nullptr;
      pending_.store(int(chunks - 1));
      generation_++;
    }
    cv_.notify_all();
    run_chunk(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_.load() == 0; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  struct Job {
    RangeFn fn = nullptr;
    void* ctx = nullptr;
    int64_t n = 0;
    int64_t chunks = 0;
  };

  // Must be called with region_mu_ held (or from the constructor) and no workers running.
  int start(int n, std::string* failure) {
    stopping_ = false;
    std::string why;
    try {
      workers_.reserve(size_t(n - 1));
      // A new worker starts from the current generation: an earlier job's ctx is gone by now.
      for (int i = 1; i < n; ++i)
        workers_.emplace_back([this, i, seen = generation_] { worker_loop(i, seen); });
    } catch (const std::exception& e) {
      why = e.what();
    }
    size_.store(1 + int(workers_.size()));
    if (size_.load() < n) {
      char msg[256];
      std::snprintf(msg, sizeof msg, "could start only %d of %d threads: %s", size_.load(), n,
                    why.c_str());
      *failure = msg;
    }
    return size_.load();
  }

  // A chunk's exception is kept for the caller; the other chunks still run to their end.
  void run_chunk(int64_t c) {
    const Job job = job_;
    int64_t begin = job.n * c / job.chunks, end = job.n * (c + 1) / job.chunks;
    if (begin >= end) return;
    try {
      job.fn(job.ctx, begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void worker_loop(int index, uint64_t seen) {
    in_worker_ = true;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= job_.chunks) continue;
      }
      run_chunk(index);
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        done_cv_.notify_all();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    size_.store(1);
  }

  std::atomic<int> size_{1};
  std::vector<std::thread> workers_;
  std::mutex region_mu_;  // one parallel region at a time
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  Job job_;
  std::exception_ptr error_;
  std::atomic<int> pending_{0};
  uint64_t generation_ = 0;
  bool stopping_ = false;
  static thread_local bool in_worker_;
};

thread_local bool ThreadPool::in_worker_ = false;

ThreadPool& pool() {
  // Leaked on purpose: joining threads from a static destructor can deadlock at process exit.
  static ThreadPool* p = new ThreadPool();
  return *p;
}

}  // namespace

void parallel_for_raw(int64_t n, int64_t min_chunk, RangeFn fn, void* ctx) {
  pool().run(n, min_chunk, fn, ctx);
}

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  std::string failure;
  if (pool().resize(n, &failure) < n) throw Failure(DC_ERR_UNAVAILABLE, failure.c_str());
}

}  // namespace dc
