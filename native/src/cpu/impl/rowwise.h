// Row-wise kernels: norms, modulation, activations, linear combinations, softmax and RoPE, in the
// float vectors of vec_math.h. Every row is read from memory once and written once: the later
// passes of a norm (mean, moments, output) or a softmax (max, exponentials, scaling) find the row
// in L1. x and out are F32 or BF16 each (row_loop.h), with fp32 arithmetic in between; the other
// float operands are read as fp32 (BF16 ones widened once per call). Included by each ISA's
// rowwise.cpp only.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

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

// A grouped [G, C] parameter as the fp32 rows the row loops read: an F32 one in place, a BF16 one
// widened once per call into scratch, so that the loops are instantiated only for the element
// types of x and out. A [C] vector is one group (ld 0).
class F32Grouped {
 public:
  F32Grouped(const Grouped& g, int64_t rows, int64_t C)
      : g_(g), groups_(!g.p || g.dtype != DC_BF16 ? 0 : g.ld == 0 ? 1 : rows / g.rows_per_group),
        data_(groups_ * C) {
    if (groups_ == 0) return;
    const bf16_t* src = static_cast<const bf16_t*>(g.p);
    float* dst = data_.p;
    parallel_for(groups_, row_grain(C), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const bf16_t* row = src + i * g.ld;
        map_row(dst + i * C, C, [&](auto at) { return at.load(row); });
      }
    });
    g_.p = dst;
    g_.dtype = DC_F32;
    g_.ld = groups_ == 1 ? 0 : C;
  }
  static Grouped vector(const void* p, dc_dtype dtype) { return Grouped{p, dtype, 0, 1}; }

  const Grouped& grouped() const { return g_; }
  const float* data() const { return static_cast<const float*>(g_.p); }

 private:
  Grouped g_;
  int64_t groups_;
  Scratch<float> data_;
};

// Calls f(X{}, O{}) with the element types of x's and out's dtypes.
template <class F>
void with_row_types(const RowOperand& x, const RowOperand& out, F&& f) {
  with_element(x.dtype, [&](auto xt) { with_element(out.dtype, [&](auto ot) { f(xt, ot); }); });
}

struct Moments {
  float sum, sum_sq;
};

