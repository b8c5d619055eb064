// Fused attention with online softmax over [prefix ring ; current] keys, never materialising the
// score matrix. A work item is one tile of up to 2 vectors of queries of one (batch, head):
//   1. the tile's queries are rotated, scaled by scale * log2(e) and transposed in registers to
//      [d][query], so each score micro-tile is a small GEMM whose vector lanes are queries and
//      whose broadcast operand is read straight from the key rows (no key packing; any stride);
//   2. keys are taken in blocks of kBlockKeys visible keys (the key mask is applied while
//      gathering their row pointers, so masked keys cost nothing); rotary keys are rotated once
//      per block, for all the tile's queries;
//   3. scores of a block -> running max and sum per query lane (exp2 polynomial), weights in place;
//   4. out rows += weights . V rows, vectorised over head_dim, with the previous blocks' partial
//      sums rescaled on load; the last block writes normalised rows to `out` directly.
// Short sequences (temporal attention: a few frames, thousands of sequences) use one-vector tiles,
// so a whole sequence is one item whose K/V rows are read once, and consecutive items are
// consecutive sequences. When their data does not fit in cache, each sequence requests the rows of
// the sequence kPrefetchAhead places later, spread over its stages (row_prefetch.h).
// bf16 q/k/v are widened exactly as they are read: query tiles while they are transposed, key and
// value rows into fp32 rows of the workspace as each block gathers them (once per sequence for
// short sequences); a bf16 out is written from fp32 rows of the workspace, rounded once.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "../../core/thread_pool.h"
#include "../kernels.h"
#include "attention.h"
#include "attention_simd.h"
#include "row_prefetch.h"
#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

constexpr int kMaxHeadDim = 256;
// Visible keys per online-softmax block: a multiple of every score micro-tile height.
constexpr int kBlockKeys = 96;
constexpr float kLog2e = 1.4426950408889634f;

// Owns a heap array; the kernels cannot use the standard containers.
template <class T>
struct HeapArray {
  T* p = nullptr;
  explicit HeapArray(int64_t n) : p(n > 0 ? new T[size_t(n)] : nullptr) {}
  ~HeapArray() { delete[] p; }
  HeapArray(const HeapArray&) = delete;
  HeapArray& operator=(const HeapArray&) = delete;
};

// Read-only facts of one call for vectors of `lanes` floats.
struct Plan {
  const AttentionArgs* a = nullptr;
  int64_t keys = 0;   // prefix + current
  int64_t shift = 0;  // keys - Nq: the causal diagonal
  int vecs = 0;       // vectors per head_dim row
  int tail = 0;       // lanes of the last vector that hold data
  int row = 0;        // padded row length (vecs * lanes) of the scratch rows and rotary tables
  float qscale = 0.f;
  // Rotary tables, one row of 2 * `row` floats per position: cos repeated over each pair, then
  // (-sin, +sin) per pair, so rotate(x) = x * cos + swap_pairs(x) * sin. Queries and keys share
  // the rows of the positions they have in common.
  const float* rope_q = nullptr;  // [Nq]
  const float* rope_k = nullptr;  // [keys]
  bool bf16_in = false;   // q, k, v (and the prefix) are bf16
  bool bf16_out = false;  // out is bf16
  int64_t in_bytes = 4;   // element size of q, k, v
};

// Row n of (b, h) of a [B, H, N, D] operand with strides `st` and elements of `bytes` (V: void
// or const void).
template <class V>
V* row_at(V* base, const int64_t* st, int64_t bytes, int64_t b, int64_t h, int64_t n) {
  using Byte = std::conditional_t<std::is_const_v<V>, const char, char>;
  return static_cast<Byte*>(base) + (b * st[0] + h * st[1] + n * st[2]) * bytes;
}

