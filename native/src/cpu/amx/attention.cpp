// Attention with bf16 q/k/v on AMX tiles, for sequences long enough to amortise one packing of
// each (batch, head)'s keys and values (spatial and cross-attention); shorter ones, and fp32
// operands, run the fused kernel of attention_kernel.h.
//
// Scores are computed transposed, keys x queries, so that a vector holds one key's scores for 16
// queries: the running max and sum of the online softmax are then per lane, with no reduction
// across lanes. Per (batch, head), the visible keys (key mask, ring prefix, causal limit) are
// gathered once, rotated (RoPE) and rounded to bf16 as the rows of K (the A operand of S^T = K Q^T)
// and as the columns of V^T (the A operand of O^T = V^T P^T). Per block of 16 queries, Q^T is
// packed as bf16 pairs (the B operand), then for each block of 64 keys:
//   1. S^T tiles (16 keys x 16 queries), four at once, accumulate over head_dim and are stored;
//   2. the online softmax in fp32 vectors, in one pass over the scores: p = exp2(scale·log2e·s −
//      m), where the reference max m moves only when a block's max exceeds it by more than 2^8
//      (out is rescaled and the block's weights made again then): p stays below 256, and O^T
//      stays untouched for most blocks; the tiles meanwhile multiply the next block's scores;
//   3. p as bf16 pairs along keys (the B operand P^T), and O^T tiles (16 head_dim rows x 16
//      queries), four at once, are loaded, accumulated over the block's keys and stored back.
// Out rows are O^T transposed and divided by the sum, rounded once to f32 or bf16. Tiles 0-3 are
// accumulators, independent so that consecutive tdpbf16ps do not wait on each other; 4 and 5 the
// A operands, alternating so that a load does not wait for the product reading the other; 6 the
// B operand.
#include <cfloat>
#include <cstring>

#include "../../core/thread_pool.h"
#include "../impl/attention_kernel.h"
#include "tiles.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

using V = Avx512Ops;
constexpr int kKeyBlock = 64;  // four 16-key tiles of scores, two 32-key k steps of P·V
// Query blocks of 16 that take each key block in turn while its K and V^T rows (22 KB at head_dim
// 72) are in L1, when a (batch, head)'s gathered keys and values are too many to stay in L2
// (above kGroupAboveBytes): they then come from farther once per group, not once per block
// (measured, one thread: S = 4096, head_dim 128 +20%, head_dim 72 +10%). Smaller ones stay in L2
// and run faster one block at a time, the block's state alone in L1 (S = 300: -8% grouped).
constexpr int kGroupBlocks = 2;
constexpr int64_t kGroupAboveBytes = int64_t(1) << 20;
constexpr float kRescaleAbove = 8.f;  // log2 units
constexpr int64_t kMinQueries = 32;  // fewer: the fused kernel (the packing would not pay)
constexpr int64_t kMinKeys = 64;     // visible keys of the busiest batch item, likewise

// Facts of one call (attention_kernel.h's Plan holds the rotary tables).
struct AmxPlan {
  Plan base;
  int64_t dp = 0;  // head_dim padded to whole A tiles (32)
  int64_t dv = 0;  // head_dim padded to whole accumulator rows (16)
  float c = 0;     // scale · log2(e)
  int group = 1;   // query blocks per group, at most kGroupBlocks
};

// Per thread: the gathered keys and values of one (batch, head) and one query group's state.
struct AmxWorkspace {
  int64_t cap = 0;       // keys the buffers hold, a multiple of 32
  uint16_t* k = nullptr;   // [cap][dp] bf16
  uint16_t* vt = nullptr;  // [dv][cap] bf16
  int64_t* idx = nullptr;  // positions over [prefix ; current]
  float* s = nullptr;      // 2 x [kKeyBlock][16] scores^T (the block in softmax, the next)
  uint32_t* pt = nullptr;  // [kKeyBlock / 2][16] bf16 pairs of weights
  float* o = nullptr;      // kGroupBlocks x [dv][16] out^T
  uint32_t* qt = nullptr;  // kGroupBlocks x [dp / 2][16] bf16 pairs of queries
  uint16_t* qrow = nullptr;  // [16][dp] the block's query rows, rotated and zero-padded
  HeapArray<char> memory;

