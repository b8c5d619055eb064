// The amx kernel table: the avx512_bf16 kernels, with bf16-weight GEMMs and long bf16 attention
// on AMX tiles.
#include "../impl/gemm_entry.h"

namespace dc::cpu::DC_ISA_NS {
void attention_amx(const AttentionArgs& a);
}

namespace dc::cpu::DC_ISA_NS {

const KernelTable& table() {
  static const KernelTable t = [] {
    KernelTable k = avx512_bf16::table();
    k.isa = DC_ISA_AMX;
    k.gemm_bf16 = gemm_bf16;
    k.attention = attention_amx;
    return k;
  }();
  return t;
}

}  // namespace dc::cpu::DC_ISA_NS
