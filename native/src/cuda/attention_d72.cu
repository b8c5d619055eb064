// Tensor-core attention for head_dim 72 (f16 and bf16 compute).
#include "attention_tc.cuh"

namespace dc::cuda {

dc_status attention_tc_d72(const AttentionArgs& a) { return attn::launch_tc_for_dtype<72>(a); }

}  // namespace dc::cuda
