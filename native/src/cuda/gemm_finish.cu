#include "device_util.cuh"
#include "gemm_finish.h"

namespace dc::cuda {

namespace {

template <class T>
__global__ void finish_kernel(GemmArgs a, const T* t, int64_t ldt) {
  const int64_t total = a.M * a.N;
  const bool silu = a.act == DC_ACT_SILU;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / a.N, n = i % a.N;
    float v;
    if (t) {
      v = to_float(t[r * ldt + n]);
      if (silu) v = activate(DC_ACT_SILU, v);
    } else {
      v = activate(a.act, a.bias ? to_float(static_cast<const T*>(a.bias)[n]) : 0.f);
    }
    if (a.gate.p) v *= to_float(group_row<T>(a.gate, r)[n]);
    if (a.residual) v += to_float(static_cast<const T*>(a.residual)[r * a.ldr + n]);
    static_cast<T*>(a.out)[r * a.ldo + n] = from_float<T>(v);
  }
}

}  // namespace

dc_status gemm_finish(const GemmArgs& a, const void* t, int64_t ldt) {
  return with_float_type(a.a_dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kThreads = 256;
    finish_kernel<T><<<grid_for(a.M * a.N, kThreads * 4), kThreads, 0, stream()>>>(
        a, static_cast<const T*>(t), ldt);
    return check_launch("gemm epilogue kernel");
  });
}

}  // namespace dc::cuda
