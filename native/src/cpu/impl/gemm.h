// GEMM with fused epilogue, out = residual + gate * act(A·Wᵀ + bias), shared by every ISA.
//
// Blocked in the manner of BLIS. W is read in the panels of gemm_panels.h (16 columns, k-major),
// packed once by dc_gemm_pack_weight or here on every call, so that one vector load reads 16 /
// lanes columns at one k step. A (F32 or BF16) is packed per block of (MC rows, KC steps) into
// panels of MR rows, each row a plain copy at a fixed stride, so that a step broadcasts MR values
// at constant offsets from one pointer. A register-blocked MR x NR
// microkernel accumulates one KC block. When K spans several blocks the partial sums wait in a
// per-part buffer, so the epilogue runs exactly once per element, from the last block, reading
// the residual just before writing out: out may be the residual itself. The epilogue reads bias,
// gate and residual and writes out in F32 or BF16 (typed_lanes.h).
//
// The ISA files (avx512 / avx2 / portable gemm.cpp) choose the tile shape and blocking, and the
// k step: StepF32 here (fp32 A and B; bf16 weights widened while packing), or on AVX-512 BF16 a
// step of bf16 pairs along k for vdpbf16ps (A rounded to bf16 while packing, fp32 accumulation).
// A weight source may replace the element-wise packing of W with a vectorised transpose.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>

#include "../../core/allocator.h"
#include "../../core/thread_pool.h"
#include "../gemm_panels.h"
#include "../kernels.h"
#include "typed_lanes.h"
#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

// ---------------------------------------------------------------- scalar conversion

// An element of A as a float, and as bf16 bits (a float rounded to nearest even, NaNs quiet).
inline float a_float(float x) { return x; }
inline float a_float(uint16_t h) { return bf16_to_f32(h); }
inline uint32_t a_bf16(uint16_t h) { return h; }
inline uint32_t a_bf16(float f) { return f32_to_bf16(f); }

// ---------------------------------------------------------------- scratch memory

