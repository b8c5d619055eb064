// LayerNorm / RMSNorm over rows, with the optional affine and the fused t2i modulate: one warp
// per row, two reduction passes (mean, then spread about it, as the CPU kernel) and one write.
#include "backend.h"
#include "device_util.cuh"

namespace dc::cuda {

namespace {

template <class T>
__global__ void __launch_bounds__(kRowThreads) norm_kernel(NormArgs a) {
  const int lane = threadIdx.x % 32;
  const int64_t C = a.x.rows.len;
  const T* weight = static_cast<const T*>(a.weight);
  const T* bias = static_cast<const T*>(a.bias);
  for (int64_t r = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / 32; r < a.x.rows.count;
       r += int64_t(gridDim.x) * kRowWarps) {
    const T* x = static_cast<const T*>(a.x.p) + row_offset(a.x.rows, r);
    T* out = static_cast<T*>(a.out.p) + row_offset(a.out.rows, r);
    float mean = 0.f, spread = 0.f;
    if (a.kind == NormArgs::kLayerNorm) {
      float s = 0.f;
      for (int64_t c = lane; c < C; c += 32) s += to_float(x[c]);
      mean = warp_sum(s) / float(C);
      for (int64_t c = lane; c < C; c += 32) {
        const float d = to_float(x[c]) - mean;
        spread += d * d;
      }
    } else {
      for (int64_t c = lane; c < C; c += 32) spread += to_float(x[c]) * to_float(x[c]);
    }
    const float inv = 1.f / sqrtf(warp_sum(spread) / float(C) + a.eps);
    const T* shift = a.shift.p ? group_row<T>(a.shift, r) : nullptr;
    const T* scale = a.scale.p ? group_row<T>(a.scale, r) : nullptr;
    for (int64_t c = lane; c < C; c += 32) {
      float y = (to_float(x[c]) - mean) * inv;
      if (weight) y *= to_float(weight[c]);
      if (bias) y += to_float(bias[c]);
      if (shift) y = y * (1.f + to_float(scale[c])) + to_float(shift[c]);
      out[c] = from_float<T>(y);
    }
  }
}

}  // namespace

dc_status norm(const NormArgs& a) {
  return with_float_type(a.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    norm_kernel<T><<<grid_for(a.x.rows.count, kRowWarps), kRowThreads, 0, stream()>>>(a);
    return check_launch("norm kernel");
  });
}

}  // namespace dc::cuda
