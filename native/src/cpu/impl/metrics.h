// Residual metrics in one pass over the data. Sums are float vectors over at most 16 steps, then
// double (accumulate in row_loop.h); the work is cut into a number of chunks that depends on the shape only, and the chunk
// sums are added in order, so a result does not depend on the thread count. Each tensor is F32 or
// BF16 (widened exactly; a BF16 cache refreshed from F32 is rounded once). Included by each ISA's
// rowwise.cpp only.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/thread_pool.h"
#include "../kernels.h"
#include "row_loop.h"
#include "row_walk.h"
#include "rowwise_entry.h"
#include "scratch.h"
#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

constexpr int64_t kMaxChunks = 256;

// Adds sum |c - f| and sum |c| (L1) or their squares (L2) of one row into sums[0], sums[1];
// with `update`, c <- f in the same pass.
template <bool kL2, class Cache, class Fresh>
void distance_row(Cache* c, const Fresh* f, int64_t C, bool update, VecSumD (&sums)[2]) {
  accumulate<2>(C, sums, [&](auto at, vf* part) {
    const vf cv = at.load(c), fv = at.load(f), d = vsub(cv, fv);
    if constexpr (kL2) {
      part[0] = vfma(d, d, part[0]);
      part[1] = vfma(cv, cv, part[1]);
    } else {
      part[0] = vadd(part[0], vabs(d));
      part[1] = vadd(part[1], vabs(cv));
    }
    if (update) at.store(c, fv);
  });
}

template <class R>
double abs_sum(const R* x, int64_t n) {
  VecSumD s[1];
  accumulate<1>(n, s, [&](auto at, vf* part) { part[0] = vadd(part[0], vabs(at.load(x))); });
  return s[0].total();
}

template <class R>
double abs_diff_sum(const R* x0, const R* x1, int64_t n) {
  VecSumD s[1];
  accumulate<1>(n, s, [&](auto at, vf* part) {
    part[0] = vadd(part[0], vabs(vsub(at.load(x1), at.load(x0))));
  });
  return s[0].total();
}

// Elements of each frame per motion work item: the item's blocks of all T frames (about 16 KiB)
// stay in L1 while every frame stride is evaluated on them, so the tensor is read from memory once.
int64_t motion_block(int64_t T) {
  const int64_t b = (4096 / T) / 16 * 16;
  return b < 64 ? 64 : b > 1024 ? 1024 : b;
}

template <class Cache, class Fresh>
void distance_rows(const DistanceArgs& a, double* num, double* den) {
  const int64_t C = a.cache.rows.len, rows = a.cache.rows.count;
  const int64_t chunks = rows < kMaxChunks ? rows : kMaxChunks;
  double part_num[kMaxChunks] = {}, part_den[kMaxChunks] = {};
  const bool l2 = a.norm == DC_L2;
  Cache* c0 = static_cast<Cache*>(a.cache.p);
  const Fresh* f0 = static_cast<const Fresh*>(a.fresh.p);
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      const int64_t r0 = rows * ch / chunks, r1 = rows * (ch + 1) / chunks;
      RowWalk cw(a.cache.rows, r0), fw(a.fresh.rows, r0);
      VecSumD sums[2];
      for (int64_t r = r0; r < r1; ++r) {
        if (l2)
          distance_row<true>(c0 + cw.off, f0 + fw.off, C, a.update, sums);
        else
          distance_row<false>(c0 + cw.off, f0 + fw.off, C, a.update, sums);
        cw.next();
        fw.next();
      }
      part_num[ch] = sums[0].total();
      part_den[ch] = sums[1].total();
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

// Items are (sample, block of the frame's elements); each item adds, for every stride s,
// sum |x[f+s] - x[f]| to num and each frame's sum |x[f]| to den once per pair it belongs to.
template <class R>
void motion_rows(const MotionArgs& a, double* num, double* den) {
  const R* r = static_cast<const R*>(a.r);
  const int64_t frame = a.S * a.C, T = a.T, ns = a.n_strides, block = motion_block(T);
  const int64_t blocks = (frame + block - 1) / block, items = a.B * blocks;
  const int64_t chunks = items < kMaxChunks ? items : kMaxChunks;
  Scratch<double> part(chunks * 2 * ns);  // per chunk: num[ns], den[ns]
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ++ch) {
      double* pn = &part[ch * 2 * ns];
      double* pd = pn + ns;
      for (int64_t item = items * ch / chunks; item < items * (ch + 1) / chunks; ++item) {
        const int64_t b = item / blocks, j0 = (item % blocks) * block;
        const int64_t n = frame - j0 < block ? frame - j0 : block;
        const R* x = r + b * T * frame + j0;
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

}  // namespace

void distance_kernel(const DistanceArgs& a, double* num, double* den) {
  with_element(a.cache.dtype, [&](auto ct) {
    with_element(a.fresh.dtype, [&](auto ft) { distance_rows<decltype(ct), decltype(ft)>(a, num, den); });
  });
}

void motion_kernel(const MotionArgs& a, double* num, double* den) {
  with_element(a.dtype, [&](auto rt) { motion_rows<decltype(rt)>(a, num, den); });
}

}  // namespace dc::cpu::DC_ISA_NS