// A block of the library's caching allocator, so that repeated calls reuse the same memory.
class GemmScratch {
 public:
  explicit GemmScratch(size_t bytes) : p_(host_allocator().allocate(bytes ? bytes : 64)) {
    if (!p_) throw std::bad_alloc();
  }
  ~GemmScratch() { host_allocator().deallocate(p_); }
  GemmScratch(const GemmScratch&) = delete;
  GemmScratch& operator=(const GemmScratch&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_;
};

// ---------------------------------------------------------------- activation

inline vf activate_lanes(dc_activation act, vf x) {
  switch (act) {
    case DC_ACT_GELU_TANH: return vgelu_tanh(x);
    case DC_ACT_SILU: return vsilu(x);
    default: return x;
  }
}

// ---------------------------------------------------------------- blocking plan

// Tile shape and blocking of one ISA: MR rows x NV vectors of lanes columns per microkernel call,
// KC k steps per block, MC_PANELS row panels per A block, NC_PANELS column panels per pass.
template <int MR_, int NV_, int KC_, int MC_PANELS_, int NC_PANELS_>
struct GemmShape {
  static constexpr int MR = MR_, NV = NV_, KC = KC_, MC_PANELS = MC_PANELS_,
                       NC_PANELS = NC_PANELS_;
};

// How the work is split between threads: a grid of tm x tn parts over row and column panels.
struct GemmParts {
  int tm = 1, tn = 1;
  int count() const { return tm * tn; }
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Picks the grid minimising the largest part (in tiles), preferring splits along M, which keep
// whole rows of W per part. Tiny products stay on one thread.
inline GemmParts plan_parts(int64_t m_panels, int64_t n_panels, double flops) {
  const double min_flops_per_part = 4e6;  // ~40 us: below it, waking a thread costs more
  int threads = num_threads();
  const double by_work = flops / min_flops_per_part;
  if (by_work < threads) threads = by_work < 1 ? 1 : int(by_work);
  GemmParts best;
  int64_t best_cost = m_panels * n_panels;
  for (int tm = threads; tm >= 1; --tm) {
    const int tn = threads / tm;
    if (tm > m_panels || tn > n_panels) continue;
    const int64_t cost = ceil_div(m_panels, tm) * ceil_div(n_panels, tn);
    if (cost < best_cost) {
      best_cost = cost;
      best.tm = tm;
      best.tn = tn;
    }
  }
  return best;
}

// ---------------------------------------------------------------- packing

// Steps [k_begin, k_end) of the panel of the 16 columns of W from n0 (cols valid), one element at
// a time. W rows are read a chunk at a time, so the destination lines they scatter to stay in
// L1, and the chunk after next of every row is prefetched: 16 interleaved streams defeat the
// hardware prefetcher, and the packing would otherwise wait on memory.
template <class WSource>
void pack_b_elements(const GemmArgs& g, int64_t n0, int cols, int64_t k_begin, int64_t k_end,
                     uint32_t* panel) {
  using Elem = typename WSource::Elem;
  constexpr int64_t kChunk = 32, kPerLine = 64 / int64_t(sizeof(Elem)), NR = kPanelCols;
  const Elem* w = static_cast<const Elem*>(g.w);
  for (int64_t kb = k_begin; kb < k_end; kb += kChunk) {
    const int64_t ke = k_end - kb < kChunk ? k_end : kb + kChunk;
    for (int j = 0; j < cols; ++j) {
      const Elem* row = w + (n0 + j) * g.ldw;
      if (kb + 3 * kChunk <= k_end) {
        const Elem* ahead = row + (kb + 2 * kChunk) * WSource::kPerStep;
        for (int64_t e = 0; e < kChunk * WSource::kPerStep; e += kPerLine) __builtin_prefetch(ahead + e);
      }
      for (int64_t k = kb; k < ke; ++k) panel[k * NR + j] = WSource::step(row, g.K, k);
    }
    for (int j = cols; j < NR; ++j)
      for (int64_t k = kb; k < ke; ++k) panel[k * NR + j] = 0;
  }
}

// A row-major weight dtype seen as panel elements (32-bit words: a float, or a bf16 pair):
// Self::step(row, K, k) reads k step k of a W row. Self may replace pack_panel with a vectorised
// transpose (see gemm_avx512.h).
template <class Self, class Elem_, int kPerStep_>
struct WeightSource {
  using Elem = Elem_;
  static constexpr int kPerStep = kPerStep_;  // weight elements per k step
  static void pack_panel(const GemmArgs& g, int64_t n0, int cols, int64_t ksteps, uint32_t* panel) {
    pack_b_elements<Self>(g, n0, cols, 0, ksteps, panel);
  }
};

inline uint32_t f32_word(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

struct WeightsF32 : WeightSource<WeightsF32, float, 1> {
  static uint32_t step(const float* row, int64_t, int64_t k) { return f32_word(row[k]); }
};

struct WeightsBf16Widened : WeightSource<WeightsBf16Widened, uint16_t, 1> {
  static uint32_t step(const uint16_t* row, int64_t, int64_t k) { return f32_word(bf16_to_f32(row[k])); }
};

// bf16 pairs along k (low half = even k); odd K padded with 0.
struct WeightsBf16Pairs : WeightSource<WeightsBf16Pairs, uint16_t, 2> {
  static uint32_t step(const uint16_t* row, int64_t K, int64_t step) {
    const int64_t k = 2 * step;
    return uint32_t(row[k]) | (k + 1 < K ? uint32_t(row[k + 1]) << 16 : 0u);
  }
};

struct WeightsF32Pairs : WeightSource<WeightsF32Pairs, float, 2> {
  static uint32_t step(const float* row, int64_t K, int64_t step) {
    const int64_t k = 2 * step;
    return a_bf16(row[k]) | (k + 1 < K ? a_bf16(row[k + 1]) << 16 : 0u);
  }
};

// Panel `p` in the layout of `dtype` (gemm_panels.h) from row-major W: WSource's steps, then the
// zero steps that pad a bf16 panel to whole tiles.
template <class WSource>
void pack_weight_panel(const GemmArgs& g, dc_dtype dtype, int64_t p, uint32_t* panel) {
  const int64_t n0 = p * kPanelCols;
  const int cols = int(g.N - n0 < kPanelCols ? g.N - n0 : kPanelCols);
  const int64_t steps = WSource::kPerStep == 2 ? (g.K + 1) / 2 : g.K;
  WSource::pack_panel(g, n0, cols, steps, panel);
  const int64_t padded = panel_ksteps(dtype, g.K);
  std::memset(panel + steps * kPanelCols, 0, size_t(padded - steps) * kPanelCols * 4);
}

// W (F32 or BF16, row-major) into `dst` in the layout of `to`, a panel per parallel item.
template <class F32ToF32, class Bf16ToF32, class Bf16ToPairs, class F32ToPairs>
void pack_weight_panels(const GemmArgs& g, dc_dtype to, uint32_t* dst) {
  const int64_t stride = panel_stride(to, g.K);
  parallel_for(panel_count(g.N), 4, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      uint32_t* panel = dst + p * stride;
      if (to == DC_BF16) {
        if (g.w_dtype == DC_BF16) {
          pack_weight_panel<Bf16ToPairs>(g, to, p, panel);
        } else {
          pack_weight_panel<F32ToPairs>(g, to, p, panel);
        }
      } else if (g.w_dtype == DC_BF16) {
        pack_weight_panel<Bf16ToF32>(g, to, p, panel);
      } else {
        pack_weight_panel<F32ToF32>(g, to, p, panel);
      }
    }
  });
}

// A packed BF16 weight widened to F32 panels, for the kernels that multiply in fp32.
inline void widen_packed_pairs(const GemmArgs& g, float* dst) {
  const int64_t src_stride = panel_stride(DC_BF16, g.K), dst_stride = panel_stride(DC_F32, g.K);
  const uint32_t* src = static_cast<const uint32_t*>(g.w);
  parallel_for(panel_count(g.N), 4, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const uint32_t* s = src + p * src_stride;
      float* d = dst + p * dst_stride;
      for (int64_t k = 0; k < g.K; ++k) {
        const uint32_t* pairs = s + (k / 2) * kPanelCols;
        const int shift = k % 2 ? 16 : 0;
        for (int64_t j = 0; j < kPanelCols; ++j)
          d[k * kPanelCols + j] = bf16_to_f32(uint16_t(pairs[j] >> shift));
      }
    }
  });
}

