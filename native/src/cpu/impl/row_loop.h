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

inline float max_row(const float* x, int64_t C) {
  vf m = vset(-INFINITY);
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes) m = vmax(m, vload(x + c));
  if (c < C) m = vmax(m, vload_part(x + c, C - c, -INFINITY));
  return vmax_lanes(m);
}

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
