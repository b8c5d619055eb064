// The portable kernel table.
#include "../impl/attention.h"
#include "../impl/gemm.h"
#include "../impl/metrics.h"
#include "../impl/rowwise.h"

namespace dc::cpu::DC_ISA_NS {

const KernelTable& table() {
  static const KernelTable t{
      DC_ISA_PORTABLE,     gemm_kernel<false>, gemm_kernel<true>, attention_kernel,
      norm_kernel,        elementwise_kernel, rope_kernel,       distance_kernel,
      motion_kernel,
  };
  return t;
}

}  // namespace dc::cpu::DC_ISA_NS