// Sums of d and d² over a row, d = x - k, in one pass.
template <class X>
inline Moments shifted_moments(const X* x, int64_t C, float k) {
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

// A norm's per-channel and grouped parameters, in fp32.
struct NormParams {
  const float* weight;
  const float* bias;
  Grouped shift, scale;
};

template <bool kWeight, bool kBias, bool kModulate, class X, class O>
void norm_rows(const NormArgs& a, const NormParams& p, int64_t begin, int64_t end) {
  const int64_t C = a.x.rows.len;
  const float inv_c = 1.f / float(C);
  const bool centre = a.kind == NormArgs::kLayerNorm;
  const float* w = p.weight;
  const float* b = p.bias;
  const X* x0 = static_cast<const X*>(a.x.p);
  O* o0 = static_cast<O*>(a.out.p);
  RowWalk xw(a.x.rows, begin), ow(a.out.rows, begin);
  RowPrefetch xp(a.x.rows, begin, end, x0);
  GroupWalk shift(p.shift, begin), scale(p.scale, begin);
  for (int64_t r = begin; r < end; ++r) {
    xp.next();
    const X* x = x0 + xw.off;
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

using NormRows = void (*)(const NormArgs&, const NormParams&, int64_t, int64_t);

template <class X, class O>
NormRows norm_variant(const NormParams& p) {
  static constexpr NormRows variants[8] = {
      norm_rows<false, false, false, X, O>, norm_rows<true, false, false, X, O>,
      norm_rows<false, true, false, X, O>,  norm_rows<true, true, false, X, O>,
      norm_rows<false, false, true, X, O>,  norm_rows<true, false, true, X, O>,
      norm_rows<false, true, true, X, O>,   norm_rows<true, true, true, X, O>,
  };
  return variants[(p.weight ? 1 : 0) | (p.bias ? 2 : 0) | (p.shift.p && p.scale.p ? 4 : 0)];
}

// The rows of a grouped [G, C] parameter as an operand walked with x: row r is group
// r / rows_per_group (a zero stride within a group).
Rows group_rows(const Grouped& g, int64_t count, int64_t C) {
  Rows r;
  r.nd = 2;
  r.shape[0] = count / g.rows_per_group;
  r.stride[0] = g.ld;
  r.shape[1] = g.rows_per_group;
  r.stride[1] = 0;
  r.count = count;
  r.len = C;
  return r;
}

// Calls row(x, out, y, shift, scale) for every row, in parallel, with X, O and Y the element types
// of x, out and y: y is the row of the second operand (nullptr when there is none), shift/scale
// the fp32 grouped rows.
template <class X, class O, class Y, class RowFn>
void each_row(const ElementwiseArgs& a, const RowOperand& y, const Grouped& shift_g,
              const Grouped& scale_g, RowFn&& row) {
  const X* x0 = static_cast<const X*>(a.x.p);
  const Y* y0 = static_cast<const Y*>(y.p);
  O* o0 = static_cast<O*>(a.out.p);
  parallel_for(a.x.rows.count, row_grain(a.x.rows.len), [&](int64_t begin, int64_t end) {
    RowWalk xw(a.x.rows, begin), ow(a.out.rows, begin), yw(y.rows, begin);
    RowPrefetch xp(a.x.rows, begin, end, x0);
    GroupWalk shift(shift_g, begin), scale(scale_g, begin);
    for (int64_t r = begin; r < end; ++r) {
      xp.next();
      row(x0 + xw.off, o0 + ow.off, y0 ? y0 + yw.off : nullptr, shift.p, scale.p);
      xw.next();
      ow.next();
      yw.next();
      shift.next();
      scale.next();
    }
  });
}

template <class X, class O>
void softmax_row(const X* x, O* o, int64_t C) {
  const vf m = vset(max_row(x, C));
  vf s = vset(0.f);
  if constexpr (std::is_same_v<O, float>) {
    // The exponentials go to out, then are scaled there (in L1).
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
  } else {
    // A bf16 out is rounded once: the exponentials are summed, then computed again for the
    // output instead of being stored rounded in between.
    int64_t c = 0;
    for (; c + kLanes <= C; c += kLanes) s = vadd(s, vexp(vsub(vload(x + c), m)));
    if (c < C) s = vadd(s, vlanes(vexp(vsub(vload_part(x + c, C - c), m)), C - c, 0.f));
    const vf inv = vset(1.f / vsum(s));
    map_row(o, C, [&](auto at) { return vmul(vexp(vsub(at.load(x), m)), inv); });
  }
}

template <class X, class O>
void elementwise_rows(const ElementwiseArgs& a, const RowOperand& y, const Grouped& shift,
                      const Grouped& scale) {
  const int64_t C = a.x.rows.len;
  // y has x's dtype, or is a grouped operand in fp32.
  const auto each = [&](auto row) {
    if (y.dtype == a.x.dtype) {
      each_row<X, O, X>(a, y, shift, scale, row);
    } else {
      each_row<X, O, float>(a, y, shift, scale, row);
    }
  };
  switch (a.kind) {
    case ElementwiseArgs::kModulate:
      each_row<X, O, X>(a, y, shift, scale, [&](auto x, auto o, auto, auto sh, auto sc) {
        map_row(o, C, [&](auto at) {
          return vfma(at.load(x), vadd(vset(1.f), at.load(sc)), at.load(sh));
        });
      });
      break;
    case ElementwiseArgs::kActivate:
      each_row<X, O, X>(a, y, shift, scale, [&](auto x, auto o, auto, auto, auto) {
        switch (a.act) {
          case DC_ACT_GELU_TANH: map_row(o, C, [&](auto at) { return vgelu_tanh(at.load(x)); }); break;
          case DC_ACT_SILU: map_row(o, C, [&](auto at) { return vsilu(at.load(x)); }); break;
          default: map_row(o, C, [&](auto at) { return at.load(x); }); break;
        }
      });
      break;
    case ElementwiseArgs::kAxpby: {
      const vf alpha = vset(a.alpha), beta = vset(a.beta);
      each([&](auto x, auto o, auto yr, auto, auto) {
        map_row(o, C, [&](auto at) { return vfma(alpha, at.load(x), vmul(beta, at.load(yr))); });
      });
      break;
    }
    case ElementwiseArgs::kMul:
      each([&](auto x, auto o, auto yr, auto, auto) {
        map_row(o, C, [&](auto at) { return vmul(at.load(x), at.load(yr)); });
      });
      break;
    case ElementwiseArgs::kSoftmax:
      each_row<X, O, X>(a, y, shift, scale, [&](auto x, auto o, auto, auto, auto) { softmax_row(x, o, C); });
      break;
  }
}

template <class X, class O>
void rope_rows(const RopeArgs& a, const Rows& xr, const Rows& orows, bool heads_inside,
               const float* table) {
  const int64_t D = a.x.rows.len, T = a.T;
  const int nd = xr.nd;
  const X* x0 = static_cast<const X*>(a.x.p);
  O* o0 = static_cast<O*>(a.out.p);
  parallel_for(xr.count, row_grain(D), [&](int64_t begin, int64_t end) {
    RowWalk xw(xr, begin), ow(orows, begin);
    RowPrefetch xp(xr, begin, end, x0);
    int64_t t = begin % T;
    for (int64_t r = begin; r < end; ++r) {
      xp.next();
      const X* x = x0 + xw.off;
      const float* cs = table + (heads_inside ? xw.idx[nd - 2] : t) * D;
      map_row(o0 + ow.off, D, [&](auto at) { return vrotate_pairs(at.load(x), at.load(cs)); });
      xw.next();
      ow.next();
      if (++t == T) t = 0;
    }
  });
}

}  // namespace

void norm_kernel(const NormArgs& a) {
  const int64_t rows = a.x.rows.count, C = a.x.rows.len;
  const F32Grouped weight(F32Grouped::vector(a.weight, a.weight_dtype), rows, C);
  const F32Grouped bias(F32Grouped::vector(a.bias, a.bias_dtype), rows, C);
  const F32Grouped shift(a.shift, rows, C), scale(a.scale, rows, C);
  const NormParams p{weight.data(), bias.data(), shift.grouped(), scale.grouped()};
  with_row_types(a.x, a.out, [&](auto xt, auto ot) {
    const auto rows_fn = norm_variant<decltype(xt), decltype(ot)>(p);
    parallel_for(rows, row_grain(C), [&](int64_t begin, int64_t end) { rows_fn(a, p, begin, end); });
  });
}

void elementwise_kernel(const ElementwiseArgs& a) {
  const int64_t rows = a.x.rows.count, C = a.x.rows.len;
  const F32Grouped shift(a.shift, rows, C), scale(a.scale, rows, C), y_grouped(a.y_grouped, rows, C);
  RowOperand y = a.y;
  if (a.y_grouped.p) {
    const Grouped& g = y_grouped.grouped();
    y = RowOperand{const_cast<void*>(g.p), group_rows(g, rows, C), g.dtype};
  }
  with_row_types(a.x, a.out, [&](auto xt, auto ot) {
    elementwise_rows<decltype(xt), decltype(ot)>(a, y, shift.grouped(), scale.grouped());
  });
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
  with_row_types(a.x, a.out, [&](auto xt, auto ot) {
    rope_rows<decltype(xt), decltype(ot)>(a, xr, orows, heads_inside, table.p);
  });
}

}  // namespace dc::cpu::DC_ISA_NS