// Panel of MR rows of A from row m0 (rows valid), k steps [k0, k0 + kc), row after row with a
// row stride of KS steps: a plain copy, and the microkernel's broadcasts then use constant
// displacements from one pointer. Steps at or past `steps` (the padding of bf16 panels) are 0.
template <class Step, int MR, int KS, class Src>
void pack_a_panel(const GemmArgs& g, int64_t m0, int rows, int64_t k0, int64_t kc, int64_t steps,
                  typename Step::AElem* dst) {
  const Src* A = static_cast<const Src*>(g.a);
  const int64_t real = steps - k0 < kc ? (steps > k0 ? steps - k0 : 0) : kc;
  for (int i = 0; i < rows; ++i) {
    const Src* src = A + (m0 + i) * g.lda;
    for (int64_t k = 0; k < real; ++k) dst[i * KS + k] = Step::a_element(src, g.K, k0 + k);
    for (int64_t k = real; k < kc; ++k) dst[i * KS + k] = typename Step::AElem();
  }
  for (int i = rows; i < MR; ++i)
    for (int64_t k = 0; k < kc; ++k) dst[i * KS + k] = typename Step::AElem();
}

// ---------------------------------------------------------------- microkernel and epilogue

// c[MR x NR] (= accumulate ? c : 0) + sum over kc steps of packed A (row stride KS) x the
// panels: vector j of a step at b[j] (16 elements per step).
template <class Step, int MR, int NV, int KS>
inline void microkernel(int64_t kc, const typename Step::AElem* __restrict ap,
                        const typename Step::BElem* const (&bv)[NV], float* __restrict c,
                        bool accumulate) {
  constexpr int W = int(kLanes), NR = NV * W;
  const typename Step::BElem* bj[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) bj[j] = bv[j];
  vf acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = accumulate ? vload(c + i * NR + j * W) : vset(0.f);
  for (int64_t k = 0; k < kc; ++k) {
    typename Step::VB b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) b[j] = Step::load_b(bj[j]);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename Step::VA a = Step::broadcast_a(ap + i * KS);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = Step::madd(acc[i][j], a, b[j]);
    }
    ++ap;
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bj[j] += kPanelCols;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) vstore(c + i * NR + j * W, acc[i][j]);
}

// Asks for the out (to be written) and residual (to be read) lines of a tile before its last
// microkernel call, which is long enough to bring them from memory: the epilogue would otherwise
// stall on a miss per row.
inline void prefetch_tile_outputs(const GemmArgs& g, int64_t m0, int rows, int64_t n0, int cols) {
  const int64_t ob = lane_bytes(g.out_dtype), rb = lane_bytes(g.residual_dtype);
  const char* out = static_cast<const char*>(g.out);
  const char* res = static_cast<const char*>(g.residual);
  for (int i = 0; i < rows; ++i) {
    for (int64_t n = 0; n < cols * ob; n += 64) __builtin_prefetch(out + ((m0 + i) * g.ldo + n0) * ob + n, 1);
    if (res && res != out)
      for (int64_t n = 0; n < cols * rb; n += 64) __builtin_prefetch(res + ((m0 + i) * g.ldr + n0) * rb + n, 0);
  }
}

