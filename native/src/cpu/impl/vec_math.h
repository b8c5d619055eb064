// Float vectors for the row-wise and metric kernels, defined once per ISA: 16 lanes (AVX-512),
// 8 (AVX2) or 4 (portable). A partial vector (a row's tail) loads `fill` past its n lanes, stores only
// its first n lanes, and vlanes resets the lanes past n of a result, so a kernel is one vector loop
// with no scalar remainder.
// vexp is the same algorithm on every ISA (Cody-Waite reduction, degree-6 polynomial, about 1 ulp),
// so the three paths agree to rounding. VecSumD accumulates float lanes in double. bf16 data is
// loaded and stored through vload_bf16 / vstore_bf16 (bit-exact with core/half.h on every ISA).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "intrinsics.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

// Scalar bf16 (own copies in every ISA's namespace: an inline function of a core header compiled
// with this ISA's flags could be the one the linker keeps for every caller).
inline float bf16_to_f32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  return uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

#if defined(__AVX512F__)

using vf = __m512;
constexpr int64_t kLanes = 16;

inline __mmask16 lane_mask(int64_t n) { return __mmask16((1u << n) - 1u); }
inline vf vset(float x) { return _mm512_set1_ps(x); }
inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline vf vload_part(const float* p, int64_t n, float fill = 0.f) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), lane_mask(n), p);
}
inline vf vlanes(vf v, int64_t n, float fill) {
  return _mm512_mask_mov_ps(_mm512_set1_ps(fill), lane_mask(n), v);
}
inline void vstore(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline void vstore_part(float* p, vf v, int64_t n) { _mm512_mask_storeu_ps(p, lane_mask(n), v); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
// NaN in b is returned (the x86 min/max rule), so clamps written vmin(bound, x) keep NaN.
inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
inline vf vabs(vf a) { return _mm512_abs_ps(a); }
inline float vsum(vf a) { return _mm512_reduce_add_ps(a); }
inline float vmax_lanes(vf a) { return _mm512_reduce_max_ps(a); }
inline vf vround(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
// 2^n for integral n in [-126, 127].
inline vf vpow2i(vf n) {
  const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
// Rotates the interleaved pairs (x[2i], x[2i+1]) of x by the angles whose (cos, sin) are the
// pairs of cs: (x0 c - x1 s, x1 c + x0 s).
inline vf vrotate_pairs(vf x, vf cs) {
  const vf swapped = _mm512_permute_ps(x, 0xB1);
  return _mm512_fmaddsub_ps(x, _mm512_moveldup_ps(cs), _mm512_mul_ps(swapped, _mm512_movehdup_ps(cs)));
}

// bf16 lanes: widened exactly; narrowed rounding to nearest even with NaNs kept quiet (as
// core/half.h), in integer arithmetic so that no BF16 instruction is needed.
inline vf vload_bf16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline vf vload_bf16_part(const uint16_t* p, int64_t n, float fill = 0.f) {
  const __m256i h = _mm256_maskz_loadu_epi16(lane_mask(n), p);
  const vf v = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_mask_mov_ps(_mm512_set1_ps(fill), lane_mask(n), v);
}
inline __m256i vnarrow_bf16(vf v) {
  const __m512i u = _mm512_castps_si512(v), high = _mm512_srli_epi32(u, 16);
  const __m512i lsb = _mm512_and_si512(high, _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(high, _mm512_set1_epi32(0x40)));
  return _mm512_cvtepi32_epi16(r);
}
inline void vstore_bf16(uint16_t* p, vf v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), vnarrow_bf16(v));
}
inline void vstore_bf16_part(uint16_t* p, vf v, int64_t n) {
  _mm256_mask_storeu_epi16(p, lane_mask(n), vnarrow_bf16(v));
}

struct VecSumD {
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  void add(vf v) {
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
  }
  double total() const { return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi)); }
};

#elif defined(__AVX2__)

using vf = __m256;
constexpr int64_t kLanes = 8;

