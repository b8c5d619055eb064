// Softmax over the last dim: one warp per row, max pass, exp-and-sum pass, scaling pass.
#include "device_util.cuh"
#include "softmax.h"

namespace dc::cuda {

namespace {

template <class T>
__global__ void __launch_bounds__(kRowThreads) softmax_kernel(ElementwiseArgs a) {
  const int lane = threadIdx.x % 32;
  const int64_t C = a.x.rows.len;
  for (int64_t r = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / 32; r < a.x.rows.count;
       r += int64_t(gridDim.x) * kRowWarps) {
    const T* x = static_cast<const T*>(a.x.p) + row_offset(a.x.rows, r);
    T* out = static_cast<T*>(a.out.p) + row_offset(a.out.rows, r);
    float m = -INFINITY;
    for (int64_t c = lane; c < C; c += 32) m = fmaxf(m, to_float(x[c]));
    m = warp_max(m);
    float s = 0.f;
    for (int64_t c = lane; c < C; c += 32) s += expf(to_float(x[c]) - m);
    const float inv = 1.f / warp_sum(s);
    for (int64_t c = lane; c < C; c += 32) out[c] = from_float<T>(expf(to_float(x[c]) - m) * inv);
  }
}

}  // namespace

dc_status softmax_rows(const ElementwiseArgs& a) {
  return with_float_type(a.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<T><<<grid_for(a.x.rows.count, kRowWarps), kRowThreads, 0, stream()>>>(a);
    return check_launch("softmax kernel");
  });
}

}  // namespace dc::cuda
