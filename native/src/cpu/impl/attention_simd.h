// The vector primitives of the attention kernel for the ISA this file is compiled for: a register
// of kLanes floats and the few operations the tiles need. The portable variant is a plain array the
// compiler vectorises with the baseline instruction set.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) || defined(__AVX2__)
// GCC 12 reports the intrinsics' deliberately undefined pass-through operands as maybe
// uninitialised once they are inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace dc::cpu::DC_ISA_NS {
namespace {

// 2^f on [-0.5, 0.5], least-squares fit of the relative error (max 2e-9 before rounding), so the
// softmax weights are within a few float ulps of exp.
constexpr float kExp2C1 = 0.6931471824645996f, kExp2C2 = 0.24022646248340607f,
                kExp2C3 = 0.05550329014658928f, kExp2C4 = 0.009618519805371761f,
                kExp2C5 = 0.0013399870367720723f, kExp2C6 = 0.0001533758477307856f;

#if defined(__AVX512F__)

constexpr int kLanes = 16;
using Vec = __m512;

inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vset(float x) { return _mm512_set1_ps(x); }
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, Vec x) { _mm512_storeu_ps(p, x); }
// The first n lanes (1 <= n <= kLanes); the others read as zero and are never touched in memory.
inline Vec vload_first(const float* p, int n) {
  return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
}
inline void vstore_first(float* p, Vec x, int n) {
  _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), x);
}
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
inline Vec vmul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec vmax(Vec a, Vec b) { return _mm512_max_ps(a, b); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
// (x0, x1, x2, x3, ..) -> (x1, x0, x3, x2, ..): the partner of each rotary pair.
inline Vec vswap_pairs(Vec x) { return _mm512_permute_ps(x, 0xB1); }
// Lanes below `first` become -inf.
inline Vec vhide_below(Vec x, int first) {
  return _mm512_mask_mov_ps(x, __mmask16((1u << first) - 1), _mm512_set1_ps(-INFINITY));
}
// 1/x where x > 0, else 0.
inline Vec vinv_or_zero(Vec x) {
  return _mm512_maskz_div_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ),
                             _mm512_set1_ps(1.f), x);
}
// 2^x; exactly 0 for x = -inf. vscalefps applies the integer part and underflows cleanly.
inline Vec vexp2(Vec x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-160.f));
  const Vec n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const Vec f = _mm512_sub_ps(x, n);
  Vec p = _mm512_fmadd_ps(_mm512_set1_ps(kExp2C6), f, _mm512_set1_ps(kExp2C5));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C4));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C3));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C2));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C1));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}

#elif defined(__AVX2__)

constexpr int kLanes = 8;
using Vec = __m256;

inline __m256i first_lanes_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vset(float x) { return _mm256_set1_ps(x); }
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vec x) { _mm256_storeu_ps(p, x); }
inline Vec vload_first(const float* p, int n) { return _mm256_maskload_ps(p, first_lanes_mask(n)); }
inline void vstore_first(float* p, Vec x, int n) { _mm256_maskstore_ps(p, first_lanes_mask(n), x); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec vmul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec vmax(Vec a, Vec b) { return _mm256_max_ps(a, b); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec vswap_pairs(Vec x) { return _mm256_permute_ps(x, 0xB1); }
inline Vec vhide_below(Vec x, int first) {
  return _mm256_blendv_ps(x, _mm256_set1_ps(-INFINITY), _mm256_castsi256_ps(first_lanes_mask(first)));
}
inline Vec vinv_or_zero(Vec x) {
  const Vec positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  return _mm256_and_ps(positive, _mm256_div_ps(_mm256_set1_ps(1.f), x));
}
// 2^x; exactly 0 below -126 (so for -inf), where the exponent field cannot hold 2^n.
inline Vec vexp2(Vec x) {
  const Vec representable = _mm256_cmp_ps(x, _mm256_set1_ps(-126.f), _CMP_GE_OQ);
  x = _mm256_max_ps(x, _mm256_set1_ps(-126.f));
  const Vec n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const Vec f = _mm256_sub_ps(x, n);
  Vec p = _mm256_fmadd_ps(_mm256_set1_ps(kExp2C6), f, _mm256_set1_ps(kExp2C5));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C4));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C3));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C2));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C1));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
  const __m256i scale =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(representable, _mm256_mul_ps(p, _mm256_castsi256_ps(scale)));
}

#else

constexpr int kLanes = 8;
struct Vec {
  float v[kLanes];
};

inline Vec vzero() { return Vec{}; }
inline Vec vset(float x) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = x;
  return r;
}
inline Vec vload(const float* p) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = p[i];
  return r;
}
inline void vstore(float* p, Vec x) {
  for (int i = 0; i < kLanes; ++i) p[i] = x.v[i];
}
inline Vec vload_first(const float* p, int n) {
  Vec r{};
  for (int i = 0; i < n; ++i) r.v[i] = p[i];
  return r;
}
inline void vstore_first(float* p, Vec x, int n) {
  for (int i = 0; i < n; ++i) p[i] = x.v[i];
}
#define DC_ATTN_LANEWISE(name, expr)               \
  inline Vec name(Vec a, Vec b) {                  \
    Vec r;                                         \
    for (int i = 0; i < kLanes; ++i) r.v[i] = expr; \
    return r;                                      \
  }
DC_ATTN_LANEWISE(vadd, a.v[i] + b.v[i])
DC_ATTN_LANEWISE(vsub, a.v[i] - b.v[i])
DC_ATTN_LANEWISE(vmul, a.v[i] * b.v[i])
DC_ATTN_LANEWISE(vmax, a.v[i] > b.v[i] ? a.v[i] : b.v[i])
#undef DC_ATTN_LANEWISE
inline Vec vfma(Vec a, Vec b, Vec c) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
  return r;
}
inline Vec vswap_pairs(Vec x) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = x.v[i ^ 1];
  return r;
}
inline Vec vhide_below(Vec x, int first) {
  for (int i = 0; i < first; ++i) x.v[i] = -INFINITY;
  return x;
}
inline Vec vinv_or_zero(Vec x) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = x.v[i] > 0.f ? 1.f / x.v[i] : 0.f;
  return r;
}
inline Vec vexp2(Vec x) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) {
    const float xi = x.v[i] > -126.f ? x.v[i] : -126.f;
    const float n = std::nearbyint(xi), f = xi - n;
    float p = kExp2C6 * f + kExp2C5;
    p = p * f + kExp2C4;
    p = p * f + kExp2C3;
    p = p * f + kExp2C2;
    p = p * f + kExp2C1;
    p = p * f + 1.f;
    const uint32_t bits = uint32_t(int32_t(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    r.v[i] = x.v[i] >= -126.f ? p * scale : 0.f;
  }
  return r;
}

#endif

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
