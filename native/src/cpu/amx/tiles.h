// The AMX tile state of the kernels in this folder: palette 1, every tile 16 rows of 64 bytes
// (16 x 16 fp32 accumulators, 16 x 32 bf16 A operands, 16 pairs x 16 columns B operands).
#pragma once
#include <cstdint>

#include "../impl/intrinsics.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

constexpr int kTile = 16;   // rows of every tile; columns of the accumulators
constexpr int kTileK = 32;  // bf16 per A tile row

// Loaded by each thread before its first tile instruction and released after its last, so no
// thread keeps tile state it does not use (the kernel saves it on every context switch).
class TileScope {
 public:
  TileScope() {
    struct alignas(64) Config {
      uint8_t palette = 1, start_row = 0, reserved[14] = {};
      uint16_t colsb[16] = {};
      uint8_t rows[16] = {};
    } config;
    for (int t = 0; t < 8; ++t) {
      config.colsb[t] = 64;
      config.rows[t] = kTile;
    }
    _tile_loadconfig(&config);
  }
  ~TileScope() { _tile_release(); }
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;
};

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