  AmxWorkspace(const AmxPlan& p, int64_t keys)
      : cap((keys + 31) / 32 * 32),
        memory(cap * p.dp * 2 + p.dv * cap * 2 + cap * 8 + 2 * kKeyBlock * 16 * 4 + kKeyBlock * 8 * 4 +
               kGroupBlocks * (p.dv * 16 * 4 + p.dp * 8 * 4) + 16 * p.dp * 2 + 8 * 64) {
    char* at = memory.p;
    const auto take = [&](int64_t bytes) {
      char* r = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(at) + 63) & ~uintptr_t(63));
      at = r + bytes;
      return r;
    };
    k = reinterpret_cast<uint16_t*>(take(cap * p.dp * 2));
    vt = reinterpret_cast<uint16_t*>(take(p.dv * cap * 2));
    idx = reinterpret_cast<int64_t*>(take(cap * 8));
    s = reinterpret_cast<float*>(take(2 * kKeyBlock * 16 * 4));
    pt = reinterpret_cast<uint32_t*>(take(kKeyBlock * 8 * 4));
    o = reinterpret_cast<float*>(take(kGroupBlocks * p.dv * 16 * 4));
    qt = reinterpret_cast<uint32_t*>(take(kGroupBlocks * p.dp * 8 * 4));
    qrow = reinterpret_cast<uint16_t*>(take(16 * p.dp * 2));
  }
};

// A q or k row of head_dim bf16 as the row of a tile operand: rotated by its rotary table row
// (in fp32, rounded once) when there is one, zero-padded to dp.
void tile_row(const AmxPlan& ap, const uint16_t* src, const float* table, uint16_t* dst) {
  const int64_t D = ap.base.a->D;
  if (table) {
    const float* sn = table + ap.base.row;
    for (int64_t t = 0; t < D / 2; ++t) {
      const float x0 = bf16_to_f32(src[2 * t]), x1 = bf16_to_f32(src[2 * t + 1]);
      dst[2 * t] = f32_to_bf16(x0 * table[2 * t] - x1 * sn[2 * t + 1]);
      dst[2 * t + 1] = f32_to_bf16(x1 * table[2 * t] + x0 * sn[2 * t + 1]);
    }
  } else {
    std::memcpy(dst, src, size_t(D) * 2);
  }
  std::memset(dst + D, 0, size_t(ap.dp - D) * 2);
}

// Columns [k0, k0 + 32) of V^T from the value rows `rows` (nullptr past the last key): per 16
// head_dim rows, two keys' values interleaved as bf16 pairs, then 16 such pairs transposed at once,
// so that each row of V^T gets its 32 keys in one store; rows past head_dim come out zero.
void pack_values(const AmxPlan& ap, const uint16_t* const* rows, int64_t k0, AmxWorkspace& ws) {
  const int64_t D = ap.base.a->D;
  for (int64_t d0 = 0; d0 < ap.dv; d0 += 16) {
    const __mmask16 live = V::first(D - d0 < 16 ? int(D - d0) : 16);
    const auto widened = [&](const uint16_t* row) {
      return row ? _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(live, row + d0)) : _mm512_setzero_si512();
    };
    __m512 r[16];
    for (int i = 0; i < 16; ++i) {
      const __m512i even = widened(rows[2 * i]), odd = widened(rows[2 * i + 1]);
      r[i] = _mm512_castsi512_ps(_mm512_or_si512(even, _mm512_slli_epi32(odd, 16)));
    }
    V::transpose(r);  // r[t]: keys k0 .. k0 + 31 of head_dim row d0 + t, as pairs
    for (int t = 0; t < 16; ++t) _mm512_store_ps(reinterpret_cast<float*>(ws.vt + (d0 + t) * ws.cap + k0), r[t]);
  }
}

