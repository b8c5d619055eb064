// GEMM with bf16 weights on AMX tiles (tdpbf16ps): fp32 accumulation in tiles, A rounded to bf16
// (as the avx512_bf16 kernel rounds it), the epilogue of gemm.h. Only this folder is compiled
// with the AMX flags, so no tile instruction reaches code that runs on a CPU without them.
//
// A 32 x 32 block of out is four 16 x 16 fp32 accumulator tiles (0-3), fed per 32 k by two A
// tiles (4-5: 16 rows of 32 bf16, read in place from A when A is bf16 with K a multiple of 32,
// else from a bf16 copy of the block's rows) and two B tiles (6-7: 16 bf16 pairs x 16 columns,
// exactly 1 KiB of a weight panel, gemm_panels.h). Every loaded tile feeds two products, so the
// tile loads must come from L1 and L2 at the rate of the products: K is taken in chunks whose
// piece of a panel pair (16 KiB) stays in L1, beside the 32 KiB of accumulators, while the rows
// of a row block (in L2) stream past it, the accumulators going to L1 between chunks. Every
// 32-column block of W is read once per row block.
#include <cstring>

#include "../impl/gemm_avx512.h"
#include "../impl/gemm_entry.h"
#include "tiles.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

constexpr int kBlock = 2 * kTile;
constexpr size_t kABlockBytes = size_t(1) << 20;  // the bf16 rows of A of one row block
constexpr int kMaxRowBlocks = 8;
constexpr int64_t kChunkTiles = 8;  // k tiles (of 32) per chunk: 16 KiB of a panel pair

// The weight's panels as BF16 pairs (StepPanels' view of the packed layout).
struct AmxPanels {
  using BElem = uint32_t;
  static constexpr dc_dtype kPanelDtype = DC_BF16;
};

// c (32 x 32 floats, row stride 32) = (accumulate ? c : 0) + A rows [a, a + 16 * MA) x the
// panels b[0..NB) over k_tiles.
template <int MA, int NB>
void tile_block(const uint16_t* a, int64_t a_stride, const uint32_t* b0, const uint32_t* b1,
                int64_t k_tiles, float* c, bool accumulate) {
  if (accumulate) {
    _tile_loadd(0, c, kBlock * 4);
    if (NB == 2) _tile_loadd(1, c + kTile, kBlock * 4);
    if (MA == 2) _tile_loadd(2, c + kTile * kBlock, kBlock * 4);
    if (MA == 2 && NB == 2) _tile_loadd(3, c + kTile * kBlock + kTile, kBlock * 4);
  } else {
    _tile_zero(0);
    if (NB == 2) _tile_zero(1);
    if (MA == 2) _tile_zero(2);
    if (MA == 2 && NB == 2) _tile_zero(3);
  }
  const uint16_t* a1 = a + kTile * a_stride;
  for (int64_t kt = 0; kt < k_tiles; ++kt) {
    _tile_loadd(4, a + kt * kTileK, a_stride * 2);
    _tile_loadd(6, b0 + kt * kTile * kTile, 64);
    if (NB == 2) _tile_loadd(7, b1 + kt * kTile * kTile, 64);
    _tile_dpbf16ps(0, 4, 6);
    if (NB == 2) _tile_dpbf16ps(1, 4, 7);
    if (MA == 2) {
      _tile_loadd(5, a1 + kt * kTileK, a_stride * 2);
      _tile_dpbf16ps(2, 5, 6);
      if (NB == 2) _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, c, kBlock * 4);
  if (NB == 2) _tile_stored(1, c + kTile, kBlock * 4);
  if (MA == 2) _tile_stored(2, c + kTile * kBlock, kBlock * 4);
  if (MA == 2 && NB == 2) _tile_stored(3, c + kTile * kBlock + kTile, kBlock * 4);
}

void tile_block_any(int ma, int nb, const uint16_t* a, int64_t a_stride, const uint32_t* b0,
                    const uint32_t* b1, int64_t k_tiles, float* c, bool accumulate) {
  if (ma == 2) {
    if (nb == 2) {
      tile_block<2, 2>(a, a_stride, b0, b1, k_tiles, c, accumulate);
    } else {
      tile_block<2, 1>(a, a_stride, b0, b1, k_tiles, c, accumulate);
    }
  } else if (nb == 2) {
    tile_block<1, 2>(a, a_stride, b0, b1, k_tiles, c, accumulate);
  } else {
    tile_block<1, 1>(a, a_stride, b0, b1, k_tiles, c, accumulate);
  }
}

// Rows [m0, m0 + rows) of A as bf16 rows of kp elements (zero past K), then zero rows up to
// `padded_rows`.
void copy_a_rows(const GemmArgs& g, int64_t m0, int64_t rows, int64_t padded_rows, int64_t kp,
                 uint16_t* dst) {
  for (int64_t i = 0; i < rows; ++i) {
    const char* src = static_cast<const char*>(g.a) + (m0 + i) * g.lda * lane_bytes(g.a_dtype);
    uint16_t* d = dst + i * kp;
    for (int64_t k = 0; k < kp; k += kLanes) {
      const int64_t count = g.K - k >= kLanes ? kLanes : g.K > k ? g.K - k : 0;
      const vf x = count > 0 ? load_lanes(src, g.a_dtype, k, count) : vset(0.f);
      vstore_bf16(d + k, x);
    }
  }
  std::memset(dst + rows * kp, 0, size_t(padded_rows - rows) * size_t(kp) * 2);
}

}  // namespace

