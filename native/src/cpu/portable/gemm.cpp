// Portable GEMM on GCC vector extensions (SSE2 on baseline x86-64, NEON on Arm): 6 x 8 tiles of
// 4-lane vectors, multiply then add; bf16 weights are widened to fp32 while packing.
#include <cstring>

#include "../impl/fma_peak.h"
#include "../impl/gemm.h"
#include "../impl/gemm_entry.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

typedef float Vec4 __attribute__((vector_size(16)));

struct F32Step : PackF32 {
  using V = Vec4;
  using VA = Vec4;
  using VB = Vec4;
  static VB load_b(const float* p) {
    VB v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static VA broadcast_a(const float* p) { return VA{} + *p; }
  static V madd(V acc, VA a, VB b) { return acc + a * b; }
};

using Shape = GemmShape<6, 2, 256, 16, 48>;

}  // namespace

void gemm_f32(const GemmArgs& g) { run_gemm<F32Step, WeightsF32, Shape>(g); }

void gemm_bf16(const GemmArgs& g) { run_gemm<F32Step, WeightsBf16Widened, Shape>(g); }

double fma_peak_loop(int64_t iterations) { return run_fma_peak_loop<F32Step, 12>(iterations); }

}  // namespace dc::cpu::DC_ISA_NS