inline __m256i lane_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline vf vset(float x) { return _mm256_set1_ps(x); }
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline vf vload_part(const float* p, int64_t n, float fill = 0.f) {
  const __m256i m = lane_mask(n);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
inline vf vlanes(vf v, int64_t n, float fill) {
  return _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(lane_mask(n)));
}
inline void vstore(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline void vstore_part(float* p, vf v, int64_t n) { _mm256_maskstore_ps(p, lane_mask(n), v); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf vabs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), a); }
inline float vsum(vf a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
inline float vmax_lanes(vf a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
inline vf vround(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf vpow2i(vf n) {
  const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
inline vf vrotate_pairs(vf x, vf cs) {
  const vf swapped = _mm256_permute_ps(x, 0xB1);
  return _mm256_fmaddsub_ps(x, _mm256_moveldup_ps(cs), _mm256_mul_ps(swapped, _mm256_movehdup_ps(cs)));
}

inline vf vload_bf16(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline vf vload_bf16_part(const uint16_t* p, int64_t n, float fill = 0.f) {
  alignas(16) uint16_t h[8] = {};
  for (int64_t i = 0; i < n; ++i) h[i] = p[i];
  return vlanes(vload_bf16(h), n, fill);
}
inline __m128i vnarrow_bf16(vf v) {
  const __m256i u = _mm256_castps_si256(v), high = _mm256_srli_epi32(u, 16);
  const __m256i lsb = _mm256_and_si256(high, _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  r = _mm256_blendv_epi8(r, _mm256_or_si256(high, _mm256_set1_epi32(0x40)), nan);
  // Values fit 16 bits, so the saturating pack keeps them; it works per 128-bit half.
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
  return _mm256_castsi256_si128(packed);
}
inline void vstore_bf16(uint16_t* p, vf v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), vnarrow_bf16(v));
}
inline void vstore_bf16_part(uint16_t* p, vf v, int64_t n) {
  alignas(16) uint16_t h[8];
  _mm_store_si128(reinterpret_cast<__m128i*>(h), vnarrow_bf16(v));
  for (int64_t i = 0; i < n; ++i) p[i] = h[i];
}

struct VecSumD {
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  void add(vf v) {
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  double total() const {
    const __m256d s = _mm256_add_pd(lo, hi);
    const __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
  }
};

#else

// Four lanes with the compiler's generic vectors: SSE2 on any x86-64, NEON or scalar elsewhere.
typedef float vf __attribute__((vector_size(16)));
constexpr int64_t kLanes = 4;

inline vf vset(float x) { return vf{x, x, x, x}; }
inline vf vload(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline vf vload_part(const float* p, int64_t n, float fill = 0.f) {
  vf v = vset(fill);
  for (int64_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
}
inline vf vlanes(vf v, int64_t n, float fill) {
  for (int64_t i = n; i < kLanes; ++i) v[i] = fill;
  return v;
}
inline void vstore(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
inline void vstore_part(float* p, vf v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = v[i];
}
inline vf vadd(vf a, vf b) { return a + b; }
inline vf vsub(vf a, vf b) { return a - b; }
inline vf vmul(vf a, vf b) { return a * b; }
inline vf vdiv(vf a, vf b) { return a / b; }
inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
inline vf vmin(vf a, vf b) {
  for (int i = 0; i < kLanes; ++i) b[i] = a[i] < b[i] ? a[i] : b[i];
  return b;
}
inline vf vmax(vf a, vf b) {
  for (int i = 0; i < kLanes; ++i) b[i] = a[i] > b[i] ? a[i] : b[i];
  return b;
}
inline vf vabs(vf a) {
  for (int i = 0; i < kLanes; ++i) a[i] = std::fabs(a[i]);
  return a;
}
inline float vsum(vf a) { return (a[0] + a[1]) + (a[2] + a[3]); }
inline float vmax_lanes(vf a) {
  const float m01 = a[0] > a[1] ? a[0] : a[1], m23 = a[2] > a[3] ? a[2] : a[3];
  return m01 > m23 ? m01 : m23;
}
inline vf vround(vf a) {
  for (int i = 0; i < kLanes; ++i) a[i] = std::nearbyint(a[i]);
  return a;
}
inline vf vpow2i(vf n) {
  vf r;
  for (int i = 0; i < kLanes; ++i) {
    const uint32_t bits = n[i] == n[i] ? uint32_t(int32_t(n[i]) + 127) << 23 : 0x7fc00000u;
    float f;  // through a scalar: clang takes no address of a vector element
    std::memcpy(&f, &bits, 4);
    r[i] = f;
  }
  return r;
}
inline vf vrotate_pairs(vf x, vf cs) {
  vf r;
  for (int i = 0; i < kLanes; i += 2) {
    r[i] = x[i] * cs[i] - x[i + 1] * cs[i + 1];
    r[i + 1] = x[i + 1] * cs[i] + x[i] * cs[i + 1];
  }
  return r;
}

inline vf vload_bf16_part(const uint16_t* p, int64_t n, float fill = 0.f) {
  vf v = vset(fill);
  for (int64_t i = 0; i < n; ++i) v[i] = bf16_to_f32(p[i]);
  return v;
}
inline vf vload_bf16(const uint16_t* p) { return vload_bf16_part(p, kLanes); }
inline void vstore_bf16_part(uint16_t* p, vf v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = f32_to_bf16(v[i]);
}
inline void vstore_bf16(uint16_t* p, vf v) { vstore_bf16_part(p, v, kLanes); }

struct VecSumD {
  double s[kLanes] = {};
  void add(vf v) {
    for (int i = 0; i < kLanes; ++i) s[i] += double(v[i]);
  }
  double total() const { return (s[0] + s[1]) + (s[2] + s[3]); }
};

#endif

// e^x; below -87.3 (the smallest normal result) it returns about 1.2e-38, above 88 about 1.7e38.
inline vf vexp(vf x) {
  x = vmax(vset(-87.33654f), vmin(vset(88.f), x));
  const vf n = vround(vmul(x, vset(1.44269504088896341f)));
  vf r = vfma(n, vset(-0.693359375f), x);
  r = vfma(n, vset(2.12194440e-4f), r);
  vf p = vset(1.9875691500e-4f);
  p = vfma(p, r, vset(1.3981999507e-3f));
  p = vfma(p, r, vset(8.3334519073e-3f));
  p = vfma(p, r, vset(4.1665795894e-2f));
  p = vfma(p, r, vset(1.6666665459e-1f));
  p = vfma(p, r, vset(5.0000001201e-1f));
  p = vfma(p, vmul(r, r), vadd(r, vset(1.f)));
  return vmul(p, vpow2i(n));
}

// x·sigmoid(z) = x / (1 + e^-z): no cancellation for large |z| (the result tends to 0 or x).
inline vf vmul_sigmoid(vf x, vf z) { return vdiv(x, vadd(vset(1.f), vexp(vsub(vset(0.f), z)))); }

// GELU, tanh approximation: 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³).
inline vf vgelu_tanh(vf x) {
  const vf x2 = vmul(x, x);
  const vf u2 = vmul(vmul(x, vset(2.f * 0.7978845608028654f)), vfma(x2, vset(0.044715f), vset(1.f)));
  return vmul_sigmoid(x, u2);
}

inline vf vsilu(vf x) { return vmul_sigmoid(x, x); }

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
