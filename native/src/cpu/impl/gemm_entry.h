// Entry points of each ISA's gemm.cpp, for that ISA's kernel table.
#pragma once
#include <cstdint>

#include "../kernels.h"

namespace dc::cpu::DC_ISA_NS {

void gemm_f32(const GemmArgs& g);
// W (row-major F32 or BF16) into `dst` in the panels of gemm_panels.h for dtype `to`.
void pack_weight(const GemmArgs& g, dc_dtype to, void* dst);
// BF16 weights: multiplied natively in the folders of ISAs with bf16 instructions, widened to
// fp32 while packing in the others.
void gemm_bf16(const GemmArgs& g);
// Runs `iterations` rounds of independent multiply-add chains; returns the flops done.
double fma_peak_loop(int64_t iterations);
// The same for bf16 dot products (ISAs with bf16 instructions only).
double bf16_dot_peak_loop(int64_t iterations);

}  // namespace dc::cpu::DC_ISA_NS
