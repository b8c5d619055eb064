// Entry points of each ISA's gemm.cpp, for that ISA's kernel table.
#pragma once
#include <cstdint>

#include "../kernels.h"

namespace dc::cpu::DC_ISA_NS {

void gemm_f32(const GemmArgs& g);
// BF16 weights: vdpbf16ps where the CPU has it, else widened to fp32 while packing.
void gemm_bf16(const GemmArgs& g);
// Runs `iterations` rounds of independent multiply-add chains; returns the flops done.
double fma_peak_loop(int64_t iterations);

}  // namespace dc::cpu::DC_ISA_NS
