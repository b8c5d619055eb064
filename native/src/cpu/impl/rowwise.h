// Row-wise kernels (norms, modulation, activations, linear combinations, softmax, RoPE), written
// as plain loops that each ISA folder compiles with its own vector flags. Included once per ISA
// translation unit inside dc::cpu::DC_ISA_NS; no standard-library templates, so nothing compiled
// for one ISA can be linked into another's path.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/thread_pool.h"
#include "../kernels.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

inline float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

inline float silu(float x) { return x / (1.f + std::exp(-x)); }

inline float activate(dc_activation act, float x) {
  switch (act) {
    case DC_ACT_GELU_TANH: return gelu_tanh(x);
    case DC_ACT_SILU: return silu(x);
    default: return x;
  }
}

// Rows per parallel chunk so that a chunk holds at least ~16K elements.
inline int64_t row_grain(int64_t len) { return len >= 16384 ? 1 : 16384 / (len ? len : 1); }

void norm_kernel(const NormArgs& a) {
  const int64_t C = a.x.rows.len;
  const float* w = static_cast<const float*>(a.weight);
  const float* bias = static_cast<const float*>(a.bias);
  parallel_for(a.x.rows.count, row_grain(C), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* x = static_cast<const float*>(a.x.p) + a.x.rows.offset(r);
      float* o = static_cast<float*>(a.out.p) + a.out.rows.offset(r);
      float mean = 0.f, inv = 0.f;
      if (a.kind == NormArgs::kLayerNorm) {
        float s = 0.f;
        for (int64_t c = 0; c < C; ++c) s += x[c];
        mean = s / float(C);
        float v = 0.f;
        for (int64_t c = 0; c < C; ++c) v += (x[c] - mean) * (x[c] - mean);
        inv = 1.f / std::sqrt(v / float(C) + a.eps);
      } else {
        float s = 0.f;
        for (int64_t c = 0; c < C; ++c) s += x[c] * x[c];
        inv = 1.f / std::sqrt(s / float(C) + a.eps);
      }
      const float* shift = a.shift.p ? a.shift.row<float>(r) : nullptr;
      const float* scale = a.scale.p ? a.scale.row<float>(r) : nullptr;
      for (int64_t c = 0; c < C; ++c) {
        float y = (x[c] - mean) * inv;
        if (w) y *= w[c];
        if (bias) y += bias[c];
        if (shift) y = y * (1.f + scale[c]) + shift[c];
        o[c] = y;
      }
    }
  });
}

void elementwise_kernel(const ElementwiseArgs& a) {
  const int64_t C = a.x.rows.len;
  parallel_for(a.x.rows.count, row_grain(C), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* x = static_cast<const float*>(a.x.p) + a.x.rows.offset(r);
      float* o = static_cast<float*>(a.out.p) + a.out.rows.offset(r);
      const float* y = a.y_grouped.p ? a.y_grouped.row<float>(r)
                       : a.y.p       ? static_cast<const float*>(a.y.p) + a.y.rows.offset(r)
                                     : nullptr;
      switch (a.kind) {
        case ElementwiseArgs::kModulate: {
          const float* shift = a.shift.row<float>(r);
          const float* scale = a.scale.row<float>(r);
          for (int64_t c = 0; c < C; ++c) o[c] = x[c] * (1.f + scale[c]) + shift[c];
          break;
        }
        case ElementwiseArgs::kActivate:
          for (int64_t c = 0; c < C; ++c) o[c] = activate(a.act, x[c]);
          break;
        case ElementwiseArgs::kAxpby:
          for (int64_t c = 0; c < C; ++c) o[c] = a.alpha * x[c] + a.beta * y[c];
          break;
        case ElementwiseArgs::kMul:
          for (int64_t c = 0; c < C; ++c) o[c] = x[c] * y[c];
          break;
        case ElementwiseArgs::kSoftmax: {
          float m = -INFINITY;
          for (int64_t c = 0; c < C; ++c) m = x[c] > m ? x[c] : m;
          float s = 0.f;
          for (int64_t c = 0; c < C; ++c) {
            o[c] = std::exp(x[c] - m);
            s += o[c];
          }
          const float inv = 1.f / s;
          for (int64_t c = 0; c < C; ++c) o[c] *= inv;
          break;
        }
      }
    }
  });
}

void rope_kernel(const RopeArgs& a) {
  const int64_t D = a.x.rows.len, half = D / 2;
  parallel_for(a.x.rows.count, row_grain(D), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* x = static_cast<const float*>(a.x.p) + a.x.rows.offset(r);
      float* o = static_cast<float*>(a.out.p) + a.out.rows.offset(r);
      const float pos = float(a.pos0 + r % a.T);
      for (int64_t i = 0; i < half; ++i) {
        const float ang = pos * a.freqs[i];
        const float c = std::cos(ang), s = std::sin(ang);
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        o[2 * i] = x0 * c - x1 * s;
        o[2 * i + 1] = x1 * c + x0 * s;
      }
    }
  });
}

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
