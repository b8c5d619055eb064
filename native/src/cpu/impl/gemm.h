// GEMM with fused epilogue, out = residual + gate * act(A·Wᵀ + bias), shared by every ISA.
//
// Blocked in the manner of BLIS. W is packed once per call into panels of NR columns stored
// k-major, so that one vector load reads NR / lanes columns at one k step. A is packed per block
// of (MC rows, KC steps) into panels of MR rows, each row a plain copy at a fixed stride, so that
// a step broadcasts MR values at constant offsets from one pointer. A register-blocked MR x NR
// microkernel accumulates one KC block. When K spans several blocks the partial sums wait in a
// per-part buffer, so the epilogue runs exactly once per element, from the last block, reading
// the residual just before writing out: out may be the residual itself.
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
#include "../kernels.h"
#include "vec_math.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

// ---------------------------------------------------------------- scalar conversion

// bf16 bits to float (own copy: an inline function of a core header compiled here with this
// ISA's flags could be the one the linker keeps for every caller).
inline float gemm_bf16_value(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

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

// Steps [k_begin, k_end) of the panel of NR columns of W from column n0 (cols valid), k-major,
// one element at a time. W rows are read a chunk at a time, so the destination lines they
// scatter to stay in L1, and the chunk after next of every row is prefetched: NR interleaved
// streams defeat the hardware prefetcher, and the packing would otherwise wait on memory.
template <class Step, class WSource, int NR>
void pack_b_elements(const GemmArgs& g, int64_t n0, int cols, int64_t k_begin, int64_t k_end,
                     typename Step::BElem* panel) {
  using Elem = typename WSource::Elem;
  constexpr int64_t kChunk = 32, kPerLine = 64 / int64_t(sizeof(Elem));
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
      for (int64_t k = kb; k < ke; ++k) panel[k * NR + j] = typename Step::BElem();
  }
}

// A weight dtype seen as packed B elements: Self::step(row, K, k) reads k step k of a W row.
// Self may replace pack_panel with a vectorised transpose (see avx512/gemm.cpp).
template <class Self, class Elem_, int kPerStep_>
struct WeightSource {
  using Elem = Elem_;
  static constexpr int kPerStep = kPerStep_;  // weight elements per k step
  template <class Step, int NR>
  static void pack_panel(const GemmArgs& g, int64_t n0, int cols, int64_t ksteps,
                         typename Step::BElem* panel) {
    pack_b_elements<Step, Self, NR>(g, n0, cols, 0, ksteps, panel);
  }
};

// Panel of MR rows of A from row m0 (rows valid), k steps [k0, k0 + kc), row after row with a
// row stride of KS steps: a plain copy, and the microkernel's broadcasts then use constant
// displacements from one pointer.
template <class Step, int MR, int KS>
void pack_a_panel(const GemmArgs& g, int64_t m0, int rows, int64_t k0, int64_t kc,
                  typename Step::AElem* dst) {
  const float* A = static_cast<const float*>(g.a);
  for (int i = 0; i < rows; ++i) {
    const float* src = A + (m0 + i) * g.lda;
    for (int64_t k = 0; k < kc; ++k) dst[i * KS + k] = Step::a_element(src, g.K, k0 + k);
  }
  for (int i = rows; i < MR; ++i)
    for (int64_t k = 0; k < kc; ++k) dst[i * KS + k] = typename Step::AElem();
}

// ---------------------------------------------------------------- microkernel and epilogue

// c[MR x NR] (= accumulate ? c : 0) + sum over kc steps of packed A (row stride KS) x packed B.
template <class Step, int MR, int NV, int KS>
inline void microkernel(int64_t kc, const typename Step::AElem* __restrict ap,
                        const typename Step::BElem* __restrict bp, float* __restrict c,
                        bool accumulate) {
  constexpr int W = int(kLanes), NR = NV * W;
  vf acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = accumulate ? vload(c + i * NR + j * W) : vset(0.f);
  for (int64_t k = 0; k < kc; ++k) {
    typename Step::VB b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) b[j] = Step::load_b(bp + j * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename Step::VA a = Step::broadcast_a(ap + i * KS);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = Step::madd(acc[i][j], a, b[j]);
    }
    ++ap;
    bp += NR;
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
  constexpr int kLine = 16;  // floats per cache line
  float* out = static_cast<float*>(g.out);
  const float* res = static_cast<const float*>(g.residual);
  for (int i = 0; i < rows; ++i) {
    for (int n = 0; n < cols; n += kLine) {
      __builtin_prefetch(out + (m0 + i) * g.ldo + n0 + n, 1);
      if (res && res != out) __builtin_prefetch(res + (m0 + i) * g.ldr + n0 + n, 0);
    }
  }
}

