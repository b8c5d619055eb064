// The AVX-512 pieces of the GEMM shared by the avx512, avx512_bf16 and amx folders: the 16 x 16
// transpose that packs W into its panels, and the tile shape (14 x 32: 28 zmm accumulators, the B row in two
// more, A broadcast from memory).
#pragma once
#include "gemm.h"  // vec_math.h brings <immintrin.h>

namespace dc::cpu::DC_ISA_NS {
namespace {

// In-register transpose of a 16 x 16 block of 32-bit elements: r[i] holds 16 k steps of W row i
// on entry and step i of the 16 rows on exit.
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i + c], 128-bit lane l: step c + 4l of rows 4i .. 4i + 3.
  for (int i = 0; i < 4; ++i) {
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[c + 8] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[c + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[c + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

// A weight source whose k steps are 32 bits (fp32, or a bf16 pair), packed by 16 x 16
// transposes: the element-wise packing costs a few cycles per weight, which for a few hundred
// tokens is a tenth of the product.
template <class Base>
struct Transposed : Base {
  static void pack_panel(const GemmArgs& g, int64_t n0, int cols, int64_t ksteps, uint32_t* panel) {
    constexpr int64_t NR = kPanelCols;
    // Steps stored whole in W: all for fp32; for bf16 pairs, all but the half pair of an odd K.
    const int64_t whole = Base::kPerStep == 1 ? ksteps : g.K / 2;
    const int64_t vec_end = cols == NR ? whole / 16 * 16 : 0;
    const char* w = static_cast<const char*>(g.w);
    const int64_t row_bytes = g.ldw * int64_t(sizeof(typename Base::Elem));
    float* out = reinterpret_cast<float*>(panel);
    // 16 rows, each read as one stream, prefetched 8 lines ahead.
    for (int64_t kb = 0; kb < vec_end; kb += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        const char* row = w + (n0 + i) * row_bytes + kb * 4;
        if (kb + 144 <= vec_end) _mm_prefetch(row + 512, _MM_HINT_T0);
        r[i] = _mm512_loadu_ps(row);
      }
      transpose16x16(r);
      for (int t = 0; t < 16; ++t) _mm512_store_ps(out + (kb + t) * NR, r[t]);
    }
    pack_b_elements<Base>(g, n0, cols, vec_end, ksteps, panel);
  }
};

using Shape = GemmShape<14, 2, 1152, 8, 48>;

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