template <class S>
struct alignas(64) Workspace {
  static constexpr int kTile = 2 * S::kLanes;
  float qt[kMaxHeadDim * kTile];       // scaled rotated queries, [d][query lane]
  float acc[kTile * kMaxHeadDim];      // unnormalised out rows between blocks
  float w[kBlockKeys * kTile];         // scores, then softmax weights, [key][query lane]
  float krot[kBlockKeys * kMaxHeadDim];  // rotated or widened keys of the block
  float vrow[kBlockKeys * kMaxHeadDim];  // widened values of the block (bf16 input)
  float orow[kTile * kMaxHeadDim];       // finished out rows before their rounding (bf16 out)
  float m[kTile], l[kTile];            // running max (log2 units) and sum per query lane
  float corr[kTile];                   // rescale of the previous blocks' sums
  float inv[kTile];                    // 1 / sum, 0 for a query with no visible key
  const float* k[kBlockKeys];
  const float* v[kBlockKeys];
  int64_t idx[kBlockKeys];  // key position over [prefix ; current]
  RowPrefetcher ahead;      // rows of a later sequence, when the data streams from memory
};

inline bool key_visible(const AttentionArgs& a, int64_t b, int64_t j) {
  const int64_t i = b * a.mask_stride_b + j * a.mask_stride_j;
  switch (a.mask_dtype) {
    case DC_U8: return static_cast<const uint8_t*>(a.mask)[i] != 0;
    case DC_I32: return static_cast<const int32_t*>(a.mask)[i] != 0;
    case DC_I64: return static_cast<const int64_t*>(a.mask)[i] != 0;
    case DC_F32: return static_cast<const float*>(a.mask)[i] != 0.f;
    default: return true;
  }
}

void fill_rope_table(const Plan& p, int64_t pos0, int64_t n, float* table) {
  const AttentionArgs& a = *p.a;
  const int half = int(a.D / 2);
  for (int64_t r = 0; r < n; ++r) {
    float* cs = table + r * 2 * p.row;
    float* sn = cs + p.row;
    for (int t = 0; t < p.row; ++t) cs[t] = sn[t] = 0.f;
    const float pos = float(pos0 + r);
    for (int t = 0; t < half; ++t) {
      const float angle = pos * a.rope_freqs[t];
      const float c = std::cos(angle), s = std::sin(angle);
      cs[2 * t] = cs[2 * t + 1] = c;
      sn[2 * t] = -s;
      sn[2 * t + 1] = s;
    }
  }
}

// Vector `c` of a row, the last one read only up to the row's end.
template <class S>
typename S::Vec load_part(const Plan& p, const float* row, int c) {
  return c == p.vecs - 1 ? S::load_first(row + c * S::kLanes, p.tail) : S::load(row + c * S::kLanes);
}

template <class S>
typename S::Vec load_part(const Plan& p, const uint16_t* row, int c) {
  return c == p.vecs - 1 ? S::load_first_bf16(row + c * S::kLanes, p.tail)
                         : S::load_bf16(row + c * S::kLanes);
}

template <class S>
typename S::Vec rotate(typename S::Vec x, const float* table, const Plan& p, int c) {
  const float* cs = table + c * S::kLanes;
  return S::fma(x, S::load(cs), S::mul(S::swap_pairs(x), S::load(cs + p.row)));
}

// Rows [0, n) of `rows` (elements E) as fp32 rows of p.row into `dst`, rotated by the key table
// when there is one; rows[r] then points at its fp32 row.
template <class S, class E>
void widen_rows(const Plan& p, const float** rows, int n, const float* table, float* dst) {
  for (int r = 0; r < n; ++r) {
    const E* src = reinterpret_cast<const E*>(rows[r]);
    float* out = dst + r * p.row;
    for (int c = 0; c < p.vecs; ++c) {
      const typename S::Vec x = load_part<S>(p, src, c);
      S::store(out + c * S::kLanes, table ? rotate<S>(x, table + r * 2 * p.row, p, c) : x);
    }
    rows[r] = out;
  }
}