// Writes rows [m0, m0 + rows) x cols [n0, n0 + cols) of out from the finished tile c.
template <int NR>
void epilogue(const GemmArgs& g, const float* c, int64_t m0, int rows, int64_t n0, int cols) {
  constexpr int W = int(kLanes);
  const float* bias = g.bias ? static_cast<const float*>(g.bias) + n0 : nullptr;
  const float* res = static_cast<const float*>(g.residual);
  float* out = static_cast<float*>(g.out);
  for (int i = 0; i < rows; ++i) {
    const int64_t r = m0 + i;
    const float* gate = g.gate.p ? static_cast<const float*>(g.gate.p) +
                                       (r / g.gate.rows_per_group) * g.gate.ld + n0
                                 : nullptr;
    const float* res_row = res ? res + r * g.ldr + n0 : nullptr;
    float* out_row = out + r * g.ldo + n0;
    const auto finish = [&](int n, auto load, int count) {
      vf y = vload(c + i * NR + n);
      if (bias) y = vadd(y, load(bias + n, count));
      y = activate_lanes(g.act, y);
      if (gate) y = vmul(y, load(gate + n, count));
      if (res_row) y = vadd(y, load(res_row + n, count));
      return y;
    };
    const auto whole = [](const float* p, int64_t) { return vload(p); };
    const auto part = [](const float* p, int64_t count) { return vload_part(p, count); };
    if (cols == NR) {
#pragma GCC unroll 8
      for (int n = 0; n < NR; n += W) vstore(out_row + n, finish(n, whole, W));
    } else {
      for (int n = 0; n < cols; n += W) {
        const int count = cols - n < W ? cols - n : W;
        vstore_part(out_row + n, finish(n, part, count), count);
      }
    }
  }
}

// ---------------------------------------------------------------- driver

template <class Step, class WSource, class Shape>
void run_gemm(const GemmArgs& g) {
  constexpr int MR = Shape::MR, NV = Shape::NV, NR = NV * int(kLanes);
  using AElem = typename Step::AElem;
  using BElem = typename Step::BElem;
  const int64_t ksteps = Step::steps(g.K);
  const int64_t m_panels = ceil_div(g.M, MR), n_panels = ceil_div(g.N, NR);
  const int64_t k_blocks = ksteps > Shape::KC ? ceil_div(ksteps, Shape::KC) : 1;
  // Equal blocks rather than a short last one: the microkernel's loop overhead is per block.
  const int64_t kc_max = k_blocks > 1 ? ceil_div(ksteps, k_blocks) : ksteps;

  // W, packed once for all parts: panel p holds ksteps x NR elements.
  GemmScratch packed_w(size_t(n_panels) * size_t(ksteps) * NR * sizeof(BElem));
  BElem* bp_all = packed_w.as<BElem>();
  parallel_for(n_panels, 4, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t n0 = p * NR;
      const int cols = int(g.N - n0 < NR ? g.N - n0 : NR);
      WSource::template pack_panel<Step, NR>(g, n0, cols, ksteps, bp_all + p * ksteps * NR);
    }
  });

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
              pack_a_panel<Step, MR, Shape::KC>(g, m0, rows, k0, kc, ap + ir * MR * Shape::KC);
            }
            for (int64_t jr = 0; jr < ncp; ++jr) {
              const BElem* bp = bp_all + (jc + jr) * ksteps * NR + k0 * NR;
              const int64_t n0 = (jc + jr) * NR;
              const int cols = int(g.N - n0 < NR ? g.N - n0 : NR);
              for (int64_t ir = 0; ir < mcp; ++ir) {
                const int64_t m0 = (ic + ir) * MR;
                const int rows = int(g.M - m0 < MR ? g.M - m0 : MR);
                if (last) prefetch_tile_outputs(g, m0, rows, n0, cols);
                float* c = k_blocks > 1 ? partial + (jr * mcp + ir) * MR * NR : tile;
                microkernel<Step, MR, NV, Shape::KC>(kc, ap + ir * MR * Shape::KC, bp, c, !first);
                if (last) epilogue<NR>(g, c, m0, rows, n0, cols);
              }
            }
          }
        }
      }
    }
  });
}

// ---------------------------------------------------------------- k steps and weight sources

// fp32 products on the ISA's vectors: one k per step, A broadcast, B a row of NR columns.
struct StepF32 {
  using AElem = float;
  using BElem = float;
  using VA = vf;
  using VB = vf;
  static int64_t steps(int64_t K) { return K; }
  static float a_element(const float* row, int64_t, int64_t k) { return row[k]; }
  static VB load_b(const float* p) { return vload(p); }
  static VA broadcast_a(const float* p) { return vset(*p); }
  static vf madd(vf acc, VA a, VB b) { return vfma(a, b, acc); }
};

// Where packed B elements come from: the weight's dtype, read as one k step.
struct WeightsF32 : WeightSource<WeightsF32, float, 1> {
  static float step(const float* row, int64_t, int64_t k) { return row[k]; }
};

struct WeightsBf16Widened : WeightSource<WeightsBf16Widened, uint16_t, 1> {
  static float step(const uint16_t* row, int64_t, int64_t k) { return gemm_bf16_value(row[k]); }
};

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
