// Residual metrics: one pass over the data, partial sums per chunk in double.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/thread_pool.h"
#include "../kernels.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

constexpr int kMaxChunks = 256;

void distance_kernel(const DistanceArgs& a, double* num, double* den) {
  const int64_t C = a.cache.rows.len, rows = a.cache.rows.count;
  const int64_t chunks = rows < kMaxChunks ? rows : kMaxChunks;
  double part_num[kMaxChunks] = {}, part_den[kMaxChunks] = {};
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      double sn = 0, sd = 0;
      for (int64_t r = rows * ch / chunks; r < rows * (ch + 1) / chunks; ++r) {
        float* c = static_cast<float*>(a.cache.p) + a.cache.rows.offset(r);
        const float* f = static_cast<const float*>(a.fresh.p) + a.fresh.rows.offset(r);
        float rn = 0.f, rd = 0.f;
        if (a.norm == DC_L1) {
          for (int64_t i = 0; i < C; ++i) {
            rn += std::fabs(c[i] - f[i]);
            rd += std::fabs(c[i]);
          }
        } else {
          for (int64_t i = 0; i < C; ++i) {
            const float d = c[i] - f[i];
            rn += d * d;
            rd += c[i] * c[i];
          }
        }
        if (a.update)
          for (int64_t i = 0; i < C; ++i) c[i] = f[i];
        sn += rn;
        sd += rd;
      }
      part_num[ch] = sn;
      part_den[ch] = sd;
    }
  });
  double n = 0, d = 0;
  for (int64_t ch = 0; ch < chunks; ++ch) {
    n += part_num[ch];
    d += part_den[ch];
  }
  if (a.norm == DC_L2) {
    n = std::sqrt(n);
    d = std::sqrt(d);
  }
  *num = n;
  *den = d;
}

void motion_kernel(const MotionArgs& a, double* num, double* den) {
  const float* r = static_cast<const float*>(a.r);
  const int64_t frame = a.S * a.C;
  for (int si = 0; si < a.n_strides; ++si) {
    const int64_t s = a.strides[si];
    const int64_t pairs = a.B * (a.T - s);  // (b, f) with f + s < T
    const int64_t chunks = pairs < kMaxChunks ? pairs : kMaxChunks;
    double pn[kMaxChunks] = {}, pd[kMaxChunks] = {};
    parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t ch = cb; ch < ce; ++ch) {
        double sn = 0, sd = 0;
        for (int64_t p = pairs * ch / chunks; p < pairs * (ch + 1) / chunks; ++p) {
          const int64_t b = p / (a.T - s), f = p % (a.T - s);
          const float* x0 = r + (b * a.T + f) * frame;
          const float* x1 = x0 + s * frame;
          float n = 0.f, d = 0.f;
          for (int64_t i = 0; i < frame; ++i) {
            n += std::fabs(x1[i] - x0[i]);
            d += std::fabs(x1[i]) + std::fabs(x0[i]);
          }
          sn += n;
          sd += d;
        }
        pn[ch] = sn;
        pd[ch] = sd;
      }
    });
    for (int64_t ch = 0; ch < chunks; ++ch) {
      num[si] += pn[ch];
      den[si] += pd[ch];
    }
  }
}

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
