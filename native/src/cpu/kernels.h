// The CPU backend: one kernel table per instruction set, chosen at run time (cpu_features.h).
// Each ISA's kernels live in their own folder, compiled with that ISA's -m flags and inside the
// namespace dc::cpu::<isa> so no symbol compiled for a wider ISA can be picked for a narrower one.
#pragma once
#include "../core/op_args.h"

namespace dc::cpu {

struct KernelTable {
  dc_isa isa;
  void (*gemm)(const GemmArgs&);       // F32 weights (row-major or packed)
  void (*gemm_bf16)(const GemmArgs&);  // BF16 weights: AMX tiles or vdpbf16ps where the CPU has them, else widened
  void (*pack_weight)(const GemmArgs&, dc_dtype to, void* dst);  // gemm_panels.h
  void (*attention)(const AttentionArgs&);
  void (*norm)(const NormArgs&);
  void (*elementwise)(const ElementwiseArgs&);
  void (*rope)(const RopeArgs&);
  void (*distance)(const DistanceArgs&, double* num, double* den);
  void (*motion)(const MotionArgs&, double* num, double* den);
  double (*fma_peak_loop)(int64_t iterations);  // multiply-add chains; returns the flops done
  // bf16 dot-product chains (vdpbf16ps), returning the flops done; null where bf16 is widened.
  double (*bf16_dot_peak_loop)(int64_t iterations) = nullptr;
};

#define DC_DECLARE_ISA_TABLE(ns) \
  namespace ns {                 \
  const KernelTable& table();    \
  }
DC_DECLARE_ISA_TABLE(portable)
DC_DECLARE_ISA_TABLE(avx2)
DC_DECLARE_ISA_TABLE(avx512)
DC_DECLARE_ISA_TABLE(avx512_bf16)
DC_DECLARE_ISA_TABLE(amx)
#undef DC_DECLARE_ISA_TABLE

// The table of the ISA in use (dc_cpu_isa(); native/src/cpu/dispatch.cpp).
const KernelTable& kernels();

// ISA-independent layout kernels (native/src/cpu/layout.cpp).
void patchify(const PatchArgs& a);
void unpatchify(const PatchArgs& a);
// Strided copy with dtype conversion between host tensors of the same shape.
void copy(const dc_tensor* dst, const dc_tensor* src);
void fill(const dc_tensor* t, double value);

}  // namespace dc::cpu
