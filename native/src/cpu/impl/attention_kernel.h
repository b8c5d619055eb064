// Fused attention with online softmax over [prefix ring ; current] keys, never materialising the
// score matrix. A work item is one tile of up to 2 * kLanes queries of one (batch, head):
//   1. the tile's queries are rotated, scaled by scale * log2(e) and transposed to [d][query], so
//      each score micro-tile is a small GEMM whose vector lanes are queries and whose broadcast
//      operand is read straight from the key rows (no key packing, the row stride is free);
//   2. keys are taken in blocks of kBlockKeys visible keys (the key mask is applied while
//      gathering their row pointers, so masked keys cost nothing); rotary keys are rotated once
//      per block into a scratch row;
//   3. scores of a block -> running max and sum per query lane (exp2 polynomial), weights in place;
//   4. out rows += weights . V rows, vectorised over head_dim, with the previous blocks' partial
//      sums rescaled on load; the last block writes normalised rows to `out` directly.
// Short sequences (temporal attention: T <= kLanes frames, thousands of sequences) use one-vector
// tiles, so a whole sequence is one item and its K/V rows are read once.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "../../core/thread_pool.h"
#include "../kernels.h"
#include "attention.h"
#include "attention_simd.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

constexpr int kMaxHeadDim = 256;
constexpr int kTileQueries = 2 * kLanes;
// Keys per score micro-tile: R key rows x C query vectors of accumulators.
constexpr int kScoreRows = kLanes == 16 ? 12 : 6;
// Visible keys per online-softmax block; a multiple of kScoreRows.
constexpr int kBlockKeys = 8 * kScoreRows;
// Widest slice of head_dim (in vectors) accumulated at once by the weights . V micro-tile.
constexpr int kOutVecs = kLanes == 16 ? 8 : 4;
constexpr float kLog2e = 1.4426950408889634f;

#define DC_UNROLL _Pragma("GCC unroll 32")

// Output rows per weights . V micro-tile for a slice of `vecs` vectors: as many accumulators as
// the register file holds, and a divisor of the tile height.
constexpr int out_rows(int vecs) {
  return kLanes == 16 ? (vecs <= 2 ? 8 : vecs <= 6 ? 4 : 2) : (vecs <= 1 ? 8 : vecs <= 2 ? 4 : 2);
}

// Owns a heap array; the kernels cannot use the standard containers.
template <class T>
struct HeapArray {
  T* p = nullptr;
  explicit HeapArray(int64_t n) : p(n > 0 ? new T[size_t(n)] : nullptr) {}
  ~HeapArray() { delete[] p; }
  HeapArray(const HeapArray&) = delete;
  HeapArray& operator=(const HeapArray&) = delete;
};

// Read-only facts of one call.
struct Plan {
  const AttentionArgs* a = nullptr;
  int64_t keys = 0;   // prefix + current
  int64_t shift = 0;  // keys - Nq: the causal diagonal
  int vecs = 0;       // vectors per head_dim row
  int tail = 0;       // lanes of the last vector that hold data
  int row = 0;        // padded row length (vecs * kLanes) of the scratch rows
  float qscale = 0.f;
  // Rotary tables, one row of 2 * `row` floats per position: cos repeated over each pair, then
  // (-sin, +sin) per pair, so rotate(x) = x * cos + swap_pairs(x) * sin.
  const float* rope_q = nullptr;  // [Nq]
  const float* rope_k = nullptr;  // [keys]
};

