// Loops over one row in float vectors. The body is a generic lambda called with FullLanes for the
// whole vectors and TailLanes once for the remainder; both expose load(p) (the lanes at p + c), so
// the body is written once and the tail needs no scalar copy of it.
#pragma once
#include <cmath>
#include <cstdint>

#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

struct FullLanes {
  int64_t c;
  vf load(const float* p) const { return vload(p + c); }
  void store(float* p, vf v) const { vstore(p + c, v); }
};

struct TailLanes {
  int64_t c, n;
  vf load(const float* p) const { return vload_part(p + c, n); }
  void store(float* p, vf v) const { vstore_part(p + c, v, n); }
};

// o[0, C) = body(lanes).
template <class Body>
inline void map_row(float* o, int64_t C, Body&& body) {
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes) vstore(o + c, body(FullLanes{c}));
  if (c < C) vstore_part(o + c, body(TailLanes{c, C - c}), C - c);
}

// K sums over [0, n) into double totals: body(lanes, part) adds its K terms to part[0, K), and
// lanes past n load as zero and must add zero. Partial sums stay in float for at most 16 vectors
// (two interleaved sets, so consecutive additions do not wait on each other).
template <int K, class Body>
inline void accumulate(int64_t n, VecSumD (&totals)[K], Body&& body) {
  constexpr int64_t kBlock = 16 * kLanes;
  for (int64_t i = 0; i < n;) {
    vf even[K], odd[K];
    for (int k = 0; k < K; ++k) even[k] = odd[k] = vset(0.f);
    const int64_t stop = n - i > kBlock ? i + kBlock : n;
    for (; i + 2 * kLanes <= stop; i += 2 * kLanes) {
      body(FullLanes{i}, even);
      body(FullLanes{i + kLanes}, odd);
    }
    if (i + kLanes <= stop) {
      body(FullLanes{i}, even);
      i += kLanes;
    }
    if (i < stop) {
      body(TailLanes{i, stop - i}, odd);
      i = stop;
    }
    for (int k = 0; k < K; ++k) totals[k].add(vadd(even[k], odd[k]));
  }
}

inline float max_row(const float* x, int64_t C) {
  vf m = vset(-INFINITY);
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes) m = vmax(m, vload(x + c));
  if (c < C) m = vmax(m, vload_part(x + c, C - c, -INFINITY));
  return vmax_lanes(m);
}

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
