// Residual distance: ||cache - fresh||_p and ||cache||_p in one pass (with the fused slot refresh
// cache <- fresh). Each warp sums a row in fp32 as the CPU kernel does, rows are accumulated in
// double, and each block adds its total to two device doubles.
#include <cmath>

#include "backend.h"
#include "device_util.cuh"

namespace dc::cuda {

namespace {

template <class T>
__global__ void __launch_bounds__(kRowThreads) distance_kernel(DistanceArgs a, double* sums) {
  const int lane = threadIdx.x % 32;
  const int64_t C = a.cache.rows.len;
  const bool l1 = a.norm == DC_L1;
  double num = 0.0, den = 0.0;
  for (int64_t r = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / 32; r < a.cache.rows.count;
       r += int64_t(gridDim.x) * kRowWarps) {
    T* cache = static_cast<T*>(a.cache.p) + row_offset(a.cache.rows, r);
    const T* fresh = static_cast<const T*>(a.fresh.p) + row_offset(a.fresh.rows, r);
    float rn = 0.f, rd = 0.f;
    for (int64_t c = lane; c < C; c += 32) {
      const float x = to_float(cache[c]), f = to_float(fresh[c]), d = x - f;
      rn += l1 ? fabsf(d) : d * d;
      rd += l1 ? fabsf(x) : x * x;
      if (a.update) cache[c] = fresh[c];
    }
    rn = warp_sum(rn);
    rd = warp_sum(rd);
    if (lane == 0) {
      num += rn;
      den += rd;
    }
  }
  num = block_sum(num);
  den = block_sum(den);
  if (threadIdx.x == 0) {
    atomicAdd(&sums[0], num);
    atomicAdd(&sums[1], den);
  }
}

}  // namespace

dc_status distance(const DistanceArgs& a, double* num, double* den) {
  DeviceBuffer sums(2 * sizeof(double));
  DC_TRY(check(cudaMemsetAsync(sums.get(), 0, 2 * sizeof(double), stream()), "distance"));
  DC_TRY(with_float_type(a.cache.dtype, [&](auto tag) {
    using T = decltype(tag);
    distance_kernel<T><<<grid_for(a.cache.rows.count, kRowWarps), kRowThreads, 0, stream()>>>(
        a, sums.as<double>());
    return check_launch("distance kernel");
  }));
  double host[2];
  DC_TRY(check(cudaMemcpyAsync(host, sums.get(), sizeof host, cudaMemcpyDeviceToHost, stream()),
               "reading the distance"));
  DC_TRY(synchronize());
  *num = a.norm == DC_L2 ? std::sqrt(host[0]) : host[0];
  *den = a.norm == DC_L2 ? std::sqrt(host[1]) : host[1];
  return DC_OK;
}

}  // namespace dc::cuda
