// Attention for what the tensor-core kernels do not take (other head dims, unaligned rows): one
// warp per query row, fp32 arithmetic in the CPU kernel's order. Lane l holds the dimension pairs
// (2p, 2p+1) for p = l, l + 32, l + 64, l + 96, so a rotary pair never straddles two lanes.
#include "attention_common.cuh"
#include "attention_kernels.h"

namespace dc::cuda {

namespace {

constexpr int kPairsPerLane = 4;  // 256 dims / 32 lanes / 2
constexpr int kWarps = 4;

__device__ __forceinline__ void load_pairs(const char* row, int64_t D, dc_dtype dt,
                                           float (&x)[2 * kPairsPerLane]) {
  const int lane = threadIdx.x % 32;
  for (int k = 0; k < kPairsPerLane; ++k) {
    const int d = 2 * (lane + 32 * k);
    x[2 * k] = d < D ? attn::load_element(row, d, dt) : 0.f;
    x[2 * k + 1] = d + 1 < D ? attn::load_element(row, d + 1, dt) : 0.f;
  }
}

__device__ __forceinline__ void rotate_pairs(float (&x)[2 * kPairsPerLane], int64_t D,
                                             const float* freqs, int64_t pos) {
  const int lane = threadIdx.x % 32;
  for (int k = 0; k < kPairsPerLane; ++k) {
    const int p = lane + 32 * k;
    if (2 * p < D) attn::rotate(x[2 * k], x[2 * k + 1], float(pos), freqs[p]);
  }
}

__global__ void __launch_bounds__(kWarps * 32) attention_simt_kernel(AttentionArgs a) {
  const int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= a.B * a.H * a.Nq) return;
  const int64_t b = row / (a.H * a.Nq), h = (row / a.Nq) % a.H, i = row % a.Nq;
  const int64_t total = a.p_len + a.Nk, shift = total - a.Nq;
  const int esize = attn::element_size(a.dtype);

  float q[2 * kPairsPerLane], acc[2 * kPairsPerLane] = {};
  load_pairs(attn::slice_row(a.q, a.q_stride, b, h, i, esize), a.D, a.dtype, q);
  if (a.rope_freqs) rotate_pairs(q, a.D, a.rope_freqs, a.q_pos0 + i);

  float m = -INFINITY, l = 0.f;
  const int64_t last = a.causal ? min(i + shift, total - 1) : total - 1;
  for (int64_t j = 0; j <= last; ++j) {
    if (a.mask && !attn::mask_visible(a, b, j)) continue;
    float k[2 * kPairsPerLane];
    load_pairs(attn::key_row(a, b, h, j, false), a.D, a.dtype, k);
    if (a.rope_freqs) rotate_pairs(k, a.D, a.rope_freqs, a.k_pos0 + j);
    float dot = 0.f;
    for (int e = 0; e < 2 * kPairsPerLane; ++e) dot += q[e] * k[e];
    const float s = warp_sum(dot) * a.scale;
    const float m_new = fmaxf(s, m);
    const float corr = expf(m - m_new), p = expf(s - m_new);
    l = l * corr + p;
    float v[2 * kPairsPerLane];
    load_pairs(attn::key_row(a, b, h, j, true), a.D, a.dtype, v);
    for (int e = 0; e < 2 * kPairsPerLane; ++e) acc[e] = acc[e] * corr + p * v[e];
    m = m_new;
  }

  const float inv = l > 0.f ? 1.f / l : 0.f;
  char* out = const_cast<char*>(attn::slice_row(a.out, a.o_stride, b, h, i, esize));
  const int lane = threadIdx.x % 32;
  for (int k = 0; k < kPairsPerLane; ++k) {
    const int d = 2 * (lane + 32 * k);
    for (int e = 0; e < 2; ++e) {
      if (d + e >= a.D) break;
      const float y = acc[2 * k + e] * inv;
      switch (a.dtype) {
        case DC_F16: reinterpret_cast<__half*>(out)[d + e] = __float2half_rn(y); break;
        case DC_BF16: reinterpret_cast<__nv_bfloat16*>(out)[d + e] = __float2bfloat16_rn(y); break;
        default: reinterpret_cast<float*>(out)[d + e] = y;
      }
    }
  }
}

}  // namespace

dc_status attention_simt(const AttentionArgs& a) {
  const int64_t blocks = (a.B * a.H * a.Nq + kWarps - 1) / kWarps;
  if (blocks > 0x7fffffff) return fail(DC_ERR_RANGE, "attention grid of %lld blocks is too large", (long long)blocks);
  attention_simt_kernel<<<unsigned(blocks), kWarps * 32, 0, stream()>>>(a);
  return check_launch("attention kernel (SIMT)");
}

}  // namespace dc::cuda