// The visible keys of (b, h) up to position `end`, as bf16 rows of K (rotated) and columns of
// V^T, zero-padded to whole tiles; returns how many.
int64_t gather(const AmxPlan& ap, int64_t b, int64_t h, int64_t end, AmxWorkspace& ws) {
  const Plan& p = ap.base;
  const AttentionArgs& a = *p.a;
  const int64_t e = 2;
  const uint16_t* values[32];
  int64_t n = 0;
  for (int64_t j = 0; j < end; ++j) {
    if (a.mask && !key_visible(a, b, j)) continue;
    const void *kr, *vr;
    if (j < a.p_len) {
      int64_t slot = a.p_start + j;
      if (slot >= a.p_cap) slot -= a.p_cap;
      kr = row_at(a.pk, a.pk_stride, e, b, h, slot);
      vr = row_at(a.pv, a.pv_stride, e, b, h, slot);
    } else {
      kr = row_at(a.k, a.k_stride, e, b, h, j - a.p_len);
      vr = row_at(a.v, a.v_stride, e, b, h, j - a.p_len);
    }
    tile_row(ap, static_cast<const uint16_t*>(kr), p.rope_k ? p.rope_k + j * 2 * p.row : nullptr, ws.k + n * ap.dp);
    values[n % 32] = static_cast<const uint16_t*>(vr);
    ws.idx[n++] = j;
    if (n % 32 == 0) pack_values(ap, values, n - 32, ws);
  }
  const int64_t padded = (n + 31) / 32 * 32;
  if (padded > n) {
    for (int64_t i = n % 32; i < 32; ++i) values[i] = nullptr;
    pack_values(ap, values, padded - 32, ws);
  }
  std::memset(ws.k + n * ap.dp, 0, size_t((padded - n) * ap.dp) * 2);
  return n;
}

// Q^T of queries [q0, q0 + nq) of (b, h) as bf16 pairs along head_dim, lanes past nq zero: the
// query rows (rotated and rounded once when there is RoPE) seen as 32-bit pairs, transposed 16 x
// 16 pairs at a time.
void pack_queries(const AmxPlan& ap, int64_t b, int64_t h, int64_t q0, int nq, uint32_t* qt, AmxWorkspace& ws) {
  const Plan& p = ap.base;
  const AttentionArgs& a = *p.a;
  const int64_t pairs = ap.dp / 2;
  const uint32_t* rows[16];
  for (int i = 0; i < nq; ++i) {
    uint16_t* row = ws.qrow + i * ap.dp;
    tile_row(ap, static_cast<const uint16_t*>(row_at(a.q, a.q_stride, 2, b, h, q0 + i)),
             p.rope_q ? p.rope_q + (q0 + i) * 2 * p.row : nullptr, row);
    rows[i] = reinterpret_cast<const uint32_t*>(row);
  }
  for (int64_t c = 0; c < pairs; c += 16) {
    const int count = pairs - c < 16 ? int(pairs - c) : 16;
    __m512 r[16];
    for (int i = 0; i < 16; ++i)
      r[i] = i < nq ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi32(__mmask16((1u << count) - 1), rows[i] + c)) : _mm512_setzero_ps();
    V::transpose(r);  // r[t]: pair c + t of the 16 queries
    for (int t = 0; t < count; ++t) _mm512_store_ps(reinterpret_cast<float*>(qt + (c + t) * 16), r[t]);
  }
}

// 2^x for the softmax weights: f = x − round(x) by vreduceps (0 for −inf, where round(x) = −inf
// makes vscalefps give exactly 0, so masked scores need no clamp), then a degree-3 minimax
// polynomial in f (relative error 7.5e-5, far under the 2^-9 of the bf16 rounding the weights
// then get) scaled by 2^round(x).
inline __m512 exp2_weights(__m512 x) {
  const __m512 f = _mm512_reduce_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 n = _mm512_sub_ps(x, f);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0.055171f), f, _mm512_set1_ps(0.2426095f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.69326095f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.99992817f));
  return _mm512_scalef_ps(p, n);
}

// Rows 2r and 2r + 1 of weights (16 lanes each) as 16 bf16 pairs, the even row in the low halves.
inline __m512i pair_rows(__m512 even, __m512 odd) {
  const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(odd, even);  // even in 0..15, odd in 16..31
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                              23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(interleave, both);
}

