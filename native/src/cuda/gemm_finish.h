// The part of a fused GEMM that cuBLASLt's epilogues do not cover: SiLU, the grouped gate and the
// residual, applied in one pass over the product.
#pragma once
#include "../core/op_args.h"

namespace dc::cuda {

// out[r, n] = residual[r, n] + gate[g(r), n] * act(t[r, n]) over a.M x a.N, where t (row stride
// ldt) holds the product with its bias (and GELU) already applied, and act is a.act when it is
// SiLU (GELU and none are done by then). Missing gate = 1, missing residual = 0. t may be a.out.
// t == nullptr stands for an empty product (K = 0): bias and activation are then applied here.
dc_status gemm_finish(const GemmArgs& a, const void* t, int64_t ldt);

}  // namespace dc::cuda
