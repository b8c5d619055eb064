// Loops over one row in float vectors. The body is a generic lambda called with FullLanes for the
// whole vectors and TailLanes once for the remainder; both expose load(p) (the lanes at p + c), so
// the body is written once and the tail needs no scalar copy of it.
// Rows hold float or bf16_t elements: the element type of a pointer picks its loads and stores
// (bf16 widened exactly, narrowed once to nearest even), so a kernel instantiated for the
// (input, output) types of a call has no dtype branch in its loops.
#pragma once
#include <cmath>
#include <cstdint>

#include "ditcache.h"
#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

// A bf16 element as stored: the high half of the float it stands for.
struct bf16_t {
  uint16_t bits;
};

inline const uint16_t* bits_of(const bf16_t* p) { return reinterpret_cast<const uint16_t*>(p); }
inline uint16_t* bits_of(bf16_t* p) { return reinterpret_cast<uint16_t*>(p); }
inline vf vload(const bf16_t* p) { return vload_bf16(bits_of(p)); }
inline vf vload_part(const bf16_t* p, int64_t n, float fill = 0.f) {
  return vload_bf16_part(bits_of(p), n, fill);
}
inline void vstore(bf16_t* p, vf v) { vstore_bf16(bits_of(p), v); }
inline void vstore_part(bf16_t* p, vf v, int64_t n) { vstore_bf16_part(bits_of(p), v, n); }

// Calls f(T{}) with T the element type of a float dtype the CPU kernels take (F32 or BF16).
template <class F>
inline void with_element(dc_dtype dtype, F&& f) {
  if (dtype == DC_BF16) {
    f(bf16_t{});
  } else {
    f(float{});
  }
}

struct FullLanes {
  int64_t c;
  template <class T>
  vf load(const T* p) const { return vload(p + c); }
  template <class T>
  void store(T* p, vf v) const { vstore(p + c, v); }
};

struct TailLanes {
  int64_t c, n;
  template <class T>
  vf load(const T* p) const { return vload_part(p + c, n); }
  template <class T>
  void store(T* p, vf v) const { vstore_part(p + c, v, n); }
};

// o[0, C) = body(lanes).
template <class O, class Body>
inline void map_row(O* o, int64_t C, Body&& body) {
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

template <class X>
inline float max_row(const X* x, int64_t C) {
  vf m = vset(-INFINITY);
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes) m = vmax(m, vload(x + c));
  if (c < C) m = vmax(m, vload_part(x + c, C - c, -INFINITY));
  return vmax_lanes(m);
}

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