void gemm_bf16(const GemmArgs& g) {
  const StepPanels<AmxPanels, Transposed<WeightsBf16Pairs>> panels(g);
  const int64_t ksteps = panel_ksteps(DC_BF16, g.K), k_tiles = ksteps / kTile, kp = ksteps * 2;
  // A is read in place when its rows are whole tiles of bf16; otherwise each row block is copied.
  const bool a_in_place = g.a_dtype == DC_BF16 && g.K == kp;
  const int64_t m_blocks = ceil_div(g.M, kBlock), n_blocks = ceil_div(g.N, kBlock);
  int64_t rb = int64_t(kABlockBytes / size_t(kBlock * kp * 2));
  rb = rb < 1 ? 1 : rb > kMaxRowBlocks ? kMaxRowBlocks : rb;
  if (rb > m_blocks) rb = m_blocks;
  const GemmParts parts = plan_parts(m_blocks, n_blocks, 2.0 * double(g.M) * double(g.N) * double(g.K));
  const int64_t chunks = (k_tiles + kChunkTiles - 1) / kChunkTiles;
  // Per part: the bf16 rows of a row block (or of one tail block when A is read in place), then
  // the accumulators of each 32 x 32 block of the row block between chunks.
  const size_t a_bytes = (size_t(a_in_place ? 1 : rb) * kBlock * size_t(kp) * 2 + 63) / 64 * 64;
  const size_t part_bytes = a_bytes + size_t(rb) * kBlock * kBlock * 4;
  GemmScratch scratch(size_t(parts.count()) * part_bytes);

  parallel_for(parts.count(), 1, [&](int64_t part_begin, int64_t part_end) {
    const TileScope tiles;
    for (int64_t part = part_begin; part < part_end; ++part) {
      char* mine = scratch.as<char>() + size_t(part) * part_bytes;
      uint16_t* a_copy = reinterpret_cast<uint16_t*>(mine);
      float* acc = reinterpret_cast<float*>(mine + a_bytes);
      const int64_t pm = part / parts.tn, pn = part % parts.tn;
      const int64_t m_begin = m_blocks * pm / parts.tm, m_end = m_blocks * (pm + 1) / parts.tm;
      const int64_t n_begin = n_blocks * pn / parts.tn, n_end = n_blocks * (pn + 1) / parts.tn;
      for (int64_t ic = m_begin; ic < m_end; ic += rb) {
        const int64_t blocks = m_end - ic < rb ? m_end - ic : rb;
        const int64_t row0 = ic * kBlock;
        const int64_t rows = g.M - row0 < blocks * kBlock ? g.M - row0 : blocks * kBlock;
        if (!a_in_place) copy_a_rows(g, row0, rows, blocks * kBlock, kp, a_copy);
        // The last rows of A read in place: tiles must not read past them.
        const bool tail = a_in_place && rows < blocks * kBlock;
        if (tail) copy_a_rows(g, row0 + (blocks - 1) * kBlock, rows - (blocks - 1) * kBlock, kBlock, kp, a_copy);
        for (int64_t jc = n_begin; jc < n_end; ++jc) {
          const int64_t n0 = jc * kBlock;
          const int cols = int(g.N - n0 < kBlock ? g.N - n0 : kBlock);
          const uint32_t* b0 = panels.at(n0, 0);
          const uint32_t* b1 = cols > kTile ? panels.at(n0 + kTile, 0) : b0;
          for (int64_t kc = 0; kc < chunks; ++kc) {
            const int64_t t0 = k_tiles * kc / chunks, t1 = k_tiles * (kc + 1) / chunks;
            for (int64_t ir = 0; ir < blocks; ++ir) {
              const int64_t m0 = row0 + ir * kBlock;
              const int block_rows = int(g.M - m0 < kBlock ? g.M - m0 : kBlock);
              const uint16_t* a;
              int64_t a_stride;
              if (!a_in_place) {
                a = a_copy + ir * kBlock * kp;
                a_stride = kp;
              } else if (tail && ir == blocks - 1) {
                a = a_copy;
                a_stride = kp;
              } else {
                a = static_cast<const uint16_t*>(g.a) + m0 * g.lda;
                a_stride = g.lda;
              }
              float* c = acc + ir * kBlock * kBlock;
              // The epilogue's out (and residual) lines, asked for while the last chunk multiplies.
              if (kc == chunks - 1) prefetch_tile_outputs(g, m0, block_rows, n0, cols);
              tile_block_any(block_rows > kTile ? 2 : 1, cols > kTile ? 2 : 1, a + t0 * kTileK, a_stride,
                             b0 + t0 * kTile * kTile, b1 + t0 * kTile * kTile, t1 - t0, c, kc > 0);
              if (kc == chunks - 1) epilogue(g, c, kBlock, m0, block_rows, n0, cols);
            }
          }
        }
      }
    }
  });
}

}  // namespace dc::cpu::DC_ISA_NS