// Row pointers of the next visible keys from position j (advanced) up to `end`; returns how many.
// Rotary keys and bf16 rows are made fp32 rows of the workspace.
template <class S>
int gather_keys(const Plan& p, int64_t b, int64_t h, int64_t& j, int64_t end, Workspace<S>& ws) {
  const AttentionArgs& a = *p.a;
  const int64_t e = p.in_bytes;
  int n = 0;
  for (; j < end && n < kBlockKeys; ++j) {
    ws.ahead.tick();
    if (a.mask && !key_visible(a, b, j)) continue;
    if (j < a.p_len) {
      int64_t slot = a.p_start + j;
      if (slot >= a.p_cap) slot -= a.p_cap;
      ws.k[n] = static_cast<const float*>(row_at(a.pk, a.pk_stride, e, b, h, slot));
      ws.v[n] = static_cast<const float*>(row_at(a.pv, a.pv_stride, e, b, h, slot));
    } else {
      ws.k[n] = static_cast<const float*>(row_at(a.k, a.k_stride, e, b, h, j - a.p_len));
      ws.v[n] = static_cast<const float*>(row_at(a.v, a.v_stride, e, b, h, j - a.p_len));
    }
    ws.idx[n++] = j;
  }
  if (p.rope_k || p.bf16_in) {
    // One table row per key: the keys of a block are not consecutive positions when some are
    // masked, so each is rotated by its own row.
    for (int r = 0; r < n; ++r) {
      const float* table = p.rope_k ? p.rope_k + ws.idx[r] * 2 * p.row : nullptr;
      if (p.bf16_in) {
        widen_rows<S, uint16_t>(p, ws.k + r, 1, table, ws.krot + r * p.row);
      } else {
        widen_rows<S, float>(p, ws.k + r, 1, table, ws.krot + r * p.row);
      }
    }
  }
  if (p.bf16_in) widen_rows<S, uint16_t>(p, ws.v, n, nullptr, ws.vrow);
  return n;
}

// One square block of queries: rows of vector v of the head_dim, rotated and scaled, into r[].
template <class S, bool kRope, class E>
void load_query_block(const Plan& p, const E* q, int64_t stride, const float* table, int rows,
                      int v, typename S::Vec* r) {
  constexpr int L = S::kLanes;
  const typename S::Vec qscale = S::set(p.qscale);
  DC_UNROLL for (int i = 0; i < L; ++i) {
    if (i < rows) {
      const typename S::Vec x = load_part<S>(p, q + i * stride, v);
      r[i] = S::mul(kRope ? rotate<S>(x, table + i * 2 * p.row, p, v) : x, qscale);
    } else {
      r[i] = S::zero();
    }
  }
}

// qt[d][lane] = rotate(q row qi0 + lane)[d] * qscale, transposed a square block at a time;
// lanes past the last query are zero.
template <class S, int C, class E>
void load_queries(const Plan& p, int64_t b, int64_t h, int64_t qi0, int nq, Workspace<S>& ws) {
  constexpr int L = S::kLanes;
  const AttentionArgs& a = *p.a;
  const int64_t stride = a.q_stride[2];
  for (int c = 0; c < C; ++c) {
    const E* q = static_cast<const E*>(row_at(a.q, a.q_stride, sizeof(E), b, h, qi0 + c * L));
    const float* table = p.rope_q ? p.rope_q + (qi0 + c * L) * 2 * p.row : nullptr;
    const int rows = nq - c * L < L ? nq - c * L : L;
    for (int v = 0; v < p.vecs; ++v) {
      ws.ahead.tick();
      typename S::Vec r[L];
      const bool partial = v == p.vecs - 1 && p.tail < L;
      if (table) {
        load_query_block<S, true>(p, q, stride, table, rows, v, r);
      } else {
        load_query_block<S, false>(p, q, stride, table, rows, v, r);
      }
      S::transpose(r);
      const int cols = partial ? p.tail : L;
      DC_UNROLL for (int t = 0; t < L; ++t) {
        if (t < cols) S::store(ws.qt + ((v * L + t) * C + c) * L, r[t]);
      }
    }
  }
}

