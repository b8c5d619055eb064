// GEMM with bf16 weights on vdpbf16ps: bf16 pairs along k, A rounded to bf16 while packing,
// fp32 accumulation. Only this folder is compiled with -mavx512bf16, so no BF16 instruction can
// reach code that runs on an AVX-512 CPU without them.
#include <cstring>

#include "../impl/gemm_avx512.h"
#include "../impl/gemm_entry.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

// bf16 pairs along k (low half = even k), the operand layout of vdpbf16ps; odd K padded with 0.
struct StepBf16Pairs {
  using AElem = uint32_t;
  using BElem = uint32_t;
  using VA = __m512bh;
  using VB = __m512bh;
  static constexpr dc_dtype kPanelDtype = DC_BF16;
  static int64_t steps(int64_t K) { return (K + 1) / 2; }
  template <class Src>
  static uint32_t a_element(const Src* row, int64_t K, int64_t step) {
    const int64_t k = 2 * step;
    return a_bf16(row[k]) | (k + 1 < K ? a_bf16(row[k + 1]) << 16 : 0u);
  }
  static VB load_b(const uint32_t* p) { return (__m512bh)_mm512_loadu_si512(p); }
  static VA broadcast_a(const uint32_t* p) { return (__m512bh)_mm512_set1_epi32(int(*p)); }
  static vf madd(vf acc, VA a, VB b) { return _mm512_dpbf16_ps(acc, a, b); }
};

}  // namespace

void gemm_bf16(const GemmArgs& g) { run_gemm<StepBf16Pairs, Transposed<WeightsBf16Pairs>, Shape>(g); }

// Independent vdpbf16ps chains, as fma_peak_loop does for FMAs: each instruction is two
// multiply-adds per 32-bit lane. acc grows by 2^-13 per step, so it stays finite and normal.
double bf16_dot_peak_loop(int64_t iterations) {
  constexpr int kChains = 16;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3c003c00);  // bf16 2^-7 in both halves
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, x);
  }
  vf sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = vadd(sum, acc[i]);
  float lanes[kLanes];
  vstore(lanes, sum);
  volatile float sink = lanes[0];
  (void)sink;
  return double(iterations) * kChains * 16.0 * 4.0;
}

}  // namespace dc::cpu::DC_ISA_NS
