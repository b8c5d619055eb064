// AVX2 GEMM: 6 x 16 tiles (12 ymm accumulators, two for the B row, one broadcast); bf16 weights
// are widened to fp32 while packing.
#include <immintrin.h>

#include "../impl/fma_peak.h"
#include "../impl/gemm.h"
#include "../impl/gemm_entry.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

struct F32Step : PackF32 {
  using V = __m256;
  using VA = __m256;
  using VB = __m256;
  static VB load_b(const float* p) { return _mm256_load_ps(p); }
  static VA broadcast_a(const float* p) { return _mm256_broadcast_ss(p); }
  static V madd(V acc, VA a, VB b) { return _mm256_fmadd_ps(a, b, acc); }
};

using Shape = GemmShape<6, 2, 256, 16, 48>;

}  // namespace

void gemm_f32(const GemmArgs& g) { run_gemm<F32Step, WeightsF32, Shape>(g); }

void gemm_bf16(const GemmArgs& g) { run_gemm<F32Step, WeightsBf16Widened, Shape>(g); }

double fma_peak_loop(int64_t iterations) { return run_fma_peak_loop<F32Step, 12>(iterations); }

}  // namespace dc::cpu::DC_ISA_NS
