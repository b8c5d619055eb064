// Row-wise kernels: norms, modulation, activations, linear combinations, softmax and RoPE, in the
// float vectors of vec_math.h. Every row is read from memory once and written once: the later
// passes of a norm (mean, moments, output) or a softmax (max, exponentials, scaling) find the row
// in L1. Included by each ISA's rowwise.cpp only.
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

// Rows per parallel chunk so that a chunk holds at least ~16K elements.
inline int64_t row_grain(int64_t len) { return len >= 16384 ? 1 : 16384 / (len ? len : 1); }

struct Moments {
  float sum, sum_sq;
};

// Sums of d and d² over a row, d = x - k, in one pass.
inline Moments shifted_moments(const float* x, int64_t C, float k) {
  const vf vk = vset(k);
  vf s0 = vset(0.f), s1 = vset(0.f), q0 = vset(0.f), q1 = vset(0.f);
  int64_t c = 0;
  for (; c + 2 * kLanes <= C; c += 2 * kLanes) {
    const vf d0 = vsub(vload(x + c), vk), d1 = vsub(vload(x + c + kLanes), vk);
    s0 = vadd(s0, d0);
    s1 = vadd(s1, d1);
    q0 = vfma(d0, d0, q0);
    q1 = vfma(d1, d1, q1);
  }
  if (c + kLanes <= C) {
    const vf d = vsub(vload(x + c), vk);
    s0 = vadd(s0, d);
    q0 = vfma(d, d, q0);
    c += kLanes;
  }
  if (c < C) {
    const vf d = vsub(vload_part(x + c, C - c, k), vk);  // lanes past the end: d = 0
    s1 = vadd(s1, d);
    q1 = vfma(d, d, q1);
  }
  return {vsum(vadd(s0, s1)), vsum(vadd(q0, q1))};
}

template <bool kWeight, bool kBias, bool kModulate>
void norm_rows(const NormArgs& a, int64_t begin, int64_t end) {
  const int64_t C = a.x.rows.len;
  const float inv_c = 1.f / float(C);
  const bool centre = a.kind == NormArgs::kLayerNorm;
  const float* w = static_cast<const float*>(a.weight);
  const float* b = static_cast<const float*>(a.bias);
  const float* x0 = static_cast<const float*>(a.x.p);
  float* o0 = static_cast<float*>(a.out.p);
  RowWalk xw(a.x.rows, begin), ow(a.out.rows, begin);
  RowPrefetch xp(a.x.rows, begin, end, x0);
  GroupWalk shift(a.shift, begin), scale(a.scale, begin);
  for (int64_t r = begin; r < end; ++r) {
    xp.next();
    const float* x = x0 + xw.off;
    // LayerNorm: the corrected two-pass scheme. k, the float mean, is off by rounding (much of it
    // when |mean| >> std); the moments about k give the correction d and a variance without
    // cancellation, and the output is centred by x - k - d without forming k + d.
    const float k = centre ? shifted_moments(x, C, 0.f).sum * inv_c : 0.f;
    const Moments m = shifted_moments(x, C, k);
    const float d = centre ? m.sum * inv_c : 0.f, var = m.sum_sq * inv_c - d * d;
    const vf vk = vset(k), vd = vset(d), inv = vset(1.f / std::sqrt((var > 0.f ? var : 0.f) + a.eps));
    map_row(o0 + ow.off, C, [&](auto at) {
      vf y = vmul(vsub(vsub(at.load(x), vk), vd), inv);
      if constexpr (kWeight) y = vmul(y, at.load(w));
      if constexpr (kBias) y = vadd(y, at.load(b));
      if constexpr (kModulate) y = vfma(y, vadd(vset(1.f), at.load(scale.p)), at.load(shift.p));
      return y;
    });
    xw.next();
    ow.next();
    shift.next();
    scale.next();
  }
}

using NormRows = void (*)(const NormArgs&, int64_t, int64_t);

NormRows norm_variant(const NormArgs& a) {
  static constexpr NormRows variants[8] = {
      norm_rows<false, false, false>, norm_rows<true, false, false>,
      norm_rows<false, true, false>,  norm_rows<true, true, false>,
      norm_rows<false, false, true>,  norm_rows<true, false, true>,
      norm_rows<false, true, true>,   norm_rows<true, true, true>,
  };
  return variants[(a.weight ? 1 : 0) | (a.bias ? 2 : 0) | (a.shift.p && a.scale.p ? 4 : 0)];
}

// Calls row(x, out, y, shift, scale) for every row, in parallel; y is the row of the same-shape
// or grouped second operand (nullptr when there is none), shift/scale the grouped rows.
template <class RowFn>
void each_row(const ElementwiseArgs& a, RowFn&& row) {
  const float* x0 = static_cast<const float*>(a.x.p);
  const float* y0 = static_cast<const float*>(a.y.p);
  float* o0 = static_cast<float*>(a.out.p);
  parallel_for(a.x.rows.count, row_grain(a.x.rows.len), [&](int64_t begin, int64_t end) {
    RowWalk xw(a.x.rows, begin), ow(a.out.rows, begin), yw(a.y.rows, begin);
    RowPrefetch xp(a.x.rows, begin, end, x0);
    GroupWalk yg(a.y_grouped, begin), shift(a.shift, begin), scale(a.scale, begin);
    for (int64_t r = begin; r < end; ++r) {
      xp.next();
      const float* y = yg.p ? yg.p : y0 ? y0 + yw.off : nullptr;
      row(x0 + xw.off, o0 + ow.off, y, shift.p, scale.p);
      xw.next();
      ow.next();
      yw.next();
      yg.next();
      shift.next();
      scale.next();
    }
  });
}