// Accumulator `acc` += the A operand at `a` (16 rows, `ld` bf16 apart, loaded into tile
// `a_tile`) x tile 6. The tile intrinsics take their tile numbers as literal tokens.
#define DC_TILE_MULTIPLY(acc, a_tile, a, ld) \
  do {                                        \
    _tile_loadd(a_tile, a, (ld) * 2);         \
    _tile_dpbf16ps(acc, a_tile, 6);           \
  } while (0)

// Accumulator t (16 keys x 16 queries, t < n <= 4) = K rows [16 t, 16 t + 16) x Q^T, over
// dk_tiles; the products are left running (store_scores waits for them).
void issue_scores(const uint16_t* k, int64_t dp, const uint32_t* qt, int64_t dk_tiles, int n) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t dk = 0; dk < dk_tiles; ++dk) {
    _tile_loadd(6, qt + dk * 16 * 16, 64);
    const uint16_t* a = k + dk * kTileK;
    DC_TILE_MULTIPLY(0, 4, a, dp);
    if (n > 1) DC_TILE_MULTIPLY(1, 5, a + 16 * dp, dp);
    if (n > 2) DC_TILE_MULTIPLY(2, 4, a + 32 * dp, dp);
    if (n > 3) DC_TILE_MULTIPLY(3, 5, a + 48 * dp, dp);
  }
}

void store_scores(int n, float* s) {
  _tile_stored(0, s, 64);
  if (n > 1) _tile_stored(1, s + 256, 64);
  if (n > 2) _tile_stored(2, s + 512, 64);
  if (n > 3) _tile_stored(3, s + 768, 64);
}

// o[t] (16 head_dim rows x 16 queries, t < n <= 4) += V^T rows [16 t, 16 t + 16) x P^T over
// pair_tiles k steps of 32 keys; vt rows are `ld` bf16 apart.
void value_tiles(float* o, const uint16_t* vt, int64_t ld, const uint32_t* pt, int pair_tiles, int n) {
  _tile_loadd(0, o, 64);
  if (n > 1) _tile_loadd(1, o + 256, 64);
  if (n > 2) _tile_loadd(2, o + 512, 64);
  if (n > 3) _tile_loadd(3, o + 768, 64);
  for (int pk = 0; pk < pair_tiles; ++pk) {
    _tile_loadd(6, pt + pk * 256, 64);
    const uint16_t* a = vt + pk * kTileK;
    DC_TILE_MULTIPLY(0, 4, a, ld);
    if (n > 1) DC_TILE_MULTIPLY(1, 5, a + 16 * ld, ld);
    if (n > 2) DC_TILE_MULTIPLY(2, 4, a + 32 * ld, ld);
    if (n > 3) DC_TILE_MULTIPLY(3, 5, a + 48 * ld, ld);
  }
  _tile_stored(0, o, 64);
  if (n > 1) _tile_stored(1, o + 256, 64);
  if (n > 2) _tile_stored(2, o + 512, 64);
  if (n > 3) _tile_stored(3, o + 768, 64);
}

#undef DC_TILE_MULTIPLY

// The online softmax state of a query block: per lane, the reference max m (scaled, log2 units)
// and the sum l of the weights.
struct SoftmaxState {
  __m512 m = _mm512_set1_ps(-INFINITY);
  __m512 l = _mm512_setzero_ps();
};

