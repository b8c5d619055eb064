// Device helpers shared by the kernels: storage types <-> float, strided rows and grouped
// parameters, warp reductions, the activations, and the host-side dtype dispatch and grid sizing.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "../core/op_args.h"
#include "runtime.h"

namespace dc::cuda {

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Element offset of row `r` (the device twin of Rows::offset).
__device__ __forceinline__ int64_t row_offset(const Rows& rows, int64_t r) {
  int64_t off = 0;
  for (int i = rows.nd - 1; i >= 0; --i) {
    off += (r % rows.shape[i]) * rows.stride[i];
    r /= rows.shape[i];
  }
  return off;
}

template <class T>
__device__ __forceinline__ const T* group_row(const Grouped& g, int64_t r) {
  return static_cast<const T*>(g.p) + (r / g.rows_per_group) * g.ld;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide double sum for blocks of whole warps (at most 32); the result is valid in thread 0.
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double partial[32];
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? partial[lane] : 0.0;
  if (warp == 0) v = warp_sum(v);
  __syncthreads();
  return v;
}

__device__ __forceinline__ float activate(dc_activation act, float x) {
  switch (act) {
    case DC_ACT_GELU_TANH: {
      const float k = 0.7978845608028654f;  // sqrt(2 / pi)
      return 0.5f * x * (1.f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
    case DC_ACT_SILU: return x / (1.f + expf(-x));
    default: return x;
  }
}

// Row-wise kernels give each row to one warp: lanes stride over the row's elements (coalesced).
constexpr int kRowWarps = 8;
constexpr int kRowThreads = kRowWarps * 32;

// Blocks for a grid-stride loop over `items` with `per_block` items per block per step.
inline unsigned grid_for(int64_t items, int64_t per_block) {
  const int64_t want = (items + per_block - 1) / per_block;
  const int64_t cap = int64_t(sm_count()) * 32;
  return unsigned(want < 1 ? 1 : (want < cap ? want : cap));
}

// Calls fn(T{}) with the storage type of a float dtype.
template <class Fn>
dc_status with_float_type(dc_dtype dtype, Fn&& fn) {
  switch (dtype) {
    case DC_F32: return fn(float{});
    case DC_F16: return fn(__half{});
    case DC_BF16: return fn(__nv_bfloat16{});
    default: return fail(DC_ERR_DTYPE, "CUDA kernels take f32, f16 or bf16, got %s", dc_dtype_name(dtype));
  }
}

}  // namespace dc::cuda
