// The panel layout every CPU GEMM kernel reads its weights in, whatever the ISA: W [N, K] as
// panels of 16 columns (the last one zero-padded), each panel k-step-major, 16 32-bit elements
// per k step:
//   F32:  one k per step, K steps;
//   BF16: a pair of k per step (k = 2s in the low half, 2s + 1 in the high half: the operand of
//         vdpbf16ps and of AMX's VNNI tiles), zero-padded to whole AMX tiles of 16 steps.
// A panel's 16 steps x 16 columns of BF16 pairs are then exactly one AMX B tile (16 rows of 64
// bytes), 16 columns are one AVX-512 vector, two AVX2 vectors, or four portable ones. dc_gemm
// packs W into it on every call, or reads a weight packed once (dc_gemm_pack_weight); because the
// layout does not depend on the ISA, the ISA may change after packing.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ditcache.h"

namespace dc::cpu {

constexpr int64_t kPanelCols = 16;
constexpr int64_t kPairStepsPerTile = 16;  // AMX tile rows: 16 bf16 pairs = 32 k

inline int64_t panel_count(int64_t N) { return (N + kPanelCols - 1) / kPanelCols; }

// k steps per panel for weights packed as `dtype` (F32 or BF16).
inline int64_t panel_ksteps(dc_dtype dtype, int64_t K) {
  if (dtype != DC_BF16) return K;
  const int64_t pairs = (K + 1) / 2;
  return (pairs + kPairStepsPerTile - 1) / kPairStepsPerTile * kPairStepsPerTile;
}

// Elements (all 32 bits wide) between consecutive panels.
inline int64_t panel_stride(dc_dtype dtype, int64_t K) { return panel_ksteps(dtype, K) * kPanelCols; }

inline size_t packed_weight_bytes(dc_dtype dtype, int64_t N, int64_t K) {
  return size_t(panel_count(N)) * size_t(panel_stride(dtype, K)) * 4;
}

}  // namespace dc::cpu
