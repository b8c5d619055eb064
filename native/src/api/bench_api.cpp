// Benchmark support: the FMA roof of this machine, measured with the active ISA's loop.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <system_error>
#include <thread>
#include <vector>

#include "dispatch.h"

using namespace dc;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs `iterations` of the loop on `threads` threads started together; returns GFLOP/s over the
// wall time of the slowest, so threads sharing a core count as the core's throughput.
double timed_trial(double (*loop)(int64_t), int threads, int64_t iterations) {
  std::atomic<bool> go{false};
  std::atomic<int> ready{0};
  std::vector<double> flops(size_t(threads), 0.0);
  std::atomic<bool> abandon{false};
  std::vector<std::thread> workers;
  workers.reserve(size_t(threads - 1));
  try {
    for (int t = 1; t < threads; ++t) {
      workers.emplace_back([&, t] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        if (!abandon.load()) flops[size_t(t)] = loop(iterations);
      });
    }
  } catch (const std::system_error& e) {
    // Release and join the threads already started before reporting: a joinable std::thread
    // destroyed during unwinding would terminate the process.
    abandon.store(true);
    go.store(true, std::memory_order_release);
    for (auto& w : workers) w.join();
    char msg[256];
    std::snprintf(msg, sizeof msg, "could start only %zu of %d threads: %s", workers.size() + 1,
                  threads, e.what());
    throw Failure(DC_ERR_UNAVAILABLE, msg);
  }
  while (ready.load() < threads - 1) std::this_thread::yield();
  const Clock::time_point t0 = Clock::now();
  go.store(true, std::memory_order_release);
  flops[0] = loop(iterations);
  for (auto& w : workers) w.join();
  const double wall = seconds_since(t0);
  double total = 0;
  for (double f : flops) total += f;
  return total / wall * 1e-9;
}

}  // namespace

extern "C" dc_status dc_cpu_fma_peak(int threads, double seconds, double* gflops) {
  if (!gflops) return fail(DC_ERR_INVALID_ARGUMENT, "gflops must not be NULL");
  if (threads < 1 || threads > 1024)
    return fail(DC_ERR_RANGE, "thread count must be in [1, 1024], got %d", threads);
  if (!(seconds > 0 && seconds <= 60))
    return fail(DC_ERR_RANGE, "seconds must be in (0, 60], got %g", seconds);
  return guard([&] {
    double (*loop)(int64_t) = cpu::kernels().fma_peak_loop;
    // Calibrate on one thread: double the iterations until a run takes a few milliseconds.
    int64_t iterations = 1024;
    double t = 0;
    for (;;) {
      const Clock::time_point t0 = Clock::now();
      loop(iterations);
      t = seconds_since(t0);
      if (t > 2e-3 || iterations > (int64_t(1) << 40)) break;
      iterations *= 2;
    }
    const int trials = 3;
    const double per_trial = seconds / trials;
    const int64_t trial_iterations = int64_t(double(iterations) * per_trial / t) + 1;
    double best = 0;
    for (int i = 0; i < trials; ++i) {
      const double g = timed_trial(loop, threads, trial_iterations);
      if (g > best) best = g;
    }
    *gflops = best;
    return DC_OK;
  });
}