struct alignas(64) Workspace {
  float qt[kMaxHeadDim * kTileQueries];     // scaled rotated queries, [d][query lane]
  float acc[kTileQueries * kMaxHeadDim];    // unnormalised out rows between blocks; query scratch
  float w[kBlockKeys * kTileQueries];       // scores, then softmax weights, [key][query lane]
  float krot[kBlockKeys * kMaxHeadDim];     // rotated keys of the block
  float m[kTileQueries], l[kTileQueries];   // running max (log2 units) and sum per query
  float corr[kTileQueries];                 // rescale of the previous blocks' sums
  float inv[kTileQueries];                  // 1 / sum, 0 for a query with no visible key
  const float* k[kBlockKeys];
  const float* v[kBlockKeys];
  int64_t idx[kBlockKeys];  // key position over [prefix ; current]
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

inline void rotate_row(const float* x, const float* table, int vecs, int tail, float* out) {
  const float* cs = table;
  const float* sn = table + vecs * kLanes;
  for (int c = 0; c < vecs; ++c) {
    const Vec xv = c == vecs - 1 ? vload_first(x + c * kLanes, tail) : vload(x + c * kLanes);
    vstore(out + c * kLanes, vfma(xv, vload(cs + c * kLanes),
                                  vmul(vswap_pairs(xv), vload(sn + c * kLanes))));
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

// Row pointers of the next visible keys from position j (advanced) up to `end`; returns how many.
int gather_keys(const Plan& p, int64_t b, int64_t h, int64_t& j, int64_t end, Workspace& ws) {
  const AttentionArgs& a = *p.a;
  const float* pk = static_cast<const float*>(a.pk) + b * a.pk_stride[0] + h * a.pk_stride[1];
  const float* pv = static_cast<const float*>(a.pv) + b * a.pv_stride[0] + h * a.pv_stride[1];
  const float* k = static_cast<const float*>(a.k) + b * a.k_stride[0] + h * a.k_stride[1];
  const float* v = static_cast<const float*>(a.v) + b * a.v_stride[0] + h * a.v_stride[1];
  int n = 0;
  for (; j < end && n < kBlockKeys; ++j) {
    if (a.mask && !key_visible(a, b, j)) continue;
    if (j < a.p_len) {
      int64_t slot = a.p_start + j;
      if (slot >= a.p_cap) slot -= a.p_cap;
      ws.k[n] = pk + slot * a.pk_stride[2];
      ws.v[n] = pv + slot * a.pv_stride[2];
    } else {
      ws.k[n] = k + (j - a.p_len) * a.k_stride[2];
      ws.v[n] = v + (j - a.p_len) * a.v_stride[2];
    }
    ws.idx[n++] = j;
  }
  return n;
}

// qt[d][lane] = rotate(q row qi0 + lane)[d] * qscale; lanes past the last query are zero.
void load_queries(const Plan& p, int64_t b, int64_t h, int64_t qi0, int nq, int lanes,
                  Workspace& ws) {
  const AttentionArgs& a = *p.a;
  const int D = int(a.D);
  const float* q = static_cast<const float*>(a.q) + b * a.q_stride[0] + h * a.q_stride[1];
  for (int i = 0; i < nq; ++i) {
    const float* row = q + (qi0 + i) * a.q_stride[2];
    if (p.rope_q) {
      rotate_row(row, p.rope_q + (qi0 + i) * 2 * p.row, p.vecs, p.tail, ws.acc + i * p.row);
      row = ws.acc + i * p.row;
    }
    for (int d = 0; d < D; ++d) ws.qt[d * lanes + i] = row[d] * p.qscale;
  }
  for (int d = 0; d < D; ++d)
    for (int i = nq; i < lanes; ++i) ws.qt[d * lanes + i] = 0.f;
}

// w[r][lane] = sum_d k[r][d] * qt[d][lane] for R keys and C query vectors.
template <int C, int R>
void score_tile(const float* const* k, const float* qt, int D, float* w) {
  Vec acc[R][C];
  const float* kr[R];
  DC_UNROLL for (int r = 0; r < R; ++r) {
    kr[r] = k[r];
    DC_UNROLL for (int c = 0; c < C; ++c) acc[r][c] = vzero();
  }
  for (int d = 0; d < D; ++d) {
    Vec q[C];
    DC_UNROLL for (int c = 0; c < C; ++c) q[c] = vload(qt + (d * C + c) * kLanes);
    DC_UNROLL for (int r = 0; r < R; ++r) {
      const Vec kv = vset(kr[r][d]);
      DC_UNROLL for (int c = 0; c < C; ++c) acc[r][c] = vfma(kv, q[c], acc[r][c]);
    }
  }
  DC_UNROLL for (int r = 0; r < R; ++r)
    DC_UNROLL for (int c = 0; c < C; ++c) vstore(w + (r * C + c) * kLanes, acc[r][c]);
}

template <int C, int R>
void score_tail(int rows, const float* const* k, const float* qt, int D, float* w) {
  if (rows == R) {
    score_tile<C, R>(k, qt, D, w);
  } else if constexpr (R > 1) {
    score_tail<C, R - 1>(rows, k, qt, D, w);
  }
}

template <int C>
void scores(const Plan& p, Workspace& ws, int n) {
  const int D = int(p.a->D);
  int r = 0;
  for (; r + kScoreRows <= n; r += kScoreRows)
    score_tile<C, kScoreRows>(ws.k + r, ws.qt, D, ws.w + r * C * kLanes);
  if (r < n) score_tail<C, kScoreRows - 1>(n - r, ws.k + r, ws.qt, D, ws.w + r * C * kLanes);
}

// Causal: query lane i of the tile sees key position j iff j <= qi0 + i + shift.
template <int C>
void hide_future(const Plan& p, Workspace& ws, int n, int64_t qi0) {
  for (int r = n - 1; r >= 0; --r) {
    const int64_t first = ws.idx[r] - p.shift - qi0;
    if (first <= 0) break;
    for (int c = 0; c < C; ++c) {
      const int64_t lanes = first - c * kLanes;
      if (lanes <= 0) break;
      float* w = ws.w + (r * C + c) * kLanes;
      vstore(w, vhide_below(vload(w), lanes < kLanes ? int(lanes) : kLanes));
    }
  }
}

// Online softmax over one block: scores become weights exp2(s - m_new); l and m updated.
template <int C>
void softmax_block(Workspace& ws, int n, bool last) {
  constexpr int lanes = C * kLanes;
  for (int c = 0; c < C; ++c) {
    const Vec m_old = vload(ws.m + c * kLanes);
    Vec m_new = m_old;
    for (int r = 0; r < n; ++r) m_new = vmax(m_new, vload(ws.w + r * lanes + c * kLanes));
    // A lane that has seen only hidden keys keeps m = -inf; subtracting -FLT_MAX instead keeps
    // its weights exp2(-inf) = 0 rather than NaN.
    const Vec m_sub = vmax(m_new, vset(-FLT_MAX));
    Vec sum = vzero();
    for (int r = 0; r < n; ++r) {
      float* w = ws.w + r * lanes + c * kLanes;
      const Vec e = vexp2(vsub(vload(w), m_sub));
      vstore(w, e);
      sum = vadd(sum, e);
    }
    const Vec corr = vexp2(vsub(m_old, m_sub));
    const Vec l = vfma(vload(ws.l + c * kLanes), corr, sum);
    vstore(ws.corr + c * kLanes, corr);
    vstore(ws.m + c * kLanes, m_new);
    vstore(ws.l + c * kLanes, l);
    if (last) vstore(ws.inv + c * kLanes, vinv_or_zero(l));
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

// Rows i0..i0+Ri of the tile, head_dim vectors v0..v0+Dc: acc += sum_j w[j][i] * v[j]. The
// fixed-count loops are unrolled so the accumulators stay in registers.
template <int Ri, int Dc>
void weighted_values(const Plan& p, Workspace& ws, int n, const OutTile& t, int i0, int v0) {
  const int last_lanes = v0 + Dc == p.vecs ? p.tail : kLanes;
  Vec acc[Ri][Dc];
  DC_UNROLL for (int i = 0; i < Ri; ++i) {
    const float* prev = ws.acc + (i0 + i) * p.row + v0 * kLanes;
    const Vec corr = vset(t.first ? 0.f : ws.corr[i0 + i]);
    DC_UNROLL for (int c = 0; c < Dc; ++c) acc[i][c] = t.first ? vzero() : vmul(vload(prev + c * kLanes), corr);
  }
  for (int j = 0; j < n; ++j) {
    const float* vr = ws.v[j] + v0 * kLanes;
    const float* wj = ws.w + j * t.lanes + i0;
    Vec wv[Ri];
    DC_UNROLL for (int i = 0; i < Ri; ++i) wv[i] = vset(wj[i]);
    DC_UNROLL for (int c = 0; c < Dc; ++c) {
      const Vec x = c == Dc - 1 ? vload_first(vr + c * kLanes, last_lanes) : vload(vr + c * kLanes);
      DC_UNROLL for (int i = 0; i < Ri; ++i) acc[i][c] = vfma(wv[i], x, acc[i][c]);
    }
  }
  DC_UNROLL for (int i = 0; i < Ri; ++i) {
    if (t.last) {
      if (i0 + i < t.nq) {
        float* o = t.out + (i0 + i) * t.out_stride + v0 * kLanes;
        const Vec inv = vset(ws.inv[i0 + i]);
        DC_UNROLL for (int c = 0; c < Dc - 1; ++c) vstore(o + c * kLanes, vmul(acc[i][c], inv));
        vstore_first(o + (Dc - 1) * kLanes, vmul(acc[i][Dc - 1], inv), last_lanes);
      }
    } else {
      float* prev = ws.acc + (i0 + i) * p.row + v0 * kLanes;
      DC_UNROLL for (int c = 0; c < Dc; ++c) vstore(prev + c * kLanes, acc[i][c]);
    }
  }
}

template <int Dc>
void weighted_values_slice(const Plan& p, Workspace& ws, int n, const OutTile& t, int v0) {
  constexpr int Ri = out_rows(Dc);
  for (int i0 = 0; i0 < t.nq; i0 += Ri) weighted_values<Ri, Dc>(p, ws, n, t, i0, v0);
}

template <int Dc>
void weighted_values_dispatch(int vecs, const Plan& p, Workspace& ws, int n, const OutTile& t,
                              int v0) {
  if (vecs == Dc) {
    weighted_values_slice<Dc>(p, ws, n, t, v0);
  } else if constexpr (Dc > 1) {
    weighted_values_dispatch<Dc - 1>(vecs, p, ws, n, t, v0);
  }
}

// head_dim split into near-equal slices of at most kOutVecs vectors.
void accumulate_values(const Plan& p, Workspace& ws, int n, const OutTile& t) {
  const int slices = (p.vecs + kOutVecs - 1) / kOutVecs;
  for (int s = 0, v0 = 0; s < slices; ++s) {
    const int vecs = p.vecs / slices + (s < p.vecs % slices ? 1 : 0);
    weighted_values_dispatch<kOutVecs>(vecs, p, ws, n, t, v0);
    v0 += vecs;
  }
}

// Rows whose last visible key came before a block that turned out empty: normalise ws.acc.
void finish_from_scratch(const Plan& p, Workspace& ws, const OutTile& t, bool any_block) {
  for (int i = 0; i < t.nq; ++i) {
    float* o = t.out + i * t.out_stride;
    const Vec inv = vset(any_block ? ws.inv[i] : 0.f);
    for (int c = 0; c < p.vecs; ++c) {
      const Vec x = any_block ? vmul(vload(ws.acc + i * p.row + c * kLanes), inv) : vzero();
      if (c == p.vecs - 1) {
        vstore_first(o + c * kLanes, x, p.tail);
      } else {
        vstore(o + c * kLanes, x);
      }
    }
  }
}

template <int C>
void attend_tile(const Plan& p, int64_t b, int64_t h, int64_t qi0, Workspace& ws) {
  constexpr int lanes = C * kLanes;
  const AttentionArgs& a = *p.a;
  const int nq = int(a.Nq - qi0 < lanes ? a.Nq - qi0 : lanes);
  load_queries(p, b, h, qi0, nq, lanes, ws);
  for (int i = 0; i < lanes; ++i) {
    ws.m[i] = -INFINITY;
    ws.l[i] = 0.f;
  }
  OutTile t;
  t.out = static_cast<float*>(a.out) + b * a.o_stride[0] + h * a.o_stride[1] + qi0 * a.o_stride[2];
  t.out_stride = a.o_stride[2];
  t.nq = nq;
  t.lanes = lanes;
  t.first = true;
  const int64_t end = a.causal && qi0 + nq + p.shift < p.keys ? qi0 + nq + p.shift : p.keys;
  int64_t j = 0;
  while (!t.last) {
    const int n = gather_keys(p, b, h, j, end, ws);
    if (n == 0) break;
    t.last = j >= end;
    if (p.rope_k) {
      for (int r = 0; r < n; ++r) {
        float* kr = ws.krot + r * p.row;
        rotate_row(ws.k[r], p.rope_k + ws.idx[r] * 2 * p.row, p.vecs, p.tail, kr);
        ws.k[r] = kr;
      }
    }
    scores<C>(p, ws, n);
    if (a.causal) hide_future<C>(p, ws, n, qi0);
    softmax_block<C>(ws, n, t.last);
    accumulate_values(p, ws, n, t);
    t.first = false;
  }
  if (!t.last) {
    for (int c = 0; c < C; ++c)
      vstore(ws.inv + c * kLanes, vinv_or_zero(vload(ws.l + c * kLanes)));
    finish_from_scratch(p, ws, t, !t.first);
  }
}

template <int C>
void attend(const Plan& p) {
  const AttentionArgs& a = *p.a;
  constexpr int lanes = C * kLanes;
  const int64_t tiles = (a.Nq + lanes - 1) / lanes, items = a.B * a.H * tiles;
  // One workspace per chunk of consecutive items (consecutive tiles share their K/V rows in cache).
  const int64_t work_per_item = lanes * (p.keys + 1) * a.D;
  int64_t chunks = num_threads();
  if (chunks > items) chunks = items;
  if (chunks > 1 && items * work_per_item < (int64_t(1) << 16)) chunks = 1;
  HeapArray<Workspace> ws(chunks);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t item = items * c / chunks; item < items * (c + 1) / chunks; ++item) {
        const int64_t bh = item / tiles, k = item % tiles;
        // Causal tiles grow with their index: alternate short and long ones so that contiguous
        // chunks get equal work even for a single (batch, head).
        const int64_t tile = a.causal ? (k % 2 == 0 ? k / 2 : tiles - 1 - k / 2) : k;
        attend_tile<C>(p, bh / a.H, bh % a.H, tile * lanes, ws.p[c]);
      }
    }
  });
}

}  // namespace

void attention_kernel(const AttentionArgs& a) {
  Plan p;
  p.a = &a;
  p.keys = a.p_len + a.Nk;
  p.shift = p.keys - a.Nq;
  p.vecs = int((a.D + kLanes - 1) / kLanes);
  p.tail = int(a.D - (p.vecs - 1) * kLanes);
  p.row = p.vecs * kLanes;
  p.qscale = a.scale * kLog2e;
  HeapArray<float> rope_q(a.rope_freqs ? a.Nq * 2 * p.row : 0);
  HeapArray<float> rope_k(a.rope_freqs ? p.keys * 2 * p.row : 0);
  if (a.rope_freqs) {
    fill_rope_table(p, a.q_pos0, a.Nq, rope_q.p);
    fill_rope_table(p, a.k_pos0, p.keys, rope_k.p);
    p.rope_q = rope_q.p;
    p.rope_k = rope_k.p;
  }
  if (a.Nq <= kLanes) {
    attend<1>(p);
  } else {
    attend<2>(p);
  }
}

}  // namespace dc::cpu::DC_ISA_NS
