// Run-time CPU feature detection: what the processor and the operating system let this process
// run. Which kernel variant is chosen from these (and how fast they really are) is the CPU
// backend's business (native/src/cpu/dispatch.cpp).
#pragma once

namespace dc {

struct CpuFeatures {
  bool avx2 = false;         // with FMA and F16C
  bool avx512 = false;       // F, BW, DQ, VL, with OS support for the ZMM state
  bool avx512_bf16 = false;  // vdpbf16ps / vcvtne2ps2bf16 on top of avx512
  bool amx_bf16 = false;     // AMX-TILE and AMX-BF16 on top of avx512_bf16, tile state enabled by
                             // the OS and tile data granted to this process
  // Why AMX is not usable when the CPU has it (the OS refused the tile-data permission, ...);
  // empty otherwise.
  const char* amx_refusal = "";
};

const CpuFeatures& cpu_features();

}  // namespace dc