// w[r][lane] = sum_d k[r][d] * qt[d][lane] for R keys and C query vectors. The fixed-count
// loops are unrolled so the accumulators stay in registers.
template <class S, int C, int R>
void score_tile(const float* const* k, const float* qt, int D, float* w) {
  typename S::Vec acc[R][C];
  const float* kr[R];
  DC_UNROLL for (int r = 0; r < R; ++r) {
    kr[r] = k[r];
    DC_UNROLL for (int c = 0; c < C; ++c) acc[r][c] = S::zero();
  }
  for (int d = 0; d < D; ++d) {
    typename S::Vec q[C];
    DC_UNROLL for (int c = 0; c < C; ++c) q[c] = S::load(qt + (d * C + c) * S::kLanes);
    DC_UNROLL for (int r = 0; r < R; ++r) {
      const typename S::Vec kv = S::set(kr[r][d]);
      DC_UNROLL for (int c = 0; c < C; ++c) acc[r][c] = S::fma(kv, q[c], acc[r][c]);
    }
  }
  DC_UNROLL for (int r = 0; r < R; ++r)
    DC_UNROLL for (int c = 0; c < C; ++c) S::store(w + (r * C + c) * S::kLanes, acc[r][c]);
}

template <class S, int C, int R>
void score_tail(int rows, const float* const* k, const float* qt, int D, float* w) {
  if (rows == R) {
    score_tile<S, C, R>(k, qt, D, w);
  } else if constexpr (R > 1) {
    score_tail<S, C, R - 1>(rows, k, qt, D, w);
  }
}

template <class S, int C>
void scores(const Plan& p, Workspace<S>& ws, int n) {
  constexpr int R = S::score_rows(C);
  const int D = int(p.a->D);
  int r = 0;
  for (; r + R <= n; r += R) score_tile<S, C, R>(ws.k + r, ws.qt, D, ws.w + r * C * S::kLanes);
  if (r < n) score_tail<S, C, R - 1>(n - r, ws.k + r, ws.qt, D, ws.w + r * C * S::kLanes);
}

// Causal: query lane i of the tile sees key position j iff j <= qi0 + i + shift.
template <class S, int C>
void hide_future(const Plan& p, Workspace<S>& ws, int n, int64_t qi0) {
  constexpr int L = S::kLanes;
  for (int r = n - 1; r >= 0; --r) {
    const int64_t first = ws.idx[r] - p.shift - qi0;
    if (first <= 0) break;
    for (int c = 0; c < C; ++c) {
      const int64_t lanes = first - c * L;
      if (lanes <= 0) break;
      float* w = ws.w + (r * C + c) * L;
      S::store(w, S::hide_below(S::load(w), lanes < L ? int(lanes) : L));
    }
  }
}

// Online softmax over one block: scores become weights exp2(s - m_new); l and m updated.
template <class S, int C>
void softmax_block(Workspace<S>& ws, int n, bool last) {
  constexpr int L = S::kLanes, lanes = C * L;
  for (int c = 0; c < C; ++c) {
    const typename S::Vec m_old = S::load(ws.m + c * L);
    typename S::Vec m_new = m_old;
    for (int r = 0; r < n; ++r) m_new = S::max(m_new, S::load(ws.w + r * lanes + c * L));
    // A lane that has seen only hidden keys keeps m = -inf; subtracting -FLT_MAX instead keeps
    // its weights exp2(-inf) = 0 rather than NaN.
    const typename S::Vec m_sub = S::max(m_new, S::set(-FLT_MAX));
    typename S::Vec sum = S::zero();
    for (int r = 0; r < n; ++r) {
      float* w = ws.w + r * lanes + c * L;
      const typename S::Vec e = S::exp2(S::sub(S::load(w), m_sub));
      S::store(w, e);
      sum = S::add(sum, e);
    }
    const typename S::Vec corr = S::exp2(S::sub(m_old, m_sub));
    const typename S::Vec l = S::fma(S::load(ws.l + c * L), corr, sum);
    S::store(ws.corr + c * L, corr);
    S::store(ws.m + c * L, m_new);
    S::store(ws.l + c * L, l);
    if (last) S::store(ws.inv + c * L, S::inv_or_zero(l));
  }
}

