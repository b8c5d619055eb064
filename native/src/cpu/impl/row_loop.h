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
};

struct TailLanes {
  int64_t c, n;
  vf load(const float* p) const { return vload_part(p + c, n); }
};

// o[0, C) = body(lanes).
template <class Body>
inline void map_row(float* o, int64_t C, Body&& body) {
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes) vstore(o + c, body(FullLanes{c}));
  if (c < C) vstore_part(o + c, body(TailLanes{c, C - c}), C - c);
}

// Sum of body(lanes) over [0, C); lanes past the end count as zero. Two accumulators hide the
// latency of the additions on rows that sit in L1.
template <class Body>
inline float sum_row(int64_t C, Body&& body) {
  vf s0 = vset(0.f), s1 = vset(0.f);
  int64_t c = 0;
  for (; c + 2 * kLanes <= C; c += 2 * kLanes) {
    s0 = vadd(s0, body(FullLanes{c}));
    s1 = vadd(s1, body(FullLanes{c + kLanes}));
  }
  if (c + kLanes <= C) {
    s0 = vadd(s0, body(FullLanes{c}));
    c += kLanes;
  }
  if (c < C) s1 = vadd(s1, vlanes(body(TailLanes{c, C - c}), C - c, 0.f));
  return vsum(vadd(s0, s1));
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
