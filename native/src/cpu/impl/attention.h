// Fused attention with online softmax over [prefix ring ; current] keys.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/thread_pool.h"
#include "../kernels.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

inline bool mask_visible(const AttentionArgs& a, int64_t b, int64_t j) {
  const int64_t i = b * a.mask_stride_b + j * a.mask_stride_j;
  switch (a.mask_dtype) {
    case DC_U8: return static_cast<const uint8_t*>(a.mask)[i] != 0;
    case DC_I32: return static_cast<const int32_t*>(a.mask)[i] != 0;
    case DC_I64: return static_cast<const int64_t*>(a.mask)[i] != 0;
    case DC_F32: return static_cast<const float*>(a.mask)[i] != 0.f;
    default: return true;
  }
}

inline void rope_row(const float* x, float* o, int64_t D, const float* freqs, int64_t pos) {
  for (int64_t i = 0; i < D / 2; ++i) {
    const float ang = float(pos) * freqs[i];
    const float c = std::cos(ang), s = std::sin(ang);
    o[2 * i] = x[2 * i] * c - x[2 * i + 1] * s;
    o[2 * i + 1] = x[2 * i + 1] * c + x[2 * i] * s;
  }
}

void attention_kernel(const AttentionArgs& a) {
  const int64_t D = a.D, total = a.p_len + a.Nk, shift = total - a.Nq;
  parallel_for(a.B * a.H * a.Nq, 16, [&](int64_t begin, int64_t end) {
    float qbuf[256], kbuf[256], acc[256];
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / (a.H * a.Nq), h = (idx / a.Nq) % a.H, i = idx % a.Nq;
      const float* q = static_cast<const float*>(a.q) + b * a.q_stride[0] + h * a.q_stride[1] +
                       i * a.q_stride[2];
      if (a.rope_freqs) {
        rope_row(q, qbuf, D, a.rope_freqs, a.q_pos0 + i);
        q = qbuf;
      }
      float m = -INFINITY, l = 0.f;
      for (int64_t d = 0; d < D; ++d) acc[d] = 0.f;
      const int64_t last = a.causal ? i + shift : total - 1;
      for (int64_t j = 0; j <= last && j < total; ++j) {
        if (a.mask && !mask_visible(a, b, j)) continue;
        const float *k, *v;
        if (j < a.p_len) {
          const int64_t slot = (a.p_start + j) % a.p_cap;
          k = static_cast<const float*>(a.pk) + b * a.pk_stride[0] + h * a.pk_stride[1] +
              slot * a.pk_stride[2];
          v = static_cast<const float*>(a.pv) + b * a.pv_stride[0] + h * a.pv_stride[1] +
              slot * a.pv_stride[2];
        } else {
          const int64_t jj = j - a.p_len;
          k = static_cast<const float*>(a.k) + b * a.k_stride[0] + h * a.k_stride[1] +
              jj * a.k_stride[2];
          v = static_cast<const float*>(a.v) + b * a.v_stride[0] + h * a.v_stride[1] +
              jj * a.v_stride[2];
        }
        if (a.rope_freqs) {
          rope_row(k, kbuf, D, a.rope_freqs, a.k_pos0 + j);
          k = kbuf;
        }
        float s = 0.f;
        for (int64_t d = 0; d < D; ++d) s += q[d] * k[d];
        s *= a.scale;
        const float m_new = s > m ? s : m;
        const float corr = std::exp(m - m_new), p = std::exp(s - m_new);
        l = l * corr + p;
        for (int64_t d = 0; d < D; ++d) acc[d] = acc[d] * corr + p * v[d];
        m = m_new;
      }
      float* o = static_cast<float*>(a.out) + b * a.o_stride[0] + h * a.o_stride[1] +
                 i * a.o_stride[2];
      const float inv = l > 0.f ? 1.f / l : 0.f;
      for (int64_t d = 0; d < D; ++d) o[d] = acc[d] * inv;
    }
  });
}

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