// Writes rows [m0, m0 + rows) x cols [n0, n0 + cols) of out from the finished tile c (row
// stride ldc floats).
inline void epilogue(const GemmArgs& g, const float* c, int64_t ldc, int64_t m0, int rows, int64_t n0,
                     int cols) {
  constexpr int W = int(kLanes);
  const char* bias = g.bias ? static_cast<const char*>(g.bias) + n0 * lane_bytes(g.bias_dtype) : nullptr;
  for (int i = 0; i < rows; ++i) {
    const int64_t r = m0 + i;
    const char* gate = g.gate.p ? static_cast<const char*>(g.gate.p) +
                                      ((r / g.gate.rows_per_group) * g.gate.ld + n0) * lane_bytes(g.gate.dtype)
                                : nullptr;
    const char* res = g.residual ? static_cast<const char*>(g.residual) +
                                       (r * g.ldr + n0) * lane_bytes(g.residual_dtype)
                                 : nullptr;
    char* out = static_cast<char*>(g.out) + (r * g.ldo + n0) * lane_bytes(g.out_dtype);
    for (int n = 0; n < cols; n += W) {
      const int count = cols - n < W ? cols - n : W;
      vf y = vload(c + i * ldc + n);
      if (bias) y = vadd(y, load_lanes(bias, g.bias_dtype, n, count));
      y = activate_lanes(g.act, y);
      if (gate) y = vmul(y, load_lanes(gate, g.gate.dtype, n, count));
      if (res) y = vadd(y, load_lanes(res, g.residual_dtype, n, count));
      store_lanes(out, g.out_dtype, n, y, count);
    }
  }
}

// ---------------------------------------------------------------- driver

// The weight in Step's panels: the packed weight itself when it is packed in Step's dtype, or a
// per-call copy packed from row-major W (or widened from packed bf16 pairs).
template <class Step, class WSource>
class StepPanels {
 public:
  explicit StepPanels(const GemmArgs& g)
      : stride_(panel_stride(Step::kPanelDtype, g.K)),
        scratch_(g.w_packed && g.w_dtype == Step::kPanelDtype
                     ? 0
                     : packed_weight_bytes(Step::kPanelDtype, g.N, g.K)) {
    if (g.w_packed && g.w_dtype == Step::kPanelDtype) {
      base_ = static_cast<const BElem*>(g.w);
      return;
    }
    base_ = scratch_.template as<BElem>();
    if (g.w_packed) {
      widen_packed_pairs(g, scratch_.template as<float>());
    } else {
      parallel_for(panel_count(g.N), 4, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p)
          pack_weight_panel<WSource>(g, Step::kPanelDtype, p, scratch_.template as<uint32_t>() + p * stride_);
      });
    }
  }
  using BElem = typename Step::BElem;
  // Column n (a multiple of the vector width) at k step k.
  const BElem* at(int64_t n, int64_t k) const {
    return base_ + (n / kPanelCols) * stride_ + k * kPanelCols + n % kPanelCols;
  }

 private:
  int64_t stride_;
  GemmScratch scratch_;
  const BElem* base_ = nullptr;
};