// Where a weights . V micro-tile starts from and where it ends.
struct OutTile {
  float* out = nullptr;  // out row of query lane 0
  int64_t out_stride = 0;
  int nq = 0;            // rows that exist in `out`
  int lanes = 0;         // row stride of ws.w
  bool first = false;    // no earlier block: start from zero instead of ws.acc * corr
  bool last = false;     // write normalised rows to out instead of ws.acc
};

// Rows i0..i0+Ri of the tile, head_dim vectors v0..v0+Dc: acc += sum_j w[j][i] * v[j]. The last
// vector of the slice uses the op set T: S itself, or S's half-width set when the row's last vector
// is at most half full (head_dim 72 = 4.5 vectors of 16), so no multiply-add is spent on padding.
template <class S, class T, int Ri, int Dc>
void weighted_values(const Plan& p, Workspace<S>& ws, int n, const OutTile& t, int i0, int v0) {
  constexpr int L = S::kLanes, F = Dc - 1;  // full vectors before the last one
  const int last_lanes = v0 + Dc == p.vecs ? p.tail : L;
  typename S::Vec acc[Ri][Dc];
  typename T::Vec last[Ri];
  DC_UNROLL for (int i = 0; i < Ri; ++i) {
    const float* prev = ws.acc + (i0 + i) * p.row + v0 * L;
    const float corr = t.first ? 0.f : ws.corr[i0 + i];
    DC_UNROLL for (int c = 0; c < F; ++c)
      acc[i][c] = t.first ? S::zero() : S::mul(S::load(prev + c * L), S::set(corr));
    last[i] = t.first ? T::zero() : T::mul(T::load(prev + F * L), T::set(corr));
  }
  for (int j = 0; j < n; ++j) {
    const float* vr = ws.v[j] + v0 * L;
    const float* wj = ws.w + j * t.lanes + i0;
    typename S::Vec wv[Ri];
    DC_UNROLL for (int i = 0; i < Ri; ++i) wv[i] = S::set(wj[i]);
    DC_UNROLL for (int c = 0; c < F; ++c) {
      const typename S::Vec x = S::load(vr + c * L);
      DC_UNROLL for (int i = 0; i < Ri; ++i) acc[i][c] = S::fma(wv[i], x, acc[i][c]);
    }
    const typename T::Vec x = T::load_first(vr + F * L, last_lanes);
    DC_UNROLL for (int i = 0; i < Ri; ++i) last[i] = T::fma(T::narrow(wv[i]), x, last[i]);
  }
  DC_UNROLL for (int i = 0; i < Ri; ++i) {
    if (t.last) {
      if (i0 + i < t.nq) {
        float* o = t.out + (i0 + i) * t.out_stride + v0 * L;
        const float inv = ws.inv[i0 + i];
        DC_UNROLL for (int c = 0; c < F; ++c) S::store(o + c * L, S::mul(acc[i][c], S::set(inv)));
        T::store_first(o + F * L, T::mul(last[i], T::set(inv)), last_lanes);
      }
    } else {
      float* prev = ws.acc + (i0 + i) * p.row + v0 * L;
      DC_UNROLL for (int c = 0; c < F; ++c) S::store(prev + c * L, acc[i][c]);
      T::store(prev + F * L, last[i]);
    }
  }
}

