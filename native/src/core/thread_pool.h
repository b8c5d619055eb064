// The library's own CPU thread pool (kernels never use libuv's). parallel_for splits [0, n) into
// contiguous chunks, one per thread, and the calling thread takes the first chunk. A region
// started while another is running (a second generation on another JS thread, a nested call)
// runs inline on its caller instead of waiting.
//
// Exceptions: a chunk may throw. The region still waits for every chunk (they share the caller's
// context), then rethrows the first exception on the calling thread, where the C API's guard()
// turns it into a status; the pool stays usable. Kernels still allocate their scratch before
// parallel_for, so that an out-of-memory failure stops an op before any output is written.
#pragma once
#include <cstdint>

namespace dc {

// Bound of DITCACHE_THREADS and dc_set_num_threads.
constexpr int kMaxThreads = 1024;

using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);

void parallel_for_raw(int64_t n, int64_t min_chunk, RangeFn fn, void* ctx);
int num_threads();
// Resizes the pool to `n` threads (1..kMaxThreads). Where the system cannot start them all, the
// pool keeps the threads it could start and this throws Failure (DC_ERR_UNAVAILABLE) saying so;
// num_threads() then tells the truth.
void set_num_threads(int n);

template <class F>
void parallel_for(int64_t n, int64_t min_chunk, F&& f) {
  parallel_for_raw(
      n, min_chunk,
      [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); },
      static_cast<void*>(&f));
}

}  // namespace dc
