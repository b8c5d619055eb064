// Motion score: for every frame stride s, sums of |r[f+s] - r[f]| and |r[f+s]| + |r[f]| over all
// frame pairs, in double. blockIdx.y picks the stride; blocks add their totals atomically.
#include "backend.h"
#include "device_util.cuh"

namespace dc::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxStrides = 64;

struct FrameStrides {
  int64_t s[kMaxStrides];
};

template <class T>
__global__ void __launch_bounds__(kThreads) motion_kernel(MotionArgs a, FrameStrides strides,
                                                          double* sums) {
  const int si = blockIdx.y;
  const int64_t s = strides.s[si], frame = a.S * a.C, span = a.T - s;
  const int64_t count = a.B * span * frame;  // (b, f) with f + s < T, times a frame's elements
  const T* r = static_cast<const T*>(a.r);
  double num = 0.0, den = 0.0;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < count;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = e / frame, i = e % frame;
    const int64_t x0 = ((p / span) * a.T + p % span) * frame + i;
    const float v0 = to_float(r[x0]), v1 = to_float(r[x0 + s * frame]);
    num += fabsf(v1 - v0);
    den += fabsf(v1) + fabsf(v0);
  }
  num = block_sum(num);
  den = block_sum(den);
  if (threadIdx.x == 0) {
    atomicAdd(&sums[2 * si], num);
    atomicAdd(&sums[2 * si + 1], den);
  }
}

}  // namespace

dc_status motion(const MotionArgs& a, double* num, double* den) {
  if (a.n_strides > kMaxStrides)
    return fail(DC_ERR_INVALID_ARGUMENT, "at most %d frame strides, got %d", kMaxStrides, a.n_strides);
  FrameStrides strides{};
  for (int i = 0; i < a.n_strides; ++i) strides.s[i] = a.strides[i];
  const size_t bytes = size_t(2 * a.n_strides) * sizeof(double);
  DeviceBuffer sums(bytes);
  DC_TRY(check(cudaMemsetAsync(sums.get(), 0, bytes, stream()), "motion score"));
  DC_TRY(with_float_type(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const dim3 grid(grid_for(a.B * (a.T - 1) * a.S * a.C, kThreads * 8), unsigned(a.n_strides));
    motion_kernel<T><<<grid, kThreads, 0, stream()>>>(a, strides, sums.as<double>());
    return check_launch("motion score kernel");
  }));
  double host[2 * kMaxStrides];
  DC_TRY(check(cudaMemcpyAsync(host, sums.get(), bytes, cudaMemcpyDeviceToHost, stream()),
               "reading the motion score"));
  DC_TRY(synchronize());
  for (int i = 0; i < a.n_strides; ++i) {
    num[i] += host[2 * i];
    den[i] += host[2 * i + 1];
  }
  return DC_OK;
}

}  // namespace dc::cuda
