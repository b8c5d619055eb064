// Attention kernel launchers, one translation unit each (attention.cpp chooses among them).
#pragma once
#include <cstdint>

#include "../core/op_args.h"

namespace dc::cuda {

// Tensor-core kernels for head_dim 64, 72 and 128 (sm_80+). They need 16-byte aligned rows of
// q, k, v (and the prefix) and 2-element aligned rows of out: see attention_tc_fits.
dc_status attention_tc_d64(const AttentionArgs& a);
dc_status attention_tc_d72(const AttentionArgs& a);
dc_status attention_tc_d128(const AttentionArgs& a);

// One warp per query row, fp32 throughout: any head_dim up to 256 and any alignment.
dc_status attention_simt(const AttentionArgs& a);

}  // namespace dc::cuda