void softmax_row(const float* x, float* o, int64_t C) {
  const vf m = vset(max_row(x, C));
  vf s = vset(0.f);
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes) {
    const vf e = vexp(vsub(vload(x + c), m));
    vstore(o + c, e);
    s = vadd(s, e);
  }
  if (c < C) {
    const vf e = vexp(vsub(vload_part(x + c, C - c), m));
    vstore_part(o + c, e, C - c);
    s = vadd(s, vlanes(e, C - c, 0.f));
  }
  const vf inv = vset(1.f / vsum(s));
  map_row(o, C, [&](auto at) { return vmul(at.load(o), inv); });
}

}  // namespace

void norm_kernel(const NormArgs& a) {
  const NormRows rows = norm_variant(a);
  parallel_for(a.x.rows.count, row_grain(a.x.rows.len),
               [&](int64_t begin, int64_t end) { rows(a, begin, end); });
}

void elementwise_kernel(const ElementwiseArgs& a) {
  const int64_t C = a.x.rows.len;
  using F = const float*;
  switch (a.kind) {
    case ElementwiseArgs::kModulate:
      each_row(a, [&](F x, float* o, F, F shift, F scale) {
        map_row(o, C, [&](auto at) {
          return vfma(at.load(x), vadd(vset(1.f), at.load(scale)), at.load(shift));
        });
      });
      break;
    case ElementwiseArgs::kActivate:
      each_row(a, [&](F x, float* o, F, F, F) {
        switch (a.act) {
          case DC_ACT_GELU_TANH: map_row(o, C, [&](auto at) { return vgelu_tanh(at.load(x)); }); break;
          case DC_ACT_SILU: map_row(o, C, [&](auto at) { return vsilu(at.load(x)); }); break;
          default: map_row(o, C, [&](auto at) { return at.load(x); }); break;
        }
      });
      break;
    case ElementwiseArgs::kAxpby: {
      const vf alpha = vset(a.alpha), beta = vset(a.beta);
      each_row(a, [&](F x, float* o, F y, F, F) {
        map_row(o, C, [&](auto at) { return vfma(alpha, at.load(x), vmul(beta, at.load(y))); });
      });
      break;
    }
    case ElementwiseArgs::kMul:
      each_row(a, [&](F x, float* o, F y, F, F) {
        map_row(o, C, [&](auto at) { return vmul(at.load(x), at.load(y)); });
      });
      break;
    case ElementwiseArgs::kSoftmax:
      each_row(a, [&](F x, float* o, F, F, F) { softmax_row(x, o, C); });
      break;
  }
}

// RoPE: the angles depend only on the position, so (cos, sin) pairs are tabulated once per
// position (a T x D table) and shared by every row at that position.
// A [.., H, T, D] view of [.., T, H, D] storage (q or k inside a packed qkv) would jump a whole
// token from one row to the next; such views are walked with H inside T instead, reading each
// token's heads in address order. `out` follows the same order, re-expressed with x's row dims.
void rope_kernel(const RopeArgs& a) {
  const int64_t D = a.x.rows.len, T = a.T;
  Scratch<float> table(T * D);
  parallel_for(T, 1 + 4096 / D, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float pos = float(a.pos0 + t);
      float* cs = &table[t * D];
      for (int64_t i = 0; i < D / 2; ++i) {
        const float angle = pos * a.freqs[i];
        cs[2 * i] = std::cos(angle);
        cs[2 * i + 1] = std::sin(angle);
      }
    }
  });
  Rows xr = a.x.rows, orows;
  const int nd = xr.nd;
  const bool heads_inside = nd >= 2 && T > 1 && xr.shape[nd - 1] == T &&
                            xr.stride[nd - 1] > xr.stride[nd - 2] && rows_like(a.out.rows, xr, &orows);
  if (heads_inside) {
    swap_inner_dims(xr);
    swap_inner_dims(orows);
  } else {
    orows = a.out.rows;
  }
  const float* x0 = static_cast<const float*>(a.x.p);
  float* o0 = static_cast<float*>(a.out.p);
  parallel_for(xr.count, row_grain(D), [&](int64_t begin, int64_t end) {
    RowWalk xw(xr, begin), ow(orows, begin);
    RowPrefetch xp(xr, begin, end, x0);
    int64_t t = begin % T;
    for (int64_t r = begin; r < end; ++r) {
      xp.next();
      const float* x = x0 + xw.off;
      const float* cs = &table[(heads_inside ? xw.idx[nd - 2] : t) * D];
      map_row(o0 + ow.off, D, [&](auto at) { return vrotate_pairs(at.load(x), at.load(cs)); });
      xw.next();
      ow.next();
      if (++t == T) t = 0;
    }
  });
}

}  // namespace dc::cpu::DC_ISA_NS
