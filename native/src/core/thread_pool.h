// The library's own CPU thread pool (kernels never use libuv's). parallel_for splits [0, n) into
// contiguous chunks, one per thread, and the calling thread takes the first chunk. A region
// started while another is running (a second generation on another JS thread, a nested call)
// runs inline on its caller instead of waiting.
#pragma once
#include <cstdint>

namespace dc {

using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);

void parallel_for_raw(int64_t n, int64_t min_chunk, RangeFn fn, void* ctx);
int num_threads();
void set_num_threads(int n);

template <class F>
void parallel_for(int64_t n, int64_t min_chunk, F&& f) {
  parallel_for_raw(
      n, min_chunk,
      [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); },
      static_cast<void*>(&f));
}

}  // namespace dc
