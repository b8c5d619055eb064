// Portable GEMM on GCC vector extensions (SSE2 on baseline x86-64, NEON on Arm): 6 x 8 tiles of
// 4-lane vectors, multiply then add; bf16 weights are widened to fp32 while packing.
#include "../impl/fma_peak.h"
#include "../impl/gemm.h"
#include "../impl/gemm_entry.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

using Shape = GemmShape<6, 2, 1152, 16, 48>;

}  // namespace

void gemm_f32(const GemmArgs& g) { run_gemm<StepF32, WeightsF32, Shape>(g); }

void gemm_bf16(const GemmArgs& g) { run_gemm<StepF32, WeightsBf16Widened, Shape>(g); }

void pack_weight(const GemmArgs& g, dc_dtype to, void* dst) {
  pack_weight_panels<WeightsF32, WeightsBf16Widened, WeightsBf16Pairs, WeightsF32Pairs>(g, to, static_cast<uint32_t*>(dst));
}

double fma_peak_loop(int64_t iterations) { return run_fma_peak_loop<StepF32, 12>(iterations); }

}  // namespace dc::cpu::DC_ISA_NS
