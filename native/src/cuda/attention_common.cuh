// What both attention kernels read the same way: the key mask, the source row of key j over
// [prefix ring ; current keys], elements of the runtime storage dtype, and the rotary embedding
// (as the CPU kernel: angle = float(pos) * freqs[i] on interleaved pairs).
#pragma once
#include "device_util.cuh"

namespace dc::cuda::attn {

__device__ __forceinline__ int element_size(dc_dtype dt) { return dt == DC_F32 ? 4 : 2; }

__device__ __forceinline__ bool mask_visible(const AttentionArgs& a, int64_t b, int64_t j) {
  const int64_t i = b * a.mask_stride_b + j * a.mask_stride_j;
  switch (a.mask_dtype) {
    case DC_U8: return static_cast<const uint8_t*>(a.mask)[i] != 0;
    case DC_I32: return static_cast<const int32_t*>(a.mask)[i] != 0;
    case DC_I64: return static_cast<const int64_t*>(a.mask)[i] != 0;
    case DC_F32: return static_cast<const float*>(a.mask)[i] != 0.f;
    default: return true;
  }
}

__device__ __forceinline__ const char* slice_row(const void* base, const int64_t* stride, int64_t b,
                                                 int64_t h, int64_t n, int esize) {
  return static_cast<const char*>(base) + (b * stride[0] + h * stride[1] + n * stride[2]) * esize;
}

// Row of key j (0 <= j < p_len + Nk) of K (value = false) or V (value = true).
__device__ __forceinline__ const char* key_row(const AttentionArgs& a, int64_t b, int64_t h,
                                               int64_t j, bool value) {
  const int esize = element_size(a.dtype);
  if (j < a.p_len) {
    int64_t slot = a.p_start + j;  // p_start < p_cap and j < p_len <= p_cap
    if (slot >= a.p_cap) slot -= a.p_cap;
    return value ? slice_row(a.pv, a.pv_stride, b, h, slot, esize)
                 : slice_row(a.pk, a.pk_stride, b, h, slot, esize);
  }
  return value ? slice_row(a.v, a.v_stride, b, h, j - a.p_len, esize)
               : slice_row(a.k, a.k_stride, b, h, j - a.p_len, esize);
}

__device__ __forceinline__ float load_element(const char* row, int i, dc_dtype dt) {
  switch (dt) {
    case DC_F16: return __half2float(reinterpret_cast<const __half*>(row)[i]);
    case DC_BF16: return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(row)[i]);
    default: return reinterpret_cast<const float*>(row)[i];
  }
}

// Two adjacent elements (i even; the row is aligned to two elements).
__device__ __forceinline__ void store_pair(char* row, int i, float x, float y, dc_dtype dt) {
  switch (dt) {
    case DC_F16:
      *reinterpret_cast<__half2*>(reinterpret_cast<__half*>(row) + i) = __floats2half2_rn(x, y);
      break;
    case DC_BF16:
      *reinterpret_cast<__nv_bfloat162*>(reinterpret_cast<__nv_bfloat16*>(row) + i) =
          __floats2bfloat162_rn(x, y);
      break;
    default: *reinterpret_cast<float2*>(reinterpret_cast<float*>(row) + i) = make_float2(x, y);
  }
}

// Rotates the pair (x0, x1) = dims (2i, 2i+1) at position `pos` with frequency `freq`.
__device__ __forceinline__ void rotate(float& x0, float& x1, float pos, float freq) {
  float s, c;
  sincosf(pos * freq, &s, &c);
  const float r0 = x0 * c - x1 * s, r1 = x1 * c + x0 * s;
  x0 = r0;
  x1 = r1;
}

}  // namespace dc::cuda::attn