// Weights of the rows [0, 32 · pair_tiles) of the scores s (rows at or past nb, and the keys a
// causal query may not see, are hidden) as bf16 pairs into pt, their sum added to st.l; m only
// moves when the block's max passes it by kRescaleAbove, and then out^T (dv rows) and l are
// rescaled and the weights recomputed. `first` blocks take their max before any weight.
void softmax_block(const AmxPlan& ap, const float* s, int64_t nb, int64_t pair_tiles, const int64_t* idx,
                   int64_t q0, bool first, SoftmaxState& st, float* o, uint32_t* pt) {
  const Plan& p = ap.base;
  const bool causal = p.a->causal;
  const __m512 c = _mm512_set1_ps(ap.c);
  const auto row = [&](int64_t r) {
    if (r >= nb) return _mm512_set1_ps(-INFINITY);
    __m512 x = _mm512_load_ps(s + r * 16);
    if (causal) {
      const int64_t hidden = idx[r] - p.shift - q0;  // lanes below it cannot see key r
      if (hidden > 0) x = V::hide_below(x, hidden < 16 ? int(hidden) : 16);
    }
    return x;
  };
  const auto rescale = [&](__m512 block_max) {
    const __m512 scaled = _mm512_mul_ps(block_max, c);
    const __mmask16 moves = _mm512_cmp_ps_mask(scaled, _mm512_add_ps(st.m, _mm512_set1_ps(kRescaleAbove)), _CMP_GT_OQ);
    if (!moves) return false;
    const __m512 m_new = _mm512_mask_mov_ps(st.m, moves, scaled);
    // exp2(-inf - x) = 0 for lanes that saw nothing before (their sums are still 0).
    const __m512 corr = V::exp2(_mm512_sub_ps(st.m, _mm512_max_ps(m_new, _mm512_set1_ps(-FLT_MAX))));
    st.l = _mm512_mul_ps(st.l, corr);
    if (!first) {  // before the first block's products out^T is still zero
      for (int64_t d = 0; d < ap.dv; ++d) _mm512_store_ps(o + d * 16, _mm512_mul_ps(_mm512_load_ps(o + d * 16), corr));
    }
    st.m = m_new;
    return true;
  };
  if (first) {
    __m512 block_max = _mm512_set1_ps(-INFINITY);
    for (int64_t r = 0; r < nb; ++r) block_max = _mm512_max_ps(block_max, row(r));
    rescale(block_max);
  }
  for (;;) {
    const __m512 m_sub = _mm512_max_ps(st.m, _mm512_set1_ps(-FLT_MAX));
    __m512 sum = _mm512_setzero_ps(), block_max = _mm512_set1_ps(-INFINITY);
    for (int64_t r2 = 0; r2 < pair_tiles * 16; ++r2) {
      const __m512 s0 = row(2 * r2), s1 = row(2 * r2 + 1);
      block_max = _mm512_max_ps(block_max, _mm512_max_ps(s0, s1));
      const __m512 e0 = exp2_weights(_mm512_fmsub_ps(s0, c, m_sub));
      const __m512 e1 = exp2_weights(_mm512_fmsub_ps(s1, c, m_sub));
      sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
      _mm512_store_si512(pt + r2 * 16, pair_rows(e0, e1));
    }
    if (!rescale(block_max)) {  // weights made with the final m
      st.l = _mm512_add_ps(st.l, sum);
      return;
    }
  }
}

// Out rows of the group's queries [q0, q0 + nq): O^T transposed 16 x 16 at a time, divided by the
// sums (0 with no visible key).
void finish_group(const AmxPlan& ap, int64_t b, int64_t h, int64_t q0, int64_t nq, const SoftmaxState* st,
                  const AmxWorkspace& ws) {
  const Plan& p = ap.base;
  const AttentionArgs& a = *p.a;
  const int groups = int((nq + 15) / 16);
  for (int g = 0; g < groups; ++g) {
    const int64_t qg = q0 + 16 * g;
    const int count = nq - 16 * g < 16 ? int(nq - 16 * g) : 16;
    const float* o = ws.o + g * ap.dv * 16;
    alignas(64) float inv_lanes[16];
    _mm512_store_ps(inv_lanes, V::inv_or_zero(st[g].l));
    for (int64_t d0 = 0; d0 < ap.dv; d0 += 16) {
      __m512 r[16];
      for (int t = 0; t < 16; ++t) r[t] = _mm512_load_ps(o + (d0 + t) * 16);
      V::transpose(r);  // r[i]: head_dim d0..d0+15 of query i
      const int dims = a.D - d0 < 16 ? int(a.D - d0) : 16;
      for (int i = 0; i < count; ++i) {
        const __m512 y = _mm512_mul_ps(r[i], _mm512_set1_ps(inv_lanes[i]));
        if (p.bf16_out) {
          uint16_t* out = static_cast<uint16_t*>(row_at(a.out, a.o_stride, 2, b, h, qg + i)) + d0;
          vstore_bf16_part(out, y, dims);
        } else {
          float* out = static_cast<float*>(row_at(a.out, a.o_stride, 4, b, h, qg + i)) + d0;
          _mm512_mask_storeu_ps(out, V::first(dims), y);
        }
      }
    }
  }
}