template <class S, int Dc>
void weighted_values_slice(const Plan& p, Workspace<S>& ws, int n, const OutTile& t, int v0) {
  constexpr int Ri = S::out_rows(Dc);
  if constexpr (S::kHasHalf) {
    if (v0 + Dc == p.vecs && p.tail <= S::Half::kLanes) {
      for (int i0 = 0; i0 < t.nq; i0 += Ri) {
        ws.ahead.tick();
        weighted_values<S, typename S::Half, Ri, Dc>(p, ws, n, t, i0, v0);
      }
      return;
    }
  }
  for (int i0 = 0; i0 < t.nq; i0 += Ri) {
    ws.ahead.tick();
    weighted_values<S, S, Ri, Dc>(p, ws, n, t, i0, v0);
  }
}

template <class S, int Dc>
void weighted_values_dispatch(int vecs, const Plan& p, Workspace<S>& ws, int n, const OutTile& t,
                              int v0) {
  if (vecs == Dc) {
    weighted_values_slice<S, Dc>(p, ws, n, t, v0);
  } else if constexpr (Dc > 1) {
    weighted_values_dispatch<S, Dc - 1>(vecs, p, ws, n, t, v0);
  }
}

// head_dim split into near-equal slices of at most S::kOutVecs vectors.
template <class S>
void accumulate_values(const Plan& p, Workspace<S>& ws, int n, const OutTile& t) {
  const int slices = (p.vecs + S::kOutVecs - 1) / S::kOutVecs;
  for (int s = 0, v0 = 0; s < slices; ++s) {
    const int vecs = p.vecs / slices + (s < p.vecs % slices ? 1 : 0);
    weighted_values_dispatch<S, S::kOutVecs>(vecs, p, ws, n, t, v0);
    v0 += vecs;
  }
}

// Rows whose last visible key came before a block that turned out empty: normalise ws.acc.
template <class S>
void finish_from_scratch(const Plan& p, Workspace<S>& ws, const OutTile& t, bool any_block) {
  constexpr int L = S::kLanes;
  for (int i = 0; i < t.nq; ++i) {
    float* o = t.out + i * t.out_stride;
    const typename S::Vec inv = S::set(any_block ? ws.inv[i] : 0.f);
    for (int c = 0; c < p.vecs; ++c) {
      const typename S::Vec x = any_block ? S::mul(S::load(ws.acc + i * p.row + c * L), inv) : S::zero();
      if (c == p.vecs - 1) {
        S::store_first(o + c * L, x, p.tail);
      } else {
        S::store(o + c * L, x);
      }
    }
  }
}

// The D floats of `row` rounded to bf16 into `out`.
inline void store_bf16_row(const Plan& p, const float* row, uint16_t* out) {
  for (int64_t d = 0; d < p.a->D; ++d) out[d] = f32_to_bf16(row[d]);
}

