// The fused attention kernel of each ISA (native/src/cpu/<isa>/attention.cpp builds it from
// attention_kernel.h).
#pragma once
#include "../../core/op_args.h"

namespace dc::cpu::DC_ISA_NS {

void attention_kernel(const AttentionArgs& a);

}  // namespace dc::cpu::DC_ISA_NS
