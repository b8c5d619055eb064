// AVX-512 GEMM on FMAs; bf16 weights are widened to fp32 while packing (the avx512_bf16 folder
// multiplies them natively).
#include "../impl/fma_peak.h"
#include "../impl/gemm_avx512.h"
#include "../impl/gemm_entry.h"

namespace dc::cpu::DC_ISA_NS {

void gemm_f32(const GemmArgs& g) { run_gemm<StepF32, Transposed<WeightsF32>, Shape>(g); }

void gemm_bf16(const GemmArgs& g) { run_gemm<StepF32, WeightsBf16Widened, Shape>(g); }

void pack_weight(const GemmArgs& g, dc_dtype to, void* dst) {
  pack_weight_panels<Transposed<WeightsF32>, WeightsBf16Widened, Transposed<WeightsBf16Pairs>, WeightsF32Pairs>(g, to, static_cast<uint32_t*>(dst));
}

double fma_peak_loop(int64_t iterations) { return run_fma_peak_loop<StepF32, 16>(iterations); }

}  // namespace dc::cpu::DC_ISA_NS
