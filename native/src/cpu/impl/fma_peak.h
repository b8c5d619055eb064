// The multiply-add throughput loop behind dc_cpu_fma_peak: enough independent chains to cover
// the latency of every FMA pipe, on the ISA's widest vectors.
#pragma once
#include <cstdint>

#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

// Each chain iterates acc <- acc * x + y, which settles at y / (1 - x) = 1: no overflow and no
// subnormals however long it runs, and no loop-invariant product the compiler could hoist.
template <class Step, int kChains>
double run_fma_peak_loop(int64_t iterations) {
  vf acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = vset(1.f + 0.001f * float(i));
  const vf x = vset(0.9999f), y = vset(0.0001f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 32
    for (int i = 0; i < kChains; ++i) acc[i] = Step::madd(y, acc[i], x);
  }
  vf sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = vadd(sum, acc[i]);
  float lanes[kLanes];
  vstore(lanes, sum);
  volatile float sink = lanes[0];
  (void)sink;
  return double(iterations) * kChains * double(kLanes) * 2.0;
}

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
