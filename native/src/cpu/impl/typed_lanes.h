// Float lanes read from and written to rows of either float dtype the CPU kernels take (F32, or
// BF16 widened exactly and narrowed to nearest even). The dtype is a run-time value: callers
// branch once per vector, which is predictable and cheap next to the arithmetic around it.
#pragma once
#include <cstdint>

#include "ditcache.h"
#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

// Lanes [i, i + count) of `row`, count <= kLanes; lanes past count read as zero.
inline vf load_lanes(const void* row, dc_dtype dtype, int64_t i, int64_t count) {
  if (dtype == DC_BF16) {
    const uint16_t* p = static_cast<const uint16_t*>(row) + i;
    return count == kLanes ? vload_bf16(p) : vload_bf16_part(p, count);
  }
  const float* p = static_cast<const float*>(row) + i;
  return count == kLanes ? vload(p) : vload_part(p, count);
}

inline void store_lanes(void* row, dc_dtype dtype, int64_t i, vf v, int64_t count) {
  if (dtype == DC_BF16) {
    uint16_t* p = static_cast<uint16_t*>(row) + i;
    if (count == kLanes) {
      vstore_bf16(p, v);
    } else {
      vstore_bf16_part(p, v, count);
    }
    return;
  }
  float* p = static_cast<float*>(row) + i;
  if (count == kLanes) {
    vstore(p, v);
  } else {
    vstore_part(p, v, count);
  }
}

// Element size in bytes of the float dtypes above.
inline int64_t lane_bytes(dc_dtype dtype) { return dtype == DC_BF16 ? 2 : 4; }

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
