// The avx512_bf16 kernel table: the avx512 kernels, with bf16 operands multiplied natively.
#include "../impl/gemm_entry.h"

namespace dc::cpu::DC_ISA_NS {

const KernelTable& table() {
  static const KernelTable t = [] {
    KernelTable k = avx512::table();
    k.isa = DC_ISA_AVX512_BF16;
    k.gemm_bf16 = gemm_bf16;
    k.bf16_dot_peak_loop = bf16_dot_peak_loop;
    return k;
  }();
  return t;
}

}  // namespace dc::cpu::DC_ISA_NS