template <class Step, class WSource, class Shape, class ASrc>
void run_gemm_typed(const GemmArgs& g) {
  constexpr int MR = Shape::MR, NV = Shape::NV, W = int(kLanes), NR = NV * W;
  using AElem = typename Step::AElem;
  using BElem = typename Step::BElem;
  const int64_t steps = Step::steps(g.K);                      // steps holding data
  const int64_t ksteps = panel_ksteps(Step::kPanelDtype, g.K);  // with the panels' zero padding
  const int64_t m_panels = ceil_div(g.M, MR), n_panels = ceil_div(g.N, NR);
  const int64_t k_blocks = ksteps > Shape::KC ? ceil_div(ksteps, Shape::KC) : 1;
  // Equal blocks rather than a short last one: the microkernel's loop overhead is per block.
  const int64_t kc_max = k_blocks > 1 ? ceil_div(ksteps, k_blocks) : ksteps;

  const StepPanels<Step, WSource> panels(g);
  const GemmParts parts = plan_parts(m_panels, n_panels, 2.0 * double(g.M) * double(g.N) * double(g.K));
  const int64_t mc_panels = m_panels < Shape::MC_PANELS ? m_panels : Shape::MC_PANELS;
  // Column passes bound the partial-sum buffer; with one K block there is none, and one pass
  // packs each A block once.
  const int64_t nc_panels =
      k_blocks > 1 && n_panels > Shape::NC_PANELS ? Shape::NC_PANELS : n_panels;
  // Per part: the packed A block, then (with several K blocks) the partial sums of one pass.
  const size_t a_elems = size_t(mc_panels) * MR * Shape::KC;
  const size_t a_bytes = (a_elems * sizeof(AElem) + 63) / 64 * 64;
  const size_t c_bytes = k_blocks > 1 ? size_t(mc_panels * MR) * size_t(nc_panels * NR) * 4 : 0;
  GemmScratch scratch(size_t(parts.count()) * (a_bytes + c_bytes));

  parallel_for(parts.count(), 1, [&](int64_t part_begin, int64_t part_end) {
    for (int64_t part = part_begin; part < part_end; ++part) {
      char* mine = scratch.as<char>() + size_t(part) * (a_bytes + c_bytes);
      AElem* ap = reinterpret_cast<AElem*>(mine);
      float* partial = reinterpret_cast<float*>(mine + a_bytes);
      const int64_t pm = part / parts.tn, pn = part % parts.tn;
      const int64_t m_begin = m_panels * pm / parts.tm, m_end = m_panels * (pm + 1) / parts.tm;
      const int64_t n_begin = n_panels * pn / parts.tn, n_end = n_panels * (pn + 1) / parts.tn;
      alignas(64) float tile[MR * NR];
      for (int64_t ic = m_begin; ic < m_end; ic += mc_panels) {
        const int64_t mcp = m_end - ic < mc_panels ? m_end - ic : mc_panels;
        for (int64_t jc = n_begin; jc < n_end; jc += nc_panels) {
          const int64_t ncp = n_end - jc < nc_panels ? n_end - jc : nc_panels;
          for (int64_t kb = 0; kb < k_blocks; ++kb) {
            const int64_t k0 = kb * kc_max;
            const int64_t kc = ksteps - k0 < kc_max ? ksteps - k0 : kc_max;
            const bool first = kb == 0, last = kb == k_blocks - 1;
            for (int64_t ir = 0; ir < mcp; ++ir) {
              const int64_t m0 = (ic + ir) * MR;
              const int rows = int(g.M - m0 < MR ? g.M - m0 : MR);
              pack_a_panel<Step, MR, Shape::KC, ASrc>(g, m0, rows, k0, kc, steps, ap + ir * MR * Shape::KC);
            }
            for (int64_t jr = 0; jr < ncp; ++jr) {
              const int64_t n0 = (jc + jr) * NR;
              const int cols = int(g.N - n0 < NR ? g.N - n0 : NR);
              const BElem* bv[NV];
#pragma GCC unroll 8
              for (int j = 0; j < NV; ++j) bv[j] = panels.at(n0 + (j * W < cols ? j * W : 0), k0);
              for (int64_t ir = 0; ir < mcp; ++ir) {
                const int64_t m0 = (ic + ir) * MR;
                const int rows = int(g.M - m0 < MR ? g.M - m0 : MR);
                if (last) prefetch_tile_outputs(g, m0, rows, n0, cols);
                float* c = k_blocks > 1 ? partial + (jr * mcp + ir) * MR * NR : tile;
                const AElem* a_panel = ap + ir * MR * Shape::KC;
                // A last tile of at most one vector of columns may lie past the last panel.
                if (NV == 2 && cols <= W) {
                  const BElem* b1[1] = {bv[0]};
                  microkernel<Step, MR, 1, Shape::KC>(kc, a_panel, b1, c, !first);
                  if (last) epilogue(g, c, W, m0, rows, n0, cols);
                } else {
                  microkernel<Step, MR, NV, Shape::KC>(kc, a_panel, bv, c, !first);
                  if (last) epilogue(g, c, NR, m0, rows, n0, cols);
                }
              }
            }
          }
        }
      }
    }
  });
}

template <class Step, class WSource, class Shape>
void run_gemm(const GemmArgs& g) {
  if (g.a_dtype == DC_BF16) {
    run_gemm_typed<Step, WSource, Shape, uint16_t>(g);
  } else {
    run_gemm_typed<Step, WSource, Shape, float>(g);
  }
}

// ---------------------------------------------------------------- k steps

// fp32 products on the ISA's vectors: one k per step, A broadcast, B a row of NR columns.
struct StepF32 {
  using AElem = float;
  using BElem = float;
  using VA = vf;
  using VB = vf;
  static constexpr dc_dtype kPanelDtype = DC_F32;
  static int64_t steps(int64_t K) { return K; }
  template <class Src>
  static float a_element(const Src* row, int64_t, int64_t k) { return a_float(row[k]); }
  static VB load_b(const float* p) { return vload(p); }
  static VA broadcast_a(const float* p) { return vset(*p); }
  static vf madd(vf acc, VA a, VB b) { return vfma(a, b, acc); }
};

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
