// Rotary embedding on interleaved pairs over rows of [.., T, D]: one warp per row, lanes over
// pairs, angles as the CPU kernel (float position times the pair's frequency).
#include "backend.h"
#include "device_util.cuh"

namespace dc::cuda {

namespace {

template <class T>
__global__ void __launch_bounds__(kRowThreads) rope_kernel(RopeArgs a) {
  const int lane = threadIdx.x % 32;
  const int64_t half = a.x.rows.len / 2;
  for (int64_t r = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / 32; r < a.x.rows.count;
       r += int64_t(gridDim.x) * kRowWarps) {
    const T* x = static_cast<const T*>(a.x.p) + row_offset(a.x.rows, r);
    T* out = static_cast<T*>(a.out.p) + row_offset(a.out.rows, r);
    const float pos = float(a.pos0 + r % a.T);
    for (int64_t i = lane; i < half; i += 32) {
      float s, c;
      sincosf(pos * a.freqs[i], &s, &c);
      const float x0 = to_float(x[2 * i]), x1 = to_float(x[2 * i + 1]);
      out[2 * i] = from_float<T>(x0 * c - x1 * s);
      out[2 * i + 1] = from_float<T>(x1 * c + x0 * s);
    }
  }
}

}  // namespace

dc_status rope(const RopeArgs& a) {
  return with_float_type(a.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    rope_kernel<T><<<grid_for(a.x.rows.count, kRowWarps), kRowThreads, 0, stream()>>>(a);
    return check_launch("rope kernel");
  });
}

}  // namespace dc::cuda
