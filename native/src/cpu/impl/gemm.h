// GEMM with fused epilogue: out = residual + gate * act(A W^T + bias).
#pragma once
#include <cstdint>

#include "../../core/half.h"
#include "../../core/thread_pool.h"
#include "../kernels.h"
#include "rowwise.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

template <bool kBf16Weights>
void gemm_kernel(const GemmArgs& g) {
  const float* A = static_cast<const float*>(g.a);
  const float* bias = static_cast<const float*>(g.bias);
  const float* res = static_cast<const float*>(g.residual);
  float* out = static_cast<float*>(g.out);
  parallel_for(g.M, 4, [&](int64_t mb, int64_t me) {
    for (int64_t m = mb; m < me; ++m) {
      const float* a = A + m * g.lda;
      const float* gate = g.gate.p ? g.gate.row<float>(m) : nullptr;
      for (int64_t n = 0; n < g.N; ++n) {
        float acc = 0.f;
        if (kBf16Weights) {
          const uint16_t* w = static_cast<const uint16_t*>(g.w) + n * g.ldw;
          for (int64_t k = 0; k < g.K; ++k) acc += a[k] * bf16_to_float(w[k]);
        } else {
          const float* w = static_cast<const float*>(g.w) + n * g.ldw;
          for (int64_t k = 0; k < g.K; ++k) acc += a[k] * w[k];
        }
        if (bias) acc += bias[n];
        acc = activate(g.act, acc);
        if (gate) acc *= gate[n];
        if (res) acc += res[m * g.ldr + n];
        out[m * g.ldo + n] = acc;
      }
    }
  });
}

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