template <class S, int C>
void attend_tile(const Plan& p, int64_t b, int64_t h, int64_t qi0, Workspace<S>& ws) {
  constexpr int L = S::kLanes, lanes = C * L;
  const AttentionArgs& a = *p.a;
  const int nq = int(a.Nq - qi0 < lanes ? a.Nq - qi0 : lanes);
  if (p.bf16_in) {
    load_queries<S, C, uint16_t>(p, b, h, qi0, nq, ws);
  } else {
    load_queries<S, C, float>(p, b, h, qi0, nq, ws);
  }
  for (int i = 0; i < lanes; ++i) {
    ws.m[i] = -INFINITY;
    ws.l[i] = 0.f;
  }
  OutTile t;
  if (p.bf16_out) {  // fp32 rows of the workspace, rounded into out below
    t.out = ws.orow;
    t.out_stride = p.row;
  } else {
    t.out = static_cast<float*>(row_at(a.out, a.o_stride, 4, b, h, qi0));
    t.out_stride = a.o_stride[2];
  }
  t.nq = nq;
  t.lanes = lanes;
  t.first = true;
  const int64_t end = a.causal && qi0 + nq + p.shift < p.keys ? qi0 + nq + p.shift : p.keys;
  int64_t j = 0;
  while (!t.last) {
    const int n = gather_keys<S>(p, b, h, j, end, ws);
    if (n == 0) break;
    t.last = j >= end;
    scores<S, C>(p, ws, n);
    ws.ahead.tick();
    if (a.causal) hide_future<S, C>(p, ws, n, qi0);
    softmax_block<S, C>(ws, n, t.last);
    accumulate_values<S>(p, ws, n, t);
    t.first = false;
  }
  if (!t.last) {
    for (int c = 0; c < C; ++c) S::store(ws.inv + c * L, S::inv_or_zero(S::load(ws.l + c * L)));
    finish_from_scratch<S>(p, ws, t, !t.first);
  }
  if (p.bf16_out) {
    for (int i = 0; i < nq; ++i)
      store_bf16_row(p, ws.orow + i * p.row,
                     static_cast<uint16_t*>(row_at(a.out, a.o_stride, 2, b, h, qi0 + i)));
  }
}

// Sequences between the one computing and the one whose rows it requests: enough for a request to
// arrive before its rows are read.
constexpr int64_t kPrefetchAhead = 2;
// Calls that move more bytes than this stream from memory rather than from the caches.
constexpr int64_t kStreamBytes = int64_t(8) << 20;
// Sequences up to this size are requested whole; longer ones are read often enough per row for the
// hardware prefetchers.
constexpr int64_t kPrefetchSequenceBytes = int64_t(128) << 10;

// The rows one (batch, head) reads and writes: queries, keys and values of both segments, out.
void add_item_rows(const Plan& p, int64_t b, int64_t h, RowPrefetcher& pf) {
  const AttentionArgs& a = *p.a;
  const int64_t in = p.in_bytes, out = p.bf16_out ? 2 : 4;
  const auto at = [&](const void* base, const int64_t* stride, int64_t bytes, int64_t n) {
    return row_at(base, stride, bytes, b, h, n);
  };
  pf.add(at(a.q, a.q_stride, in, 0), a.q_stride[2] * in, a.Nq, a.D * in, false);
  if (a.p_len > 0) {
    const int64_t tail = a.p_start + a.p_len <= a.p_cap ? a.p_len : a.p_cap - a.p_start;
    for (const auto& [base, stride] : {std::pair{a.pk, a.pk_stride}, std::pair{a.pv, a.pv_stride}}) {
      pf.add(at(base, stride, in, a.p_start), stride[2] * in, tail, a.D * in, false);
      pf.add(at(base, stride, in, 0), stride[2] * in, a.p_len - tail, a.D * in, false);
    }
  }
  pf.add(at(a.k, a.k_stride, in, 0), a.k_stride[2] * in, a.Nk, a.D * in, false);
  pf.add(at(a.v, a.v_stride, in, 0), a.v_stride[2] * in, a.Nk, a.D * in, false);
  pf.add(at(a.out, a.o_stride, out, 0), a.o_stride[2] * out, a.Nq, a.D * out, true);
}

