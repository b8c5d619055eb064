// dc_attention on the device: the tensor-core kernel for head_dim 64, 72 and 128 when rows are
// aligned for 16-byte copies, the SIMT kernel otherwise.
#include <cstdint>

#include "attention_kernels.h"
#include "backend.h"

namespace dc::cuda {

namespace {

bool aligned(const void* p, const int64_t* stride, int64_t bytes, int64_t esize) {
  if (reinterpret_cast<uintptr_t>(p) % uint64_t(bytes)) return false;
  for (int i = 0; i < 3; ++i)
    if ((stride[i] * esize) % bytes) return false;
  return true;
}

// The tensor-core kernel stages rows in 16-byte chunks and stores output pairs.
bool tensor_core_fits(const AttentionArgs& a) {
  const int64_t es = a.dtype == DC_F32 ? 4 : 2;
  const bool prefix_ok = a.p_len == 0 || (aligned(a.pk, a.pk_stride, 16, es) && aligned(a.pv, a.pv_stride, 16, es));
  return aligned(a.q, a.q_stride, 16, es) && aligned(a.k, a.k_stride, 16, es) &&
         aligned(a.v, a.v_stride, 16, es) && prefix_ok && aligned(a.out, a.o_stride, 2 * es, es);
}

}  // namespace

dc_status attention(const AttentionArgs& a) {
  if (tensor_core_fits(a)) {
    switch (a.D) {
      case 64: return attention_tc_d64(a);
      case 72: return attention_tc_d72(a);
      case 128: return attention_tc_d128(a);
      default: break;
    }
  }
  return attention_simt(a);
}

}  // namespace dc::cuda
