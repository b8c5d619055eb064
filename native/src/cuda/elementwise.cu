// Modulate, activations, axpby and mul over rows (one warp per row; the grouped operands are
// per-row vectors), and the dispatch of softmax to its own kernel.
#include "backend.h"
#include "device_util.cuh"
#include "softmax.h"

namespace dc::cuda {

namespace {

template <class T>
__global__ void __launch_bounds__(kRowThreads) pointwise_kernel(ElementwiseArgs a) {
  const int lane = threadIdx.x % 32;
  const int64_t C = a.x.rows.len;
  for (int64_t r = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / 32; r < a.x.rows.count;
       r += int64_t(gridDim.x) * kRowWarps) {
    const T* x = static_cast<const T*>(a.x.p) + row_offset(a.x.rows, r);
    T* out = static_cast<T*>(a.out.p) + row_offset(a.out.rows, r);
    const T* y = a.y_grouped.p ? group_row<T>(a.y_grouped, r)
                 : a.y.p       ? static_cast<const T*>(a.y.p) + row_offset(a.y.rows, r)
                               : nullptr;
    switch (a.kind) {
      case ElementwiseArgs::kModulate: {
        const T* shift = group_row<T>(a.shift, r);
        const T* scale = group_row<T>(a.scale, r);
        for (int64_t c = lane; c < C; c += 32)
          out[c] = from_float<T>(to_float(x[c]) * (1.f + to_float(scale[c])) + to_float(shift[c]));
        break;
      }
      case ElementwiseArgs::kActivate:
        for (int64_t c = lane; c < C; c += 32) out[c] = from_float<T>(activate(a.act, to_float(x[c])));
        break;
      case ElementwiseArgs::kAxpby:
        for (int64_t c = lane; c < C; c += 32)
          out[c] = from_float<T>(a.alpha * to_float(x[c]) + a.beta * to_float(y[c]));
        break;
      case ElementwiseArgs::kMul:
        for (int64_t c = lane; c < C; c += 32) out[c] = from_float<T>(to_float(x[c]) * to_float(y[c]));
        break;
      default: break;
    }
  }
}

}  // namespace

dc_status elementwise(const ElementwiseArgs& a) {
  if (a.kind == ElementwiseArgs::kSoftmax) return softmax_rows(a);
  return with_float_type(a.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    pointwise_kernel<T><<<grid_for(a.x.rows.count, kRowWarps), kRowThreads, 0, stream()>>>(a);
    return check_launch("elementwise kernel");
  });
}

}  // namespace dc::cuda