// Queries [q0, q0 + nq) of (b, h), nq <= 16 · ap.group, over the n gathered keys: for each
// key block in turn, each query block of the group that sees it. Software-pipelined: the scores of
// the next (key block, query block) pair are multiplied on the tiles while the softmax of this one
// runs on the vector units.
void attend_group(const AmxPlan& ap, int64_t b, int64_t h, int64_t q0, int64_t nq, int64_t n,
                  AmxWorkspace& ws) {
  const Plan& p = ap.base;
  const AttentionArgs& a = *p.a;
  const int groups = int((nq + 15) / 16);
  int64_t visible[kGroupBlocks];
  SoftmaxState st[kGroupBlocks];
  for (int g = 0; g < groups; ++g) {
    const int64_t qg = q0 + 16 * g;
    const int count = nq - 16 * g < 16 ? int(nq - 16 * g) : 16;
    pack_queries(ap, b, h, qg, count, ws.qt + g * ap.dp * 8, ws);
    std::memset(ws.o + g * ap.dv * 16, 0, size_t(ap.dv) * 16 * 4);
    // Keys the block's queries may see (the gathered keys are in position order).
    visible[g] = n;
    if (a.causal) {
      const int64_t last = qg + count - 1 + p.shift;
      while (visible[g] > 0 && ws.idx[visible[g] - 1] > last) --visible[g];
    }
  }
  const int64_t dk_tiles = ap.dp / kTileK, d_tiles = ap.dv / kTile;
  const int64_t blocks = (visible[groups - 1] + kKeyBlock - 1) / kKeyBlock;  // the last sees most
  // The (key block j, query block g) pairs in order, each with its key rows; j = blocks past the end.
  struct Pair {
    int64_t j;
    int g;
    int64_t rows;
  };
  const auto next = [&](Pair at) {
    for (;;) {
      if (++at.g == groups) {
        at.g = 0;
        if (++at.j == blocks) return at;
      }
      const int64_t left = visible[at.g] - at.j * kKeyBlock;
      if (left > 0) {
        at.rows = left < kKeyBlock ? left : kKeyBlock;
        return at;
      }
    }
  };
  const auto issue = [&](const Pair& at) {
    issue_scores(ws.k + at.j * kKeyBlock * ap.dp, ap.dp, ws.qt + at.g * ap.dp * 8, dk_tiles,
                 int((at.rows + 15) / 16));
  };
  if (blocks == 0) return finish_group(ap, b, h, q0, nq, st, ws);
  Pair at = next({0, -1, 0});
  issue(at);
  store_scores(int((at.rows + 15) / 16), ws.s);
  for (int buffer = 0; at.j < blocks; buffer = 1 - buffer) {
    const int64_t k0 = at.j * kKeyBlock, pair_tiles = (at.rows + 31) / 32;
    float* o = ws.o + at.g * ap.dv * 16;
    const Pair after = next(at);
    if (after.j < blocks) issue(after);
    SoftmaxState state = st[at.g];
    softmax_block(ap, ws.s + buffer * kKeyBlock * 16, at.rows, pair_tiles, ws.idx + k0, q0 + 16 * at.g, at.j == 0,
                  state, o, ws.pt);
    st[at.g] = state;
    if (after.j < blocks) store_scores(int((after.rows + 15) / 16), ws.s + (1 - buffer) * kKeyBlock * 16);
    // O^T += V^T P^T, 16 head_dim rows per accumulator.
    for (int64_t dt = 0; dt < d_tiles; dt += 4)
      value_tiles(o + dt * 256, ws.vt + dt * 16 * ws.cap + k0, ws.cap, ws.pt, int(pair_tiles),
                  int(d_tiles - dt < 4 ? d_tiles - dt : 4));
    at = after;
  }
  finish_group(ap, b, h, q0, nq, st, ws);
}

