// Residual metrics in one pass over the data. Sums are float vectors over at most 16 steps, then
// double; the work is cut into a number of chunks that depends on the shape only, and the chunk
// sums are added in order, so a result does not depend on the thread count. Included by each ISA's
// rowwise.cpp only.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/thread_pool.h"
#include "../kernels.h"
#include "row_walk.h"
#include "rowwise_entry.h"
#include "scratch.h"
#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

constexpr int64_t kMaxChunks = 256;

// A sum of float vectors, carried in double every 16 additions.
struct BlockSum {
  VecSumD total;
  vf part = vset(0.f);
  int steps = 0;

  void add(vf v) {
    part = vadd(part, v);
    if (++steps == 16) flush();
  }
  void flush() {
    total.add(part);
    part = vset(0.f);
    steps = 0;
  }
  double value() {
    flush();
    return total.total();
  }
};

template <bool kL2>
void distance_row(float* c, const float* f, int64_t C, bool update, BlockSum& num, BlockSum& den) {
  const auto step = [&](vf cv, vf fv) {
    const vf d = vsub(cv, fv);
    if constexpr (kL2) {
      num.add(vmul(d, d));
      den.add(vmul(cv, cv));
    } else {
      num.add(vabs(d));
      den.add(vabs(cv));
    }
  };
  int64_t i = 0;
  for (; i + kLanes <= C; i += kLanes) {
    const vf fv = vload(f + i);
    step(vload(c + i), fv);
    if (update) vstore(c + i, fv);
  }
  if (i < C) {
    const vf fv = vload_part(f + i, C - i);
    step(vload_part(c + i, C - i), fv);
    if (update) vstore_part(c + i, fv, C - i);
  }
}

// Sum of |x| over n elements.
double abs_sum(const float* x, int64_t n) {
  BlockSum s;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) s.add(vabs(vload(x + i)));
  if (i < n) s.add(vabs(vload_part(x + i, n - i)));
  return s.value();
}

// Sum of |x1 - x0| over n elements.
double abs_diff_sum(const float* x0, const float* x1, int64_t n) {
  BlockSum s;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) s.add(vabs(vsub(vload(x1 + i), vload(x0 + i))));
  if (i < n) s.add(vabs(vsub(vload_part(x1 + i, n - i), vload_part(x0 + i, n - i))));
  return s.value();
}

// Elements of a frame per motion work item: the item's block of every frame (T x 2 KiB) stays in
// cache while all frame strides are evaluated on it, so the tensor is read from memory once.
constexpr int64_t kMotionBlock = 512;

}  // namespace

void distance_kernel(const DistanceArgs& a, double* num, double* den) {
  const int64_t C = a.cache.rows.len, rows = a.cache.rows.count;
  const int64_t chunks = rows < kMaxChunks ? rows : kMaxChunks;
  double part_num[kMaxChunks] = {}, part_den[kMaxChunks] = {};
  const bool l2 = a.norm == DC_L2;
  float* c0 = static_cast<float*>(a.cache.p);
  const float* f0 = static_cast<const float*>(a.fresh.p);
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      const int64_t r0 = rows * ch / chunks, r1 = rows * (ch + 1) / chunks;
      RowWalk cw(a.cache.rows, r0), fw(a.fresh.rows, r0);
      BlockSum sn, sd;
      for (int64_t r = r0; r < r1; ++r) {
        if (l2)
          distance_row<true>(c0 + cw.off, f0 + fw.off, C, a.update, sn, sd);
        else
          distance_row<false>(c0 + cw.off, f0 + fw.off, C, a.update, sn, sd);
        cw.next();
        fw.next();
      }
      part_num[ch] = sn.value();
      part_den[ch] = sd.value();
    }
  });
  double n = 0, d = 0;
  for (int64_t ch = 0; ch < chunks; ++ch) {
    n += part_num[ch];
    d += part_den[ch];
  }
  *num = l2 ? std::sqrt(n) : n;
  *den = l2 ? std::sqrt(d) : d;
}

// Items are (sample, block of kMotionBlock elements of a frame); each item adds, for every stride
// s, sum |x[f+s] - x[f]| to num and each frame's sum |x[f]| to den once per pair it belongs to.
void motion_kernel(const MotionArgs& a, double* num, double* den) {
  const float* r = static_cast<const float*>(a.r);
  const int64_t frame = a.S * a.C, T = a.T, ns = a.n_strides;
  const int64_t blocks = (frame + kMotionBlock - 1) / kMotionBlock, items = a.B * blocks;
  const int64_t chunks = items < kMaxChunks ? items : kMaxChunks;
  Scratch<double> part(chunks * 2 * ns);  // per chunk: num[ns], den[ns]
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      double* pn = &part[ch * 2 * ns];
      double* pd = pn + ns;
      for (int64_t item = items * ch / chunks; item < items * (ch + 1) / chunks; ++item) {
        const int64_t b = item / blocks, j0 = (item % blocks) * kMotionBlock;
        const int64_t n = frame - j0 < kMotionBlock ? frame - j0 : kMotionBlock;
        const float* x = r + b * T * frame + j0;
        for (int64_t f = 0; f < T; ++f) {
          const double af = abs_sum(x + f * frame, n);
          for (int64_t i = 0; i < ns; ++i) {
            const int64_t s = a.strides[i];
            if (f + s < T) pd[i] += af;
            if (f >= s) pd[i] += af;
          }
        }
        for (int64_t i = 0; i < ns; ++i) {
          const int64_t s = a.strides[i];
          for (int64_t f = 0; f + s < T; ++f)
            pn[i] += abs_diff_sum(x + f * frame, x + (f + s) * frame, n);
        }
      }
    }
  });
  for (int64_t ch = 0; ch < chunks; ++ch) {
    for (int64_t i = 0; i < ns; ++i) {
      num[i] += part[ch * 2 * ns + i];
      den[i] += part[ch * 2 * ns + ns + i];
    }
  }
}

}  // namespace dc::cpu::DC_ISA_NS
