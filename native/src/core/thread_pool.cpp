#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace dc {

namespace {

class ThreadPool {
 public:
  ThreadPool() {
    int n = int(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("DITCACHE_THREADS")) {
      int v = std::atoi(env);
      if (v > 0) n = v;
    }
    resize(std::max(1, n));
  }

  ~ThreadPool() { stop_workers(); }

  int size() const { return size_; }

  void resize(int n) {
    std::lock_guard<std::mutex> region(region_mu_);
    stop_workers();
    size_ = n;
    stopping_ = false;
    // A new worker starts from the current generation: an earlier job's ctx is gone by now.
    for (int i = 1; i < n; ++i)
      workers_.emplace_back([this, i, seen = generation_] { worker_loop(i, seen); });
  }

  void run(int64_t n, int64_t min_chunk, RangeFn fn, void* ctx) {
    if (n <= 0) return;
    int64_t chunks = std::min<int64_t>(size_, (n + std::max<int64_t>(min_chunk, 1) - 1) /
                                                  std::max<int64_t>(min_chunk, 1));
    std::unique_lock<std::mutex> region(region_mu_, std::try_to_lock);
    if (chunks <= 1 || in_worker_ || !region.owns_lock()) {
      fn(ctx, 0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = {fn, ctx, n, chunks};
      pending_.store(int(chunks - 1));
      generation_++;
    }
    cv_.notify_all();
    run_chunk(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_.load() == 0; });
  }

 private:
  struct Job {
    RangeFn fn = nullptr;
    void* ctx = nullptr;
    int64_t n = 0;
    int64_t chunks = 0;
  };

  void run_chunk(int64_t c) {
    const Job job = job_;
    int64_t begin = job.n * c / job.chunks, end = job.n * (c + 1) / job.chunks;
    if (begin < end) job.fn(job.ctx, begin, end);
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
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex region_mu_;  // one parallel region at a time
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  Job job_;
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

void set_num_threads(int n) { pool().resize(n); }

}  // namespace dc
