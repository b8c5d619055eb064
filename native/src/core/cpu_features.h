// Run-time CPU feature detection and the choice of kernel variant.
#pragma once
#include "ditcache.h"

namespace dc {

struct CpuFeatures {
  bool avx2 = false;       // with FMA and F16C
  bool avx512 = false;     // F, BW, DQ, VL, with OS support for the ZMM state
  bool avx512_bf16 = false;
};

const CpuFeatures& cpu_features();
bool isa_compiled(dc_isa isa);
dc_isa detected_isa();
dc_isa active_isa();
dc_status set_active_isa(dc_isa isa);

}  // namespace dc