void attend_amx(const AttentionArgs& a) {
  AmxPlan ap;
  Plan& p = ap.base;
  p.a = &a;
  p.keys = a.p_len + a.Nk;
  p.shift = p.keys - a.Nq;
  p.vecs = int((a.D + 15) / 16);
  p.row = p.vecs * 16;
  p.bf16_in = true;
  p.bf16_out = a.out_dtype == DC_BF16;
  p.in_bytes = 2;
  ap.dp = (a.D + kTileK - 1) / kTileK * kTileK;
  ap.dv = (a.D + kTile - 1) / kTile * kTile;
  ap.c = a.scale * kLog2e;
  ap.group = p.keys * (ap.dp + ap.dv) * 2 > kGroupAboveBytes ? kGroupBlocks : 1;
  HeapArray<float> rope(a.rope_freqs ? (a.Nq + p.keys) * 2 * p.row : 0);
  if (a.rope_freqs) {
    fill_rope_table(p, a.q_pos0, a.Nq, rope.p);
    fill_rope_table(p, a.k_pos0, p.keys, rope.p + a.Nq * 2 * p.row);
    p.rope_q = rope.p;
    p.rope_k = rope.p + a.Nq * 2 * p.row;
  }
  // Items: (batch, head, query chunk); a (batch, head) is split only when there are fewer of
  // them than threads, since each chunk gathers the keys again.
  const int64_t bh = a.B * a.H, threads = num_threads();
  const int64_t blocks = (a.Nq + 15) / 16;
  int64_t chunks = bh >= threads ? 1 : (threads + bh - 1) / bh;
  if (chunks > blocks) chunks = blocks;
  const int64_t items = bh * chunks;
  int64_t workers = threads < items ? threads : items;
  HeapArray<AmxWorkspace*> spaces(workers);
  for (int64_t w = 0; w < workers; ++w) spaces.p[w] = nullptr;
  struct Owner {
    HeapArray<AmxWorkspace*>& s;
    int64_t n;
    ~Owner() {
      for (int64_t i = 0; i < n; ++i) delete s.p[i];
    }
  } owner{spaces, workers};
  for (int64_t w = 0; w < workers; ++w) spaces.p[w] = new AmxWorkspace(ap, p.keys);
  parallel_for(workers, 1, [&](int64_t w0, int64_t w1) {
    const TileScope tiles;
    for (int64_t w = w0; w < w1; ++w) {
      AmxWorkspace& ws = *spaces.p[w];
      for (int64_t item = items * w / workers; item < items * (w + 1) / workers; ++item) {
        const int64_t pair = item / chunks, chunk = item % chunks;
        const int64_t b = pair / a.H, h = pair % a.H;
        const int64_t q_begin = blocks * chunk / chunks * 16, q_end_block = blocks * (chunk + 1) / chunks * 16;
        const int64_t q_end = q_end_block < a.Nq ? q_end_block : a.Nq;
        const int64_t key_end = a.causal && q_end + p.shift < p.keys ? q_end + p.shift : p.keys;
        const int64_t n = gather(ap, b, h, key_end, ws);
        const int64_t step = 16 * ap.group;
        for (int64_t q0 = q_begin; q0 < q_end; q0 += step)
          attend_group(ap, b, h, q0, q_end - q0 < step ? q_end - q0 : step, n, ws);
      }
    }
  });
}

}  // namespace

// bf16 q/k/v with enough queries and visible keys to amortise the packing run on tiles (measured:
// a 300-key caption with 40 visible keys runs faster on the fused kernel, with 120 on tiles); the
// rest on the fused kernel.
void attention_amx(const AttentionArgs& a) {
  const int64_t keys = a.p_len + a.Nk;
  int64_t visible = keys;
  if (a.mask) {
    visible = 0;
    for (int64_t b = 0; b < a.B; ++b) {
      int64_t n = 0;
      for (int64_t j = 0; j < keys; ++j) n += key_visible(a, b, j) ? 1 : 0;
      visible = n > visible ? n : visible;
    }
  }
  if (a.dtype == DC_BF16 && a.Nq >= kMinQueries && visible >= kMinKeys) {
    attend_amx(a);
  } else {
    attention_kernel(a);
  }
}

}  // namespace dc::cpu::DC_ISA_NS
