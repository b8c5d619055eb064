// The avx2 kernel table.
#include "../impl/attention.h"
#include "../impl/gemm_entry.h"
#include "../impl/rowwise_entry.h"

namespace dc::cpu::DC_ISA_NS {

const KernelTable& table() {
  static const KernelTable t{
      DC_ISA_AVX2,     gemm_f32, gemm_bf16, pack_weight, attention_kernel,
      norm_kernel,        elementwise_kernel, rope_kernel,       distance_kernel,
      motion_kernel,      fma_peak_loop,
  };
  return t;
}

}  // namespace dc::cpu::DC_ISA_NS