template <class S, int C>
void attend(const AttentionArgs& a) {
  constexpr int lanes = C * S::kLanes;
  Plan p;
  p.a = &a;
  p.keys = a.p_len + a.Nk;
  p.shift = p.keys - a.Nq;
  p.vecs = int((a.D + S::kLanes - 1) / S::kLanes);
  p.tail = int(a.D - (p.vecs - 1) * S::kLanes);
  p.row = p.vecs * S::kLanes;
  p.qscale = a.scale * kLog2e;
  p.bf16_in = a.dtype == DC_BF16;
  p.bf16_out = a.out_dtype == DC_BF16;
  p.in_bytes = p.bf16_in ? 2 : 4;
  // One table over the union of the query and key positions when they overlap, else one each.
  const int64_t lo = a.q_pos0 < a.k_pos0 ? a.q_pos0 : a.k_pos0;
  const int64_t hi = a.q_pos0 + a.Nq > a.k_pos0 + p.keys ? a.q_pos0 + a.Nq : a.k_pos0 + p.keys;
  const bool shared = hi - lo <= a.Nq + p.keys;
  const int64_t positions = shared ? hi - lo : a.Nq + p.keys;
  HeapArray<float> rope(a.rope_freqs ? positions * 2 * p.row : 0);
  if (a.rope_freqs) {
    if (shared) {
      fill_rope_table(p, lo, positions, rope.p);
      p.rope_q = rope.p + (a.q_pos0 - lo) * 2 * p.row;
      p.rope_k = rope.p + (a.k_pos0 - lo) * 2 * p.row;
    } else {
      fill_rope_table(p, a.q_pos0, a.Nq, rope.p);
      fill_rope_table(p, a.k_pos0, p.keys, rope.p + a.Nq * 2 * p.row);
      p.rope_q = rope.p;
      p.rope_k = rope.p + a.Nq * 2 * p.row;
    }
  }

  const int64_t tiles = (a.Nq + lanes - 1) / lanes, items = a.B * a.H * tiles;
  // One workspace per chunk of consecutive items (consecutive tiles share their K/V rows in cache).
  const int64_t work_per_item = lanes * (p.keys + 1) * a.D;
  int64_t chunks = num_threads();
  if (chunks > items) chunks = items;
  if (chunks > 1 && items * work_per_item < (int64_t(1) << 16)) chunks = 1;
  HeapArray<Workspace<S>> ws(chunks);
  const int64_t sequence_bytes = (2 * a.Nq + 2 * p.keys) * a.D * p.in_bytes;
  const bool stream = sequence_bytes <= kPrefetchSequenceBytes && a.B * a.H * sequence_bytes > kStreamBytes;
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      // Causal tiles grow with their index: alternate short and long ones so that contiguous
      // chunks get equal work even for a single (batch, head).
      const auto start_of = [&](int64_t item) {
        const int64_t k = item % tiles;
        return (a.causal ? (k % 2 == 0 ? k / 2 : tiles - 1 - k / 2) : k) * lanes;
      };
      const int64_t first = items * c / chunks, last = items * (c + 1) / chunks;
      for (int64_t item = first; item < last; ++item) {
        const int64_t bh = item / tiles;
        if (stream && item % tiles == 0) {
          RowPrefetcher& pf = ws.p[c].ahead;
          pf.finish();
          pf.reset();
          const int64_t later = bh + kPrefetchAhead;
          if (later * tiles < last) add_item_rows(p, later / a.H, later % a.H, pf);
          pf.start();
        }
        attend_tile<S, C>(p, bh / a.H, bh % a.H, start_of(item), ws.p[c]);
      }
    }
  });
}

}  // namespace

void attention_kernel(const AttentionArgs& a) {
#if defined(__AVX512F__)
  if (a.Nq <= Avx2Ops::kLanes) {
    attend<Avx2Ops, 1>(a);
  } else if (a.Nq <= Avx512Ops::kLanes) {
    attend<Avx512Ops, 1>(a);
  } else {
    attend<Avx512Ops, 2>(a);
  }
#elif defined(__AVX2__)
  if (a.Nq <= Avx2Ops::kLanes) {
    attend<Avx2Ops, 1>(a);
  } else {
    attend<Avx2Ops, 2>(a);
  }
#else
  if (a.Nq <= PortableOps::kLanes) {
    attend<PortableOps, 1>(a);
  } else {
    attend<PortableOps, 2>(a);
  }
#endif
}

}  // namespace dc::cpu::DC_ISA_NS
